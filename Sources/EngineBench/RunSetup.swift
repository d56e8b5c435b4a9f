// The knobs `engine-bench results` passes through to every run of one invocation: an explicit
// layout, DGSU's ablation options, fixed rates or smaller grids, a schedule search, a row label.
import Engine
import Foundation

struct RunSetup {
    /// `--layout-weights NAME=RATIO,...` with `--layout-biases N`: a hand-written layout (as
    /// tiny-training's manual_weight_idx / weight_update_ratio / n_bias_update) for every row.
    var explicit: ExplicitLayout?
    /// `--age-horizon A`, `--importance gradient|weight`: DGSU's options (the ablation).
    var ageHorizon: Int?
    var importance: ImportanceMeasure?
    /// `--rates HEAD,BIAS,WEIGHTS`: rates fixed in advance (chosen on the held-out slice by an
    /// earlier invocation), so no search.
    var rates: LearningRates?
    /// `--head-grid`, `--bias-grid`, `--weights-grid`: per-group grids replacing the defaults.
    var headGrid: [Float]?, biasGrid: [Float]?, weightsGrid: [Float]?
    /// `--schedule-grid constant,cosine`: schedules searched with the rates.
    var scheduleGrid: [LearningRateSchedule] = []
    /// `--label TEXT`: appended to every row's label.
    var label: String?

    struct Invalid: Error, CustomStringConvertible { let description: String }

    init(_ args: [String]) throws {
        func grid(_ name: String) throws -> [Float]? {
            guard let raw = ResultsTable.value(args, name) else { return nil }
            let v = raw.split(separator: ",").compactMap { Float(String($0)) }
            guard !v.isEmpty, v.allSatisfy({ $0 > 0 }) else { throw Invalid(description: "\(name) wants positive rates separated by commas, e.g. 0.01,0.03") }
            return v
        }
        if let raw = ResultsTable.value(args, "--layout-weights") {
            var weights: [String: Double] = [:]
            for pair in raw.split(separator: ",") {
                let p = pair.split(separator: "=", maxSplits: 1).map(String.init)
                guard p.count == 2, let r = Double(p[1]) else { throw Invalid(description: "--layout-weights wants NAME=RATIO pairs, e.g. _conv_head=0.125") }
                weights[p[0]] = r
            }
            explicit = ExplicitLayout(weights: weights, biasLayers: Int(ResultsTable.value(args, "--layout-biases") ?? "12") ?? 12)
        }
        if let a = ResultsTable.value(args, "--age-horizon") {
            guard let v = Int(a), v > 0 else { throw Invalid(description: "--age-horizon wants a positive step count") }
            ageHorizon = v
        }
        if let m = ResultsTable.value(args, "--importance") {
            guard let v = ImportanceMeasure(rawValue: m) else { throw Invalid(description: "--importance is gradient or weight, not '\(m)'") }
            importance = v
        }
        if let r = try grid("--rates") {
            guard r.count == 3 else { throw Invalid(description: "--rates wants three rates: head,bias,weights") }
            rates = LearningRates(head: r[0], bias: r[1], weights: r[2])
        }
        headGrid = try grid("--head-grid"); biasGrid = try grid("--bias-grid"); weightsGrid = try grid("--weights-grid")
        if let raw = ResultsTable.value(args, "--schedule-grid") {
            let v = raw.split(separator: ",").map { LearningRateSchedule(rawValue: String($0)) }
            guard !v.contains(nil) else { throw Invalid(description: "--schedule-grid takes constant, cosine or step") }
            scheduleGrid = v.map { $0! }
        }
        label = ResultsTable.value(args, "--label")
    }

    /// Applies the layout, DGSU options and schedule search to one run's configuration.
    func apply(to c: inout FineTuneConfig) {
        if let explicit, c.policy != .dense, c.policy != .head { c.search.explicit = explicit }
        if let ageHorizon { c.policyOptions.ageHorizon = ageHorizon }
        if let importance { c.policyOptions.importance = importance }
        if !scheduleGrid.isEmpty { c.scheduleGrid = scheduleGrid }
    }

    /// The layout the int8 device fits to the run's budget, for fp32 rows run without int8 rows
    /// before them (the fp32 device trains the int8 device's layout).
    func int8Layout(_ c: FineTuneConfig) throws -> SparseLayout {
        var search = c.search
        search.dynamic = PolicyFactory.isDynamic(c.policy)
        return try LayoutSearch.fit(ModelZoo.architecture(c.model, classes: 10), budget: c.budget, height: c.resolution, width: c.resolution,
                                    memory: MemoryOptions(precision: .int8, placement: c.memory.placement, fused: c.memory.fused, batch: c.batch),
                                    options: search)
    }
}
