// The device's SRAM for a training step: one slab of exactly the budget (or, unbudgeted, of the
// step's peak), in which the trainers take their buffers at the offsets `SlabAllocator` gave
// them. A step that does not fit is refused by `arrange` before it computes anything.

/// One slab and the layout of the step that runs in it. One per trainer.
public final class DeviceSlab {
    private var base: UnsafeMutableRawPointer
    /// Bytes of the slab.
    public private(set) var capacity: Int
    /// The budget the slab stands for (nil: unbudgeted, the slab grows to each step's peak).
    public let budget: Int?
    /// The step arranged last.
    public private(set) var buffers = StepBuffers(dense: false)
    /// Its layout.
    public private(set) var layout = SlabLayout(offsets: [], sizes: [])
    /// The end of the highest byte range the step asked for since `arrange`: the measured peak.
    public private(set) var touchedEnd = 0
    private var memo: [MemoKey: (StepBuffers, SlabLayout)] = [:]

    /// Budgets up to this are allocated whole, up front; a larger one (a reference run that lifts
    /// the budget out of the way, e.g. `Int.max / 2`) still refuses above it, but its slab grows
    /// to each step's peak like an unbudgeted one's.
    public static let eagerLimit = 256 << 20

    /// A slab of exactly `budget` bytes (nil or above `eagerLimit`: grows to each step's peak).
    public init(budget: Int?) {
        self.budget = budget
        capacity = max(budget.map { $0 <= Self.eagerLimit ? $0 : 0 } ?? 0, 16)
        base = .allocate(byteCount: capacity, alignment: 16)
    }

    deinit { base.deallocate() }

    /// Lays out the step of `plan` and makes it current; throws the overflow of a step that
    /// would not fit the budget, before any buffer is touched.
    public func arrange(_ arch: Architecture, plan: UpdatePlan, height: Int, width: Int, options: MemoryOptions,
                        candidateChannels: [Int: Int]) throws {
        let key = MemoKey(shape: PlanShape(plan), size: height * 100_003 + width, options: options, candidates: candidateChannels)
        let (b, l): (StepBuffers, SlabLayout)
        if let known = memo[key] {
            (b, l) = known
        } else {
            b = StepBuffers.schedule(arch, plan: plan, height: height, width: width, options: options, candidateChannels: candidateChannels)
            l = SlabAllocator.layout(b, arch: arch, capacity: budget ?? .max)
            if memo.count > 256 { memo.removeAll() }
            memo[key] = (b, l)
        }
        if let overflow = l.overflow { throw overflow }
        if l.peak > capacity {  // unbudgeted (or a budget beyond eagerLimit): grow
            base.deallocate()
            capacity = l.peak
            base = .allocate(byteCount: capacity, alignment: 16)
        }
        buffers = b
        layout = l
        touchedEnd = 0
    }

    /// Marks the buffers the slab only reserves (writable weights, masters, the frozen front's
    /// per-sample buffers; see StepBuffers) as held: the step holds them whole.
    public func reserveStandIns() {
        for (i, b) in buffers.buffers.enumerated() where b.role.isStandIn { touchedEnd = max(touchedEnd, layout.offsets[i] + b.bytes) }
    }

    /// The slab a trainer runs a step of `batch` samples in: `slab` itself when `memory` has
    /// the same budget (else a new one of it), arranged for `plan`. `precision` is what the
    /// trainer computes in, which `memory` must count in. Throws the overflow of a step that does
    /// not fit, before anything is touched.
    static func forStep(_ slab: DeviceSlab, memory: StepMemory?, precision: Precision, trainer: String, arch: Architecture, plan: UpdatePlan,
                        batch: Int, height: Int, width: Int) throws -> DeviceSlab {
        var options = memory?.options ?? MemoryOptions(precision: precision)
        precondition(options.precision == precision,
                     "\(trainer).step: this trainer computes in \(precision.rawValue) but the memory model counts \(options.precision.rawValue)")
        options.batch = batch
        let s = slab.budget == memory?.budget ? slab : DeviceSlab(budget: memory?.budget)
        try s.arrange(arch, plan: plan, height: height, width: width, options: options, candidateChannels: memory?.candidateChannels ?? [:])
        return s
    }

    /// Whether the current step has a buffer for `role`.
    public func has(_ role: BufferRole) -> Bool { buffers.index[role] != nil }

    /// `count` values of `T` in the buffer of `role` (which must hold them).
    public func buffer<T>(_ role: BufferRole, _ count: Int, as _: T.Type = T.self) -> UnsafeMutablePointer<T> {
        guard let i = buffers.index[role] else { preconditionFailure("DeviceSlab: the step has no buffer for \(role)") }
        let bytes = count * MemoryLayout<T>.stride
        precondition(bytes <= buffers.buffers[i].bytes, "DeviceSlab: \(role) holds \(buffers.buffers[i].bytes) B, the step asked for \(bytes) B")
        touchedEnd = max(touchedEnd, layout.offsets[i] + bytes)
        return (base + layout.offsets[i]).bindMemory(to: T.self, capacity: max(count, 1))
    }

    /// `count` floats of `role`.
    public func floats(_ role: BufferRole, _ count: Int) -> UnsafeMutablePointer<Float> { buffer(role, count) }

    /// `count` int8 values of `role`.
    public func int8(_ role: BufferRole, _ count: Int) -> UnsafeMutablePointer<Int8> { buffer(role, count) }

    /// `count` bytes of `role`.
    public func bytes(_ role: BufferRole, _ count: Int) -> UnsafeMutablePointer<UInt8> { buffer(role, count) }

    /// Tests: every byte of the slab set to `value`.
    func fill(_ value: UInt8) { base.initializeMemory(as: UInt8.self, repeating: value, count: capacity) }

    /// Tests: the offset past the last byte that differs from `value` (0: none does).
    func writtenEnd(unlike value: UInt8) -> Int {
        let p = base.assumingMemoryBound(to: UInt8.self)
        var end = capacity
        while end > 0 && p[end - 1] == value { end -= 1 }
        return end
    }

    private struct MemoKey: Hashable {
        var shape: PlanShape, size: Int, options: MemoryOptions, candidates: [Int: Int]
    }
}

/// What a step's memory depends on in a plan: how many channels of each unit, which biases, the
/// classifier, dense — not which channels.
public struct PlanShape: Hashable, Sendable {
    public var channelCounts: [Int: Int]
    public var biasUnits: Set<Int>
    public var classifier: Bool
    public var dense: Bool

    /// The shape of `plan`.
    public init(_ plan: UpdatePlan) {
        channelCounts = plan.weightChannels.mapValues(\.count)
        biasUnits = plan.biasUnits
        classifier = plan.trainClassifier
        dense = plan.dense
    }
}
