import XCTest
@testable import Engine

/// `cblas_sgemm` against a naive triple loop, including transposes and non-square shapes.
final class BLASTests: XCTestCase {
    func naive(_ a: [Float], _ b: [Float], m: Int, n: Int, k: Int, transA: Bool, transB: Bool) -> [Float] {
        var c = [Float](repeating: 0, count: m * n)
        for i in 0..<m {
            for j in 0..<n {
                var s: Double = 0
                for p in 0..<k {
                    let av = transA ? a[p * m + i] : a[i * k + p]
                    let bv = transB ? b[j * k + p] : b[p * n + j]
                    s += Double(av) * Double(bv)
                }
                c[i * n + j] = Float(s)
            }
        }
        return c
    }

    func testSgemmMatchesNaiveLoop() {
        var rng = SplitMix64(seed: 42)
        for (m, n, k) in [(1, 1, 1), (3, 5, 7), (17, 9, 33), (64, 16, 96)] {
            for transA in [false, true] {
                for transB in [false, true] {
                    let a = (0..<m * k).map { _ in rng.nextFloat(in: -1...1) }
                    let b = (0..<k * n).map { _ in rng.nextFloat(in: -1...1) }
                    var c = [Float](repeating: 0, count: m * n)
                    BLAS.sgemm(transA: transA, transB: transB, m: m, n: n, k: k,
                               a: a, lda: transA ? m : k, b: b, ldb: transB ? k : n, c: &c, ldc: n)
                    let ref = naive(a, b, m: m, n: n, k: k, transA: transA, transB: transB)
                    for i in 0..<c.count {
                        // fp32 accumulation over k ≤ 96 terms of magnitude ≤ 1: 1e-4 absolute is ample.
                        XCTAssertEqual(c[i], ref[i], accuracy: 1e-4, "m=\(m) n=\(n) k=\(k) tA=\(transA) tB=\(transB) i=\(i)")
                    }
                }
            }
        }
    }

    func testSingleThreadedByDefault() {
        if ProcessInfo.processInfo.environment["SPARSEFLEET_BLAS_THREADS"] == nil {
            XCTAssertEqual(BLAS.threads, 1)
        }
        XCTAssertFalse(BLAS.coreName.isEmpty)
    }
}
