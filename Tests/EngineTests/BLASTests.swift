import Foundation
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

/// The repair of OpenBLAS's fallback to its SSE3 kernels on CPUs it does not know.
final class KernelFamilyTests: XCTestCase {
    let avx512: Set<String> = ["sse3", "avx2", "fma", "avx512f", "avx512bw", "avx512vl", "avx512dq"]

    func testAFallbackToPrescottIsRepairedWithTheBestFamilyTheCPUHas() {
        XCTAssertEqual(KernelFamily.choice(detected: "Prescott", userChoice: nil, flags: avx512), "SkylakeX")
        XCTAssertEqual(KernelFamily.choice(detected: "Prescott", userChoice: nil, flags: ["sse3", "avx2", "fma"]), "Haswell")
        XCTAssertNil(KernelFamily.choice(detected: "Prescott", userChoice: nil, flags: ["sse3"]), "an old CPU keeps Prescott")
    }

    func testAKnownCPUOrTheUsersChoiceIsLeftAlone() {
        XCTAssertNil(KernelFamily.choice(detected: "Cooperlake", userChoice: nil, flags: avx512))
        XCTAssertNil(KernelFamily.choice(detected: "Zen", userChoice: nil, flags: avx512))
        XCTAssertNil(KernelFamily.choice(detected: "Prescott", userChoice: "Prescott", flags: avx512))
    }

    /// Whatever family is in force after the repair, it is not the fallback on a CPU with AVX2, and
    /// it computes (the sgemm test above runs on the same kernels).
    func testTheKernelsInForceAreNotTheFallbackOnAModernCPU() {
        let flags = KernelFamily.cpuFlags()
        _ = BLAS.coreName
        if ProcessInfo.processInfo.environment["OPENBLAS_CORETYPE"] == nil, flags.contains("avx2"), flags.contains("fma") {
            XCTAssertNotEqual(BLAS.coreName.lowercased(), "prescott", KernelFamily.note)
        }
        let a: [Float] = [1, 2, 3, 4], b: [Float] = [5, 6, 7, 8]
        var c = [Float](repeating: 0, count: 4)
        BLAS.sgemm(m: 2, n: 2, k: 2, a: a, lda: 2, b: b, ldb: 2, c: &c, ldc: 2)
        XCTAssertEqual(c, [19, 22, 43, 50])
    }
}
