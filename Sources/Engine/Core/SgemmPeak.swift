// This core's sgemm peak, measured: the yardstick a training step's FLOPs are compared with
// (`node bench`, `engine-bench`).
import Dispatch

/// The measured single-call sgemm rate.
public enum SgemmPeak {
    /// GFLOP/s of the median of `runs` sgemm calls of m×k · k×n (after 3 warm-up calls), on this
    /// process's BLAS threads (one in a fleet process). 512×1024×512 is a pointwise-conv-like shape
    /// large enough to reach OpenBLAS's peak.
    public static func measure(m: Int = 512, n: Int = 1024, k: Int = 512, runs: Int = 30) -> Double {
        let a = [Float](repeating: 0.5, count: m * k), b = [Float](repeating: 0.25, count: k * n)
        var c = [Float](repeating: 0, count: m * n)
        var times: [Double] = []
        for i in 0..<(runs + 3) {
            let t0 = DispatchTime.now().uptimeNanoseconds
            a.withUnsafeBufferPointer { pa in
                b.withUnsafeBufferPointer { pb in
                    c.withUnsafeMutableBufferPointer { pc in
                        BLAS.sgemm(m: m, n: n, k: k, a: pa.baseAddress!, lda: k, b: pb.baseAddress!, ldb: n, c: pc.baseAddress!, ldc: n)
                    }
                }
            }
            if i >= 3 { times.append(Double(DispatchTime.now().uptimeNanoseconds - t0) / 1e9) }
        }
        return 2.0 * Double(m * n * k) / times.sorted()[times.count / 2] / 1e9
    }
}
