// Fully connected layer in the engine's feature-major layout.
// Layout: x [F][N], y [O][N], weight [O][F] (PyTorch's layout), bias [O].

/// The classifier layer.
public enum Linear {
    /// `y = W·x + b`.
    public static func forward(y: UnsafeMutablePointer<Float>, x: UnsafePointer<Float>, weight: UnsafePointer<Float>,
                               bias: UnsafePointer<Float>?, inFeatures f: Int, outFeatures o: Int, batch n: Int) {
        BLAS.sgemm(m: o, n: n, k: f, a: weight, lda: f, b: x, ldb: n, c: y, ldc: n)
        if let bias { Conv2D.addBias(y: y, bias: bias, channels: o, plane: n) }
    }

    /// `dx = Wᵀ·dy` (overwrites dx).
    public static func backwardInput(dx: UnsafeMutablePointer<Float>, dy: UnsafePointer<Float>, weight: UnsafePointer<Float>,
                                     inFeatures f: Int, outFeatures o: Int, batch n: Int) {
        BLAS.sgemm(transA: true, m: f, n: n, k: o, a: weight, lda: f, b: dy, ldb: n, c: dx, ldc: n)
    }

    /// Accumulates `dW += dy·xᵀ` and `db += Σₙ dy`.
    public static func backwardParams(dweight: UnsafeMutablePointer<Float>, dbias: UnsafeMutablePointer<Float>?,
                                      dy: UnsafePointer<Float>, x: UnsafePointer<Float>,
                                      inFeatures f: Int, outFeatures o: Int, batch n: Int) {
        BLAS.sgemm(transB: true, m: o, n: f, k: n, a: dy, lda: n, b: x, ldb: n, beta: 1, c: dweight, ldc: f)
        if let dbias { Conv2D.backwardBias(dbias: dbias, dy: dy, channels: o, plane: n) }
    }
}
