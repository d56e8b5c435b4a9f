// Global average pooling: x [C][N][H][W] → y [C][N] (feature-major, as the classifier reads it).

/// Global average pooling over each plane.
public enum GlobalAvgPool {
    /// `y[c][n] = mean(x[c][n][:][:])`.
    public static func forward(y: UnsafeMutablePointer<Float>, x: UnsafePointer<Float>, channels: Int, batch: Int, plane: Int) {
        let inv = 1 / Float(plane)
        for i in 0..<channels * batch {
            let p = x + i * plane
            var s: Float = 0
            for j in 0..<plane { s += p[j] }
            y[i] = s * inv
        }
    }

    /// `dx[c][n][h][w] = dy[c][n] / (H·W)` (overwrites dx).
    public static func backward(dx: UnsafeMutablePointer<Float>, dy: UnsafePointer<Float>, channels: Int, batch: Int, plane: Int) {
        let inv = 1 / Float(plane)
        for i in 0..<channels * batch {
            (dx + i * plane).update(repeating: dy[i] * inv, count: plane)
        }
    }
}
