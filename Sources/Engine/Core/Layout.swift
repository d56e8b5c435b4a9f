// Conversions between PyTorch's NCHW (batch-major) and the engine's CNHW (channel-major).

/// Layout conversions at the engine's boundary.
public enum Layout {
    /// [N][C][plane] → [C][N][plane].
    public static func nchwToCnhw(_ x: [Float], batch n: Int, channels c: Int, plane: Int) -> [Float] {
        precondition(x.count == n * c * plane, "Layout: \(x.count) values, expected \(n)·\(c)·\(plane)")
        var out = [Float](repeating: 0, count: x.count)
        x.withUnsafeBufferPointer { src in
            out.withUnsafeMutableBufferPointer { dst in
                for b in 0..<n {
                    for ch in 0..<c {
                        (dst.baseAddress! + (ch * n + b) * plane).update(from: src.baseAddress! + (b * c + ch) * plane, count: plane)
                    }
                }
            }
        }
        return out
    }

    /// [C][N][plane] → [N][C][plane].
    public static func cnhwToNchw(_ x: [Float], batch n: Int, channels c: Int, plane: Int) -> [Float] {
        // The same permutation with the roles of N and C swapped.
        nchwToCnhw(x, batch: c, channels: n, plane: plane)
    }
}
