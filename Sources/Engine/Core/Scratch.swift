// Grow-only scratch memory reused across calls, so hot loops never allocate.

/// A reusable Float buffer; `floats(n)` returns at least `n` writable values (contents undefined).
public final class Scratch {
    private var storage: UnsafeMutablePointer<Float>
    private var capacity: Int

    /// An empty scratch buffer.
    public init() {
        capacity = 0
        storage = .allocate(capacity: 1)
    }

    deinit { storage.deallocate() }

    /// A pointer to at least `count` Floats, valid until the next call.
    public func floats(_ count: Int) -> UnsafeMutablePointer<Float> {
        if count > capacity {
            storage.deallocate()
            capacity = max(count, capacity * 2)
            storage = .allocate(capacity: capacity)
        }
        return storage
    }
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
