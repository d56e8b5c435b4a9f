// The memory planner: what one device training step holds in SRAM, worked out from the
// architecture and the plan before anything runs (ggml's planner, llm.c's fill_in_sizes). It is
// the layout of the step's schedule (`StepBuffers`, which describes the step) in one slab
// (`SlabAllocator`): the same layout the trainers then compute in (`DeviceSlab`), so its peak is
// the slab's high-water mark, fragmentation included.

/// The memory of one unit in a plan.
public struct UnitMemory: Equatable, Sendable, Codable {
    /// Unit name.
    public var name: String
    /// Output activation bytes at the batch it runs at.
    public var outputBytes: Int
    /// Selected input maps (or BN x̂) kept for backward.
    public var savedBytes: Int
    /// ReLU6 mask bytes kept for backward.
    public var maskBytes: Int
    /// Weight + bias gradient buffer bytes.
    public var gradientBytes: Int
    /// Writable weight bytes (flash placement).
    public var weightBytes: Int
}

/// The planner's verdict for one plan.
public struct MemoryReport: Equatable, Sendable, Codable {
    /// Peak SRAM bytes of the step.
    public var peak: Int
    /// The allocation at which the peak is reached.
    public var peakAt: String
    /// Live bytes per kind at the peak.
    public var peakBreakdown: [String: Int]
    /// Feature memory: the peak of activations kept for backward (saved maps, BN x̂, pooled
    /// features, ReLU6 masks) — what dense training must store per layer and sparse training avoids.
    public var featurePeak: Int
    /// Per-unit figures.
    public var units: [UnitMemory]
    /// The options used.
    public var options: MemoryOptions
    /// The first allocation over the budget the plan was checked against, if any.
    public var overflow: MemoryOverflow? = nil

    /// Whether the plan fits `budget`.
    public func fits(_ budget: Int) -> Bool { peak <= budget }
}

/// Computes `MemoryReport`s.
public enum MemoryPlanner {
    /// Plans one training step of `plan` on `arch` for `height`×`width` inputs.
    /// - Parameter candidateChannels: unit → how many input channels may be updated over the run
    ///   (counts writable weights under flash placement): k for static policies, all for dynamic
    ///   ones. Units absent here default to the plan's channel count.
    /// - Parameter budget: the report's `overflow` names the first buffer that ends past it.
    public static func plan(_ arch: Architecture, plan: UpdatePlan, height: Int, width: Int,
                            options: MemoryOptions = MemoryOptions(), candidateChannels: [Int: Int] = [:], budget: Int = .max) -> MemoryReport {
        let buffers = StepBuffers.schedule(arch, plan: plan, height: height, width: width, options: options, candidateChannels: candidateChannels)
        let layout = SlabAllocator.layout(buffers, arch: arch, capacity: budget)
        return report(buffers, layout, arch: arch, options: options)
    }

    /// The report of a laid-out step.
    public static func report(_ buffers: StepBuffers, _ layout: SlabLayout, arch: Architecture, options: MemoryOptions) -> MemoryReport {
        var rows = arch.units.map { UnitMemory(name: $0.name, outputBytes: 0, savedBytes: 0, maskBytes: 0, gradientBytes: 0, weightBytes: 0) }
        for b in buffers.buffers {
            switch b.role {
            case let .output(u): rows[u].outputBytes = b.bytes
            case let .saved(u): rows[u].savedBytes = b.bytes
            case let .mask(u): rows[u].maskBytes = b.bytes
            case let .writableWeights(u): rows[u].weightBytes = b.bytes
            case let .bnGradient(u), let .biasGradient(u), let .weightGradient(u): rows[u].gradientBytes += b.bytes
            default: break
            }
        }
        return MemoryReport(peak: layout.peak, peakAt: layout.peakAt,
                            peakBreakdown: Dictionary(uniqueKeysWithValues: layout.peakBreakdown.map { ($0.key.rawValue, $0.value) }),
                            featurePeak: layout.featurePeak, units: rows, options: options, overflow: layout.overflow)
    }
}
