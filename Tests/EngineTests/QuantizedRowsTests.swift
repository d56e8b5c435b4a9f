// The vectorised per-row int8 quantisation against the scalar formula it replaced, bit for bit.
@testable import Engine
import XCTest

final class QuantizedRowsTests: XCTestCase {
    /// The scalar quantisation as it was written before vectorising (the reference).
    func scalarRows(_ w: [Float], rows: Int) -> ([Int8], [Float]) {
        let per = w.count / rows
        var scales = [Float](repeating: 1, count: rows), q = [Int8](repeating: 0, count: w.count)
        for r in 0..<rows {
            var m: Float = 0
            for i in r * per..<(r + 1) * per { m = max(m, abs(w[i])) }
            let s = m > 0 ? m / 127 : 1
            scales[r] = s
            let inv = 1 / s
            for i in r * per..<(r + 1) * per { q[i] = Int8(max(-127, min(127, (w[i] * inv).rounded()))) }
        }
        return (q, scales)
    }

    func check(_ w: [Float], rows: Int, file: StaticString = #filePath, line: UInt = #line) {
        let (q, s) = QuantizedNetwork.quantiseRows(w, rows: rows)
        let (rq, rs) = scalarRows(w, rows: rows)
        XCTAssertEqual(q, rq, file: file, line: line)
        XCTAssertEqual(s.map(\.bitPattern), rs.map(\.bitPattern), file: file, line: line)
    }

    func testRandomRowsOfEveryLengthMatchTheScalarFormula() {
        var rng = SplitMix64(seed: 7)
        for per in [1, 3, 15, 16, 17, 31, 32, 33, 100, 1152] {
            let rows = 5
            let w = (0..<(rows * per)).map { _ in Float(Double(rng.next() >> 11) / 9_007_199_254_740_992 * 2 - 1) * 0.3 }
            check(w, rows: rows)
        }
    }

    func testTiesHalvesZerosAndNonFiniteValuesMatchTheScalarFormula() {
        // A row whose maximum is 127 makes the scale 1: the values are quantised as written.
        var row: [Float] = [127, 0.5, -0.5, 1.5, -1.5, 2.5, -2.5, 0.49999997, -0.49999997, 126.5, -126.5, 0, -0.0, 3.4999998, 64.5, -64.5]
        row += [.nan, 1e30, -.infinity, .infinity, 200, -200, 0.50000006, -0.50000006, 5, 6, 7, 8, 9, 10, 11, 12]
        check(row, rows: 1)
        check([Float](repeating: 0, count: 48), rows: 3)
        check([Float](repeating: .nan, count: 32), rows: 2)
        // Every k + 0.5 in range, at scale 1, and negated, past the 16-lane body into the tail.
        let halves: [Float] = [127] + (0..<126).map { Float($0) + 0.5 }
        check(halves, rows: 1)
        check(halves.map { -$0 }, rows: 1)
    }

    /// The cache returns an array's quantisation again, and a changed copy's own: a write to a
    /// cached array copies its storage, so it cannot be mistaken for the cached one.
    func testTheCacheAnswersOnlyForTheSameStorage() {
        // Room for four of these arrays (64 floats and their 64 bytes and 4 scales each).
        let cache = StorageKeyedCache<Float, ([Int8], [Float])>(maxBytes: 4 * (256 + 64 + 16)) { $0.0.count + 4 * $0.1.count }
        var rng = SplitMix64(seed: 9)
        var w = (0..<64).map { _ in rng.nextFloat(in: -1...1) }
        var computed = 0
        func rows(_ a: [Float]) -> ([Int8], [Float]) { cache.value(for: a, tag: 4) { computed += 1; return QuantizedNetwork.computeRows($0, rows: 4) } }
        let first = rows(w)
        XCTAssertEqual(rows(w).0, first.0)
        XCTAssertEqual(computed, 1, "the second call is answered from the cache")
        w[3] = 5  // copy-on-write: the cache still holds the old storage
        let changed = rows(w)
        XCTAssertEqual(computed, 2)
        XCTAssertEqual(changed.0, scalarRows(w, rows: 4).0)
        XCTAssertNotEqual(changed.0, first.0)
        for _ in 0..<10 { _ = rows((0..<64).map { _ in rng.nextFloat(in: -1...1) }) }
        XCTAssertLessThanOrEqual(cache.count, 4, "the cache keeps at most its byte budget")
        XCTAssertLessThanOrEqual(cache.bytes, 4 * (256 + 64 + 16))
        XCTAssertEqual(rows(w).0, changed.0)
    }

    /// A generation drops what was not used since the one before: the arrays of a model the
    /// process has moved on from, and only those.
    func testAGenerationDropsWhatTheLastOneDidNotUse() {
        let cache = StorageKeyedCache<Float, ([Int8], [Float])>(maxBytes: 1 << 20) { $0.0.count + 4 * $0.1.count }
        let old = [Float](repeating: 0.5, count: 64), kept = [Float](repeating: -0.25, count: 64)
        var computed = 0
        func rows(_ a: [Float]) { _ = cache.value(for: a, tag: 4) { computed += 1; return QuantizedNetwork.computeRows($0, rows: 4) } }
        rows(old); rows(kept)
        cache.startGeneration()
        rows(kept)  // used in the new generation
        cache.startGeneration()
        XCTAssertEqual(cache.count, 1, "the array unused for a whole generation is gone")
        rows(kept)
        XCTAssertEqual(computed, 2, "the array in use is still cached")
        rows(old)
        XCTAssertEqual(computed, 3, "the dropped one is computed again")
    }
}
