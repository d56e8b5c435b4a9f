// Grow-only scratch memory reused across calls, so hot loops never allocate.

/// A reusable typed buffer; `get(n)` returns at least `n` writable values (contents undefined).
public final class TypedScratch<T> {
    private var storage: UnsafeMutablePointer<T>
    private var capacity = 0

    /// An empty buffer.
    public init() { storage = .allocate(capacity: 1) }
    deinit { storage.deallocate() }

    /// At least `count` values, valid until the next call.
    public func get(_ count: Int) -> UnsafeMutablePointer<T> {
        if count > capacity {
            storage.deallocate()
            capacity = max(count, capacity * 2)
            storage = .allocate(capacity: capacity)
        }
        return storage
    }
}

/// A reusable Float buffer; `floats(n)` returns at least `n` writable values (contents undefined).
public typealias Scratch = TypedScratch<Float>

extension TypedScratch where T == Float {
    /// A pointer to at least `count` Floats, valid until the next call.
    public func floats(_ count: Int) -> UnsafeMutablePointer<Float> { get(count) }
}

/// Scratch buffers for the several temporaries one layer call may need at once.
public final class Workspace {
    /// Temporary for im2col matrices.
    public let col = Scratch()
    /// Temporary for gathered rows, padded planes and column gradients.
    public let aux = Scratch()
    /// Temporary for a second gathered operand.
    public let aux2 = Scratch()

    /// A workspace with empty buffers.
    public init() {}
}
