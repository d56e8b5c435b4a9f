// Choosing the trainable layers for a memory budget.
//
// Greedy rule (documented in README "Sparse update"):
//   1. Start from the classifier alone; if even that does not fit, refuse with the planner's peak.
//   2. Biases: train the biases of the last n convs, for the largest n ≤ `maxBiasUnits` that fits.
//   3. Weights: walk the pointwise convs inside that bias region from the last one backwards and
//      add each with `ratio` of its input channels if the plan still fits; stop after
//      `maxWeightLayers` layers.
// Later layers go first: their activations are small (late resolution), and they are the most
// task-specific. Dynamic policies (dgsu, random) under flash placement count every channel of an
// update layer as writable, so they get fewer layers at the same budget than static.

/// Why no plan fits.
public struct BudgetTooSmall: Error, CustomStringConvertible, Equatable {
    /// The budget in bytes.
    public var budget: Int
    /// The smallest plan's peak (classifier only).
    public var smallestPeak: Int
    /// Where that peak occurs.
    public var at: String

    public var description: String {
        "a \(budget)-byte budget cannot hold even a classifier-only step: it needs \(smallestPeak) B at \(at) "
            + "(over by \(smallestPeak - budget) B). Raise the budget, lower the input resolution, or use --precision int8."
    }
}

/// Search knobs for `LayoutSearch.fit`.
public struct LayoutSearchOptions: Equatable, Sendable, Codable {
    /// Most conv biases to train (counted from the last conv).
    public var maxBiasUnits: Int = 12
    /// Most convs whose weights train.
    public var maxWeightLayers: Int = 4
    /// Fraction of a layer's input channels trained per step.
    public var ratio: Double = 0.125
    /// Whether channels change during the run (dgsu, random): every channel must be writable under flash.
    public var dynamic: Bool = true
    /// A hand-written layout used instead of the search (nil: search within the budget).
    public var explicit: ExplicitLayout? = nil

    /// Defaults: up to 12 biases, 4 weight layers at 1/8 of their channels.
    public init(maxBiasUnits: Int = 12, maxWeightLayers: Int = 4, ratio: Double = 0.125, dynamic: Bool = true, explicit: ExplicitLayout? = nil) {
        self.maxBiasUnits = maxBiasUnits; self.maxWeightLayers = maxWeightLayers; self.ratio = ratio; self.dynamic = dynamic
        self.explicit = explicit
    }
}

/// Budget-driven layer selection.
public enum LayoutSearch {
    /// The plan a layout produces for memory purposes (the first k channels stand for any k).
    public static func representativePlan(_ layout: SparseLayout) -> UpdatePlan {
        UpdatePlan(biasUnits: Set(layout.biasUnits),
                   weightChannels: layout.weightChannels.mapValues { (0..<Int32($0)).map { $0 } },
                   trainClassifier: layout.trainClassifier)
    }

    /// Writable candidate channels per weight-trained unit (all of them when dynamic).
    public static func candidates(_ layout: SparseLayout, arch: Architecture, dynamic: Bool) -> [Int: Int] {
        layout.weightChannels.mapValues { $0 }.reduce(into: [:]) { out, kv in
            out[kv.key] = dynamic ? arch.units[kv.key].inChannels : kv.value
        }
    }

    /// The planner's report for a layout.
    public static func report(_ layout: SparseLayout, arch: Architecture, height: Int, width: Int,
                              memory: MemoryOptions, dynamic: Bool) -> MemoryReport {
        MemoryPlanner.plan(arch, plan: representativePlan(layout), height: height, width: width, options: memory,
                           candidateChannels: candidates(layout, arch: arch, dynamic: dynamic))
    }

    /// The largest layout (by the greedy rule above) whose step fits `budget` bytes.
    public static func fit(_ arch: Architecture, budget: Int, height: Int, width: Int,
                           memory: MemoryOptions = MemoryOptions(), options: LayoutSearchOptions = LayoutSearchOptions()) throws -> SparseLayout {
        func fits(_ l: SparseLayout) -> MemoryReport? {
            let r = report(l, arch: arch, height: height, width: width, memory: memory, dynamic: options.dynamic)
            return r.peak <= budget ? r : nil
        }
        if let explicit = options.explicit {
            let layout = try explicit.layout(arch)
            let r = report(layout, arch: arch, height: height, width: width, memory: memory, dynamic: options.dynamic)
            guard r.peak <= budget else {
                throw ExplicitLayoutError("the explicit layout needs \(r.peak) B at \(r.peakAt), over the \(budget)-byte budget by \(r.peak - budget) B; "
                                          + "lower its ratios or bias layers, or raise the budget", layout: layout, missingBytes: r.peak - budget)
            }
            return layout
        }
        var layout = SparseLayout()
        if fits(layout) == nil {
            let r = report(layout, arch: arch, height: height, width: width, memory: memory, dynamic: options.dynamic)
            throw BudgetTooSmall(budget: budget, smallestPeak: r.peak, at: r.peakAt)
        }
        let n = arch.units.count
        for count in stride(from: min(options.maxBiasUnits, n), through: 1, by: -1) {
            let candidate = SparseLayout(biasUnits: Array((n - count)..<n))
            if fits(candidate) != nil { layout = candidate; break }
        }
        var added = 0
        for u in (0..<n).reversed() where layout.biasUnits.contains(u) && arch.units[u].isPointwise {
            guard added < options.maxWeightLayers else { break }
            var candidate = layout
            candidate.weightChannels[u] = max(1, Int((Double(arch.units[u].inChannels) * options.ratio).rounded()))
            if fits(candidate) != nil { layout = candidate; added += 1 }
        }
        return layout
    }
}
