// Thin, typed wrappers over OpenBLAS's CBLAS.
// Layout: row-major everywhere (C = A·B with A: [M,K], B: [K,N], C: [M,N]).
import COpenBLAS
import Foundation

/// Process-wide BLAS configuration.
///
/// A fleet runs many processes on few cores, so every SparseFleet process uses
/// single-threaded OpenBLAS unless `SPARSEFLEET_BLAS_THREADS` says otherwise.
public enum BLAS {
    /// Thread count in force; set once, on first use of any BLAS routine.
    public static let threads: Int = {
        _ = KernelFamily.repaired
        var n = 1
        if let raw = getenv("SPARSEFLEET_BLAS_THREADS"), let v = Int(String(cString: raw)), v > 0 {
            n = v
        }
        openblas_set_num_threads(Int32(n))
        return n
    }()

    /// The OpenBLAS kernel family in force (e.g. "Haswell", "SkylakeX"), after `KernelFamily`
    /// repaired a fallback to "Prescott".
    public static var coreName: String {
        _ = KernelFamily.repaired
        return detectedCoreName
    }

    /// The family OpenBLAS's dispatch table holds right now.
    static var detectedCoreName: String {
        guard let p = openblas_get_corename() else { return "unknown" }
        return String(cString: p)
    }

    /// `C[M,N] = alpha * op(A) · op(B) + beta * C`, row-major, leading dimensions given.
    @inlinable
    public static func sgemm(
        transA: Bool = false, transB: Bool = false,
        m: Int, n: Int, k: Int,
        alpha: Float = 1,
        a: UnsafePointer<Float>, lda: Int,
        b: UnsafePointer<Float>, ldb: Int,
        beta: Float = 0,
        c: UnsafeMutablePointer<Float>, ldc: Int
    ) {
        _ = threads
        precondition(m >= 0 && n >= 0 && k >= 0, "sgemm: negative dimension m=\(m) n=\(n) k=\(k)")
        if m == 0 || n == 0 { return }
        cblas_sgemm(CblasRowMajor,
                    transA ? CblasTrans : CblasNoTrans,
                    transB ? CblasTrans : CblasNoTrans,
                    Int32(m), Int32(n), Int32(k), alpha,
                    a, Int32(lda), b, Int32(ldb), beta, c, Int32(ldc))
    }
}
