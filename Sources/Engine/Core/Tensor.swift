// A dense Float32 tensor: a shape and a contiguous row-major buffer.
// Convolutional tensors are NCHW; conv weights are [C_out, C_in/groups, KH, KW].

/// A contiguous, row-major Float32 tensor with value semantics.
public struct Tensor: Equatable, Sendable {
    /// Dimensions, outermost first.
    public var shape: [Int]
    /// Values in row-major order; `data.count == shape.reduce(1, *)`.
    public var data: [Float]

    /// A zero-filled tensor of the given shape.
    public init(zeros shape: [Int]) {
        precondition(shape.allSatisfy { $0 >= 0 }, "Tensor: negative dimension in \(shape)")
        self.shape = shape
        self.data = [Float](repeating: 0, count: shape.reduce(1, *))
    }

    /// A tensor wrapping `data`; the count must match the shape.
    public init(shape: [Int], data: [Float]) {
        precondition(shape.reduce(1, *) == data.count,
                     "Tensor: shape \(shape) needs \(shape.reduce(1, *)) values, got \(data.count)")
        self.shape = shape
        self.data = data
    }

    /// Number of elements.
    @inlinable public var count: Int { data.count }
}
