// `node plan`: the memory plan of one device step for a budget, as a table or JSON.
import ArgumentParser
import Engine
import Foundation

struct PlanCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "plan",
        abstract: "Fit a sparse-update layout to a memory budget and print the device's memory plan.",
        discussion: "The planner is the single source of truth for what a device needs: the trainer's arena measures the same bytes (tested).")

    @Option(help: "Model: \(ModelName.allCases.map(\.rawValue).joined(separator: ", ")).")
    var model: ModelName = .efficientNetLite0

    @Option(help: "Number of classes.")
    var classes: Int = 10

    @Option(help: "Input resolution (square).")
    var resolution: Int = 64

    @Option(help: "Policy whose layout to plan: \(PolicyKind.allCases.map(\.rawValue).joined(separator: ", ")).")
    var policy: PolicyKind = .dgsu

    @Option(help: "Samples per step.")
    var batch: Int = 1

    @OptionGroup var memory: MemoryArguments

    @Flag(help: "Print JSON instead of a table.")
    var json = false

    func validate() throws {
        if resolution < 8 { throw ValidationError("--resolution must be at least 8") }
        if classes < 2 { throw ValidationError("--classes must be at least 2") }
        if batch < 1 { throw ValidationError("--batch must be at least 1") }
    }

    func run() throws {
        let arch = ModelZoo.architecture(model, classes: classes)
        let options = memory.options(batch: batch)
        let dynamic = PolicyFactory.isDynamic(policy)
        let layout: SparseLayout
        let plan: UpdatePlan
        switch policy {
        case .dense: layout = SparseLayout(); plan = .denseAll(arch)
        case .head: layout = SparseLayout(); plan = UpdatePlan(trainClassifier: true)
        default:
            do {
                layout = try LayoutSearch.fit(arch, budget: memory.budget.bytes, height: resolution, width: resolution,
                                              memory: options, options: memory.search(dynamic: dynamic))
            } catch let error as BudgetTooSmall {
                throw ValidationError(error.description)
            }
            plan = policy == .bias ? UpdatePlan(biasUnits: Set(layout.biasUnits)) : LayoutSearch.representativePlan(layout)
        }
        let report = MemoryPlanner.plan(arch, plan: plan, height: resolution, width: resolution, options: options,
                                        candidateChannels: LayoutSearch.candidates(layout, arch: arch, dynamic: dynamic))
        let dense = MemoryPlanner.plan(arch, plan: .denseAll(arch), height: resolution, width: resolution, options: options)
        if json {
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
            struct Output: Encodable { let layout: SparseLayout; let report: MemoryReport; let denseFeatureMemory: Int; let fits: Bool }
            print(String(decoding: try encoder.encode(Output(layout: layout, report: report, denseFeatureMemory: dense.featurePeak,
                                                             fits: report.peak <= memory.budget.bytes)), as: UTF8.self))
            return
        }
        print("\(arch.name) \(resolution)x\(resolution), policy \(policy.rawValue), batch \(batch), \(options.precision.rawValue), weights in \(options.placement.rawValue)\(options.fused ? ", fused updates" : "")")
        print("")
        func row(_ cells: [String]) -> String {
            cells[0].padding(toLength: 32, withPad: " ", startingAt: 0)
                + cells.dropFirst().map { String(repeating: " ", count: max(0, 11 - $0.count)) + $0 }.joined()
        }
        print(row(["unit (bytes)", "output", "saved", "mask", "gradients", "weights"]))
        for u in report.units where u.savedBytes + u.maskBytes + u.gradientBytes + u.weightBytes > 0 {
            print(row([u.name, "\(u.outputBytes)", "\(u.savedBytes)", "\(u.maskBytes)", "\(u.gradientBytes)", "\(u.weightBytes)"]))
        }
        print("")
        print("peak            \(ByteSize.format(report.peak)) (\(report.peak) B) at \(report.peakAt)")
        for (kind, bytes) in report.peakBreakdown.sorted(by: { $0.value > $1.value }) where bytes > 0 {
            print("  \(kind.padding(toLength: 20, withPad: " ", startingAt: 0)) \(ByteSize.format(bytes))")
        }
        let saving = 100 * (1 - Double(report.featurePeak) / Double(dense.featurePeak))
        print(String(format: "feature memory  %@ kept for backward vs %@ for dense training (%.1f %% less)", ByteSize.format(report.featurePeak), ByteSize.format(dense.featurePeak), saving))
        print(String(format: "updated per step %.2f %% of conv weights", 100 * Double(layout.weightChannels.reduce(0) { acc, kv in
            let s = arch.units[kv.key]; return acc + (s.isDepthwise ? 1 : s.outChannels) * kv.value * s.kernel * s.kernel
        }) / Double(SparseLayout.convWeightCount(arch))))
        let budget = memory.budget.bytes
        if report.peak <= budget {
            print("fits the \(ByteSize.format(budget)) budget with \(ByteSize.format(budget - report.peak)) to spare")
        } else {
            print("does NOT fit the \(ByteSize.format(budget)) budget: over by \(report.peak - budget) B at \(report.peakAt)")
            throw ExitCode.failure
        }
    }
}
