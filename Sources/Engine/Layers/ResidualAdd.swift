// Residual connection: y += x. Its backward is the identity on both branches.

/// Elementwise residual addition.
public enum ResidualAdd {
    /// `y[i] += x[i]`.
    @inlinable
    public static func forward(y: UnsafeMutablePointer<Float>, x: UnsafePointer<Float>, count: Int) {
        for i in 0..<count { y[i] += x[i] }
    }

    /// Accumulates the gradient flowing into the shortcut: `dx[i] += dy[i]`.
    @inlinable
    public static func backward(dx: UnsafeMutablePointer<Float>, dy: UnsafePointer<Float>, count: Int) {
        for i in 0..<count { dx[i] += dy[i] }
    }
}
