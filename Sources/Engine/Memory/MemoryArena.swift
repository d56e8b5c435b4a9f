// An arena of a fixed byte budget that the trainer allocates its device buffers from.
// It counts what a device would hold (in device byte widths), tracks the peak and where it
// happened, and refuses to go over the budget.

/// What kind of buffer an allocation is, for the breakdown.
public enum BufferKind: String, Sendable, Codable, CaseIterable {
    /// Activations of the forward pass that are live now (inputs, outputs, shortcuts, logits).
    case working
    /// Activations kept for backward (selected input channels, BN x̂, pooled features).
    case saved
    /// 1-bit ReLU6 masks kept for backward.
    case mask
    /// Activation gradients flowing backward.
    case activationGradient
    /// Weight and bias gradient buffers.
    case parameterGradient
    /// Writable copies of weights that may be updated.
    case weights
    /// The stored outputs of the frozen front for the batch.
    case prefixStore
}

/// Thrown when a step would exceed its budget.
public struct MemoryOverflow: Error, CustomStringConvertible, Equatable, Sendable, Codable {
    /// Budget in bytes.
    public var budget: Int
    /// Bytes that would be live.
    public var needed: Int
    /// The buffer being allocated, e.g. `_blocks.15._project_conv saved input`.
    public var at: String

    public var description: String {
        "memory budget exceeded at \(at): needs \(needed) B, budget \(budget) B (over by \(needed - budget) B). "
            + "Raise the budget, lower the channel ratio or the number of trained layers, or use --precision int8 / external weights."
    }
}

/// A byte-counting allocator with a hard budget.
public final class MemoryArena {
    /// The budget in bytes.
    public let budget: Int
    /// Bytes live now.
    public private(set) var live = 0
    /// Highest `live` seen.
    public private(set) var peak = 0
    /// The allocation that set the peak.
    public private(set) var peakAt = ""
    /// Live bytes per kind at the moment of the peak.
    public private(set) var peakBreakdown: [BufferKind: Int] = [:]
    /// The first overflow, if any (allocation continues so the whole step can be reported).
    public private(set) var overflow: MemoryOverflow?
    private var liveByKind: [BufferKind: Int] = [:]
    private var handles: [Int: (Int, BufferKind)] = [:]
    private var nextHandle = 1

    /// An empty arena of `budget` bytes.
    public init(budget: Int) { self.budget = budget }

    /// Allocates `bytes` and returns a handle to free them with.
    @discardableResult
    public func allocate(_ bytes: Int, _ kind: BufferKind, _ label: @autoclosure () -> String) -> Int {
        precondition(bytes >= 0, "MemoryArena: negative allocation")
        live += bytes
        liveByKind[kind, default: 0] += bytes
        let h = nextHandle
        nextHandle += 1
        handles[h] = (bytes, kind)
        if live > peak {
            peak = live
            peakAt = label()
            peakBreakdown = liveByKind
        }
        if live > budget && overflow == nil { overflow = MemoryOverflow(budget: budget, needed: live, at: label()) }
        return h
    }

    /// Frees an allocation (0 is a no-op handle).
    public func free(_ handle: Int) {
        guard handle != 0 else { return }
        guard let (bytes, kind) = handles.removeValue(forKey: handle) else { preconditionFailure("MemoryArena: double free") }
        live -= bytes
        liveByKind[kind, default: 0] -= bytes
    }

    /// Frees everything (end of step); the peak is kept.
    public func reset() {
        handles.removeAll()
        liveByKind.removeAll()
        live = 0
    }
}
