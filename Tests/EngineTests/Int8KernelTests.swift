import XCTest
@testable import Engine

/// The int8 kernels against a direct integer reference: the convolution written from its
/// definition in Int64 (no im2col, no transposes, no padded copies), requantised with exact
/// rational arithmetic. Integers either agree or they do not.
final class Int8KernelTests: XCTestCase {
    func randomInt8(_ n: Int, _ rng: inout SplitMix64, range: ClosedRange<Int> = -128...127) -> [Int8] {
        (0..<n).map { _ in Int8(range.lowerBound + Int(rng.next() % UInt64(range.count))) }
    }

    /// acc[o][n][oh][ow] = Σ x[ci][n][oh·s + ki − top][ow·s + kj − left] · w[o][ci − g·inPer][ki][kj].
    func referenceConv(x: [Int8], w: [Int8], g: ConvGeometry) -> [Int64] {
        var out = [Int64](repeating: 0, count: g.outputCount)
        for o in 0..<g.outChannels {
            let grp = o / g.outPerGroup
            for n in 0..<g.batch {
                for oy in 0..<g.outHeight {
                    for ox in 0..<g.outWidth {
                        var s: Int64 = 0
                        for i in 0..<g.inPerGroup {
                            let ci = grp * g.inPerGroup + i
                            for ki in 0..<g.kernelH {
                                for kj in 0..<g.kernelW {
                                    let iy = oy * g.strideH + ki - g.padding.top, ix = ox * g.strideW + kj - g.padding.left
                                    guard iy >= 0, iy < g.height, ix >= 0, ix < g.width else { continue }
                                    let xv = Int64(x[((ci * g.batch + n) * g.height + iy) * g.width + ix])
                                    let wv = Int64(w[((o * g.inPerGroup + i) * g.kernelH + ki) * g.kernelW + kj])
                                    s += xv * wv
                                }
                            }
                        }
                        out[((o * g.batch + n) * g.outHeight + oy) * g.outWidth + ox] = s
                    }
                }
            }
        }
        return out
    }

    let geometries: [(String, ConvGeometry)] = [
        ("pointwise", ConvGeometry(batch: 3, inChannels: 37, outChannels: 11, height: 4, width: 5, kernelH: 1, kernelW: 1)),
        ("stem 3x3/2 SAME", ConvGeometry(batch: 2, inChannels: 3, outChannels: 8, height: 9, width: 10, kernelH: 3, kernelW: 3,
                                         strideH: 2, strideW: 2, padding: Padding(top: 0, left: 0, bottom: 1, right: 1))),
        ("depthwise 3x3/1", ConvGeometry(batch: 2, inChannels: 6, outChannels: 6, height: 7, width: 9, kernelH: 3, kernelW: 3,
                                         padding: .symmetric(1), groups: 6)),
        ("depthwise 5x5/2", ConvGeometry(batch: 3, inChannels: 5, outChannels: 5, height: 9, width: 8, kernelH: 5, kernelW: 5,
                                         strideH: 2, strideW: 2, padding: Padding(top: 1, left: 1, bottom: 2, right: 2), groups: 5)),
        ("depthwise 3x3 narrow", ConvGeometry(batch: 8, inChannels: 4, outChannels: 4, height: 2, width: 2, kernelH: 3, kernelW: 3,
                                              padding: .symmetric(1), groups: 4)),
    ]

    func testConvAccumulatorsEqualTheDirectIntegerConvolution() {
        var rng = SplitMix64(seed: 11)
        let ws = Int8Workspace()
        for (name, g) in geometries {
            let x = randomInt8(g.inputCount, &rng), w = randomInt8(g.weightCount, &rng, range: -127...127)
            var acc = [Int32](repeating: 0, count: g.outputCount)
            x.withUnsafeBufferPointer { xb in
                w.withUnsafeBufferPointer { wb in
                    acc.withUnsafeMutableBufferPointer { Int8Kernels.convAccumulate(acc: $0.baseAddress!, x: xb.baseAddress!, weight: wb.baseAddress!, g: g, ws: ws) }
                }
            }
            XCTAssertEqual(acc.map(Int64.init), referenceConv(x: x, w: w, g: g), name)
        }
    }

    /// The worst case of a long dot product: every term −128 · −127.
    func testGemmHasNoOverflowAtTheExtremes() {
        let k = 4096, ws = Int8Workspace()
        let a = [Int8](repeating: -127, count: k), b = [Int8](repeating: -128, count: k)
        var c: [Int32] = [0]
        a.withUnsafeBufferPointer { ab in b.withUnsafeBufferPointer { bb in
            c.withUnsafeMutableBufferPointer { Int8Kernels.gemm(m: 1, n: 1, k: k, a: ab.baseAddress!, b: bb.baseAddress!, c: $0.baseAddress!, ws: ws) }
        } }
        XCTAssertEqual(Int64(c[0]), Int64(k) * 127 * 128)
    }

    /// The VNNI GEMM equals the portable loop bitwise: depths on and off the 64-byte chunk, column
    /// counts on and off the 4-column block, the extremes of both operands, one row, one column.
    func testVNNIGemmEqualsThePortableLoop() throws {
        guard Int8Kernels.cpuHasVNNI else { throw XCTSkip("this CPU has no AVX-512 VNNI") }
        var rng = SplitMix64(seed: 5)
        let ws = Int8Workspace()
        for (m, n, k) in [(1, 1, 1), (3, 5, 63), (7, 4, 64), (5, 9, 65), (12, 16, 192), (4, 3, 1152), (2, 7, 4099), (11, 33, 27), (5, 16, 3), (9, 47, 130), (4, 1024, 16), (6, 17, 4099), (5, 70, 27), (4, 64, 4), (7, 100, 130), (3, 129, 1)] {
            for extreme in [false, true] {
                let a = extreme ? [Int8](repeating: -128, count: m * k) : randomInt8(m * k, &rng)
                let b = extreme ? [Int8](repeating: -128, count: k * n) : randomInt8(k * n, &rng)
                var fast = [Int32](repeating: 7, count: m * n), slow = [Int32](repeating: -7, count: m * n)
                a.withUnsafeBufferPointer { ab in b.withUnsafeBufferPointer { bb in
                    fast.withUnsafeMutableBufferPointer { Int8Kernels.gemmVNNI(m: m, n: n, k: k, a: ab.baseAddress!, b: bb.baseAddress!, c: $0.baseAddress!, ws: ws) }
                    slow.withUnsafeMutableBufferPointer { Int8Kernels.gemmPortable(m: m, n: n, k: k, a: ab.baseAddress!, b: bb.baseAddress!, c: $0.baseAddress!, ws: ws) }
                } }
                XCTAssertEqual(fast, slow, "m \(m) n \(n) k \(k) extreme \(extreme)")
                if extreme { XCTAssertEqual(Int64(slow[0]), Int64(k) * 128 * 128) }
            }
        }
    }

    /// round(x·M) with ties away from zero, in exact rational arithmetic on the multiplier's own
    /// mantissa and shift.
    func exactRound(_ x: Int32, _ m: FixedPointMultiplier) -> Int64 {
        // x · mult · 2^shift / 2^31 as a fraction p / 2^e.
        var p = Int64(x) * Int64(m.multiplier)  // |p| < 2^62
        var e = 31 - m.shift
        while e < 0 { p *= 2; e += 1 }
        let q = Int64(1) << e, r = abs(p) % q
        let whole = abs(p) / q + (2 * r >= q ? 1 : 0)
        return p < 0 ? -whole : whole
    }

    func testFixedPointMultiplierRoundsExactlyToNearest() {
        var rng = SplitMix64(seed: 3)
        for _ in 0..<20_000 {
            let real = Double(rng.nextFloat(in: 0.0001...0.9)) * (rng.next() % 4 == 0 ? 1e-3 : 1)
            let m = FixedPointMultiplier(real)
            XCTAssertEqual(m.real, real, accuracy: real * 1e-9)
            let x = Int32(truncatingIfNeeded: Int64(rng.next() % (1 << 24)) - (1 << 23))
            let got = Int64(m.apply(x)), want = exactRound(x, m)
            XCTAssertEqual(got, want, "x \(x) M \(real)")
            XCTAssertLessThanOrEqual(abs(Double(got) - Double(x) * real), 0.5 + abs(Double(x)) * real * 1e-9)
        }
        XCTAssertEqual(FixedPointMultiplier(0).apply(12345), 0)
        XCTAssertEqual(FixedPointMultiplier(1).apply(-77), -77)
        XCTAssertEqual(FixedPointMultiplier(0.5).apply(3), 2, "1.5 rounds away from zero")
        XCTAssertEqual(FixedPointMultiplier(0.5).apply(-3), -2)
        XCTAssertEqual(FixedPointMultiplier(2).apply(Int32.max), Int32.max, "saturates")
    }

    func testRequantiseClampsAndAddsBias() {
        let acc: [Int32] = [100, -100, 5000, -5000, 0, 7]
        let bias: [Int32] = [10, -3]
        var y = [Int8](repeating: 0, count: 6)
        let ms = [FixedPointMultiplier(0.5), FixedPointMultiplier(0.25)]
        y.withUnsafeMutableBufferPointer { yb in
            acc.withUnsafeBufferPointer { ab in bias.withUnsafeBufferPointer {
                Int8Kernels.requantise(y: yb.baseAddress!, acc: ab.baseAddress!, offset: $0.baseAddress!, multipliers: ms, low: 0, high: 120, channels: 2, plane: 3)
            } }
        }
        // channel 0: (100+10)/2 = 55, (−90)/2 → 0, 5010/2 → 120; channel 1: (−5003)/4 → 0, (−3)/4 → 0 (−0.75 → −1 → clamp 0), (4)/4 = 1
        XCTAssertEqual(y, [55, 0, 120, 0, 0, 1])
    }

    func testResidualAddAndPoolAgreeWithExactRounding() {
        var rng = SplitMix64(seed: 5)
        let n = 4000
        let a = randomInt8(n, &rng), b = randomInt8(n, &rng)
        let sa: Float = 0.031, sb: Float = 0.047, ss: Float = 0.052
        let ma = FixedPointMultiplier(Double(sa / ss)), mb = FixedPointMultiplier(Double(sb / ss))
        var y = [Int8](repeating: 0, count: n)
        y.withUnsafeMutableBufferPointer { yb in a.withUnsafeBufferPointer { ab in b.withUnsafeBufferPointer {
            Int8Kernels.add(y: yb.baseAddress!, a: ab.baseAddress!, b: $0.baseAddress!, ma: ma, mb: mb, count: n)
        } } }
        var off = 0
        for i in 0..<n {
            let want = max(-128, min(127, (Double(a[i]) * ma.real + Double(b[i]) * mb.real).rounded()))
            let d = abs(Double(y[i]) - want)
            XCTAssertLessThanOrEqual(d, 1)
            if d > 0 { off += 1 }
        }
        XCTAssertLessThan(off, n / 100, "an add rounds once, so it is off only next to a tie")

        let plane = 7, rows = 300
        let x = randomInt8(rows * plane, &rng)
        var p = [Int8](repeating: 0, count: rows)
        p.withUnsafeMutableBufferPointer { pb in x.withUnsafeBufferPointer { Int8Kernels.averagePool(y: pb.baseAddress!, x: $0.baseAddress!, rows: rows, plane: plane) } }
        for r in 0..<rows {
            let s = x[r * plane..<(r + 1) * plane].reduce(0) { $0 + Int($1) }
            let want = (abs(Double(s)) / Double(plane)).rounded(.toNearestOrAwayFromZero) * (s < 0 ? -1 : 1)
            XCTAssertEqual(Double(p[r]), want)
        }
    }
}
