import CKernels
import XCTest
@testable import Engine

/// The AVX-512 kernels of `CKernels` against the portable paths they replace. The integer kernels
/// and the QAS update must agree bit for bit; the fp32 GEMMs agree with OpenBLAS to rounding
/// (tolerance stated below) and must not let one column's values depend on the others'.
final class AVX512KernelTests: XCTestCase {
    override func setUpWithError() throws {
        guard Kernels.cpuHasAVX512 else { throw XCTSkip("this CPU has no AVX-512 F/BW/DQ/VL") }
    }

    func randomInt8(_ n: Int, _ rng: inout SplitMix64, range: ClosedRange<Int> = -128...127) -> [Int8] {
        (0..<n).map { _ in Int8(range.lowerBound + Int(rng.next() % UInt64(range.count))) }
    }

    func randomFloats(_ n: Int, _ rng: inout SplitMix64, scale: Float = 1) -> [Float] {
        (0..<n).map { _ in rng.nextFloat(in: -scale...scale) }
    }

    // ---- requantisation --------------------------------------------------------------------------

    /// Multipliers across the range a network uses, plus the edges the vector path hands to the
    /// scalar formula: M ≥ 1 (a left shift with saturation) and M so small that it rounds to 0.
    func testRequantiseEqualsThePortableLoopBitwise() {
        var rng = SplitMix64(seed: 21)
        let reals: [Double] = [1e-12, 3e-10, 1e-6, 0.0003, 0.01, 0.2, 0.49999, 0.5, 0.75, 0.999999, 1.0, 1.5, 7.25, 300]
        for trial in 0..<40 {
            let channels = 1 + Int(rng.next() % 40), plane = [1, 4, 15, 16, 17, 31, 64, 100, 2, 3][trial % 10]
            let multipliers = (0..<channels).map { c -> FixedPointMultiplier in
                // Trials from 12 on keep every multiplier in the vector range (small planes then
                // take the across-channels path; one edge multiplier sends them per channel).
                c % 3 == 0 && trial < 12 ? FixedPointMultiplier(reals[Int(rng.next() % UInt64(reals.count))]) : FixedPointMultiplier(Double(rng.nextFloat(in: 0.00001...0.9)))
            }
            let extreme = trial % 4 == 3
            let acc: [Int32] = (0..<channels * plane).map { i in
                if extreme { return [Int32.min, Int32.max, -1, 0, 1, Int32.min + 1][i % 6] }
                return Int32(truncatingIfNeeded: Int64(rng.next() % (1 << 26)) - (1 << 25))
            }
            let offsets: [Int32] = (0..<channels).map { _ in extreme ? Int32.max : Int32(truncatingIfNeeded: Int64(rng.next() % 20_000) - 10_000) }
            let zero = Int32(truncatingIfNeeded: Int64(rng.next() % 256) - 128)
            let (low, high): (Int32, Int32) = trial % 2 == 0 ? (-128, 127) : (zero, min(127, zero + 60))
            var fast = [Int8](repeating: 1, count: channels * plane), slow = [Int8](repeating: -1, count: channels * plane)
            for withOffset in [false, true] {
                acc.withUnsafeBufferPointer { a in
                    offsets.withUnsafeBufferPointer { o in
                        let off = withOffset ? o.baseAddress : nil
                        fast.withUnsafeMutableBufferPointer {
                            Int8Kernels.requantiseAVX512(y: $0.baseAddress!, acc: a.baseAddress!, offset: off, multipliers: multipliers, zero: zero,
                                                         low: low, high: high, channels: channels, plane: plane)
                        }
                        slow.withUnsafeMutableBufferPointer {
                            Int8Kernels.requantisePortable(y: $0.baseAddress!, acc: a.baseAddress!, offset: off, multipliers: multipliers, zero: zero,
                                                           low: low, high: high, channels: channels, plane: plane)
                        }
                    }
                }
                XCTAssertEqual(fast, slow, "trial \(trial) channels \(channels) plane \(plane) offset \(withOffset)")
            }
        }
    }

    // ---- depthwise -------------------------------------------------------------------------------

    /// Every depthwise shape of EfficientNet-Lite0 and MobileNetV2 in kind: 3×3 and 5×5, stride 1
    /// and 2, SAME and symmetric padding, planes from 1×1 to 32×32, channel counts on and off 16,
    /// batch 1 and 8, and a zero point as padding.
    func testDepthwiseEqualsThePortableLoopBitwise() {
        var rng = SplitMix64(seed: 22)
        let ws = Int8Workspace()
        var shapes: [ConvGeometry] = []
        for (c, n, h, k, s) in [(1, 1, 1, 3, 1), (16, 1, 2, 5, 1), (17, 8, 2, 3, 1), (40, 8, 4, 5, 2), (33, 1, 4, 3, 2), (96, 2, 32, 3, 2),
                                (31, 3, 9, 5, 1), (1152, 1, 2, 5, 1), (672, 8, 4, 5, 1), (24, 1, 7, 3, 1)] {
            let pad = PaddingRule.same.padding(height: h, width: h, kernel: k, stride: s)
            shapes.append(ConvGeometry(batch: n, inChannels: c, outChannels: c, height: h, width: h, kernelH: k, kernelW: k,
                                       strideH: s, strideW: s, padding: pad, groups: c))
            shapes.append(ConvGeometry(batch: n, inChannels: c, outChannels: c, height: h, width: h + 1, kernelH: k, kernelW: k,
                                       strideH: s, strideW: s, padding: .symmetric(k / 2), groups: c))
        }
        for (i, g) in shapes.enumerated() {
            let x = randomInt8(g.inputCount, &rng), w = randomInt8(g.weightCount, &rng, range: i % 3 == 0 ? -128...127 : -127...127)
            let pad = Int8(truncatingIfNeeded: Int(rng.next() % 256) - 128)
            var fast = [Int32](repeating: 5, count: g.outputCount), slow = [Int32](repeating: -5, count: g.outputCount)
            x.withUnsafeBufferPointer { xb in w.withUnsafeBufferPointer { wb in
                fast.withUnsafeMutableBufferPointer { Int8Kernels.depthwiseAVX512(acc: $0.baseAddress!, x: xb.baseAddress!, weight: wb.baseAddress!, g: g, pad: pad, ws: ws) }
                slow.withUnsafeMutableBufferPointer { Int8Kernels.depthwisePortable(acc: $0.baseAddress!, x: xb.baseAddress!, weight: wb.baseAddress!, g: g, pad: pad, ws: ws) }
            } }
            XCTAssertEqual(fast, slow, "shape \(i): \(g)")
            // Both instruction sets: vpmaddwd with an add, and VNNI's vpdpwssd where the CPU has it.
            var lanes = [Int32](repeating: 0, count: (g.outChannels + 15) / 16 * 16 * g.taps)
            sf_int8_depthwise_lanes(w, g.outChannels, g.taps, &lanes)
            var scratch = [Int32](repeating: 0, count: sf_int8_depthwise_scratch_bytes(g.kernelH, g.kernelW, g.strideH, g.strideW, g.outHeight, g.outWidth) / 4 + 1)
            for vnni: Int32 in Int8Kernels.cpuHasVNNI ? [0, 1] : [0] {
                var variant = [Int32](repeating: 9, count: g.outputCount)
                sf_int8_depthwise_variant(&variant, x, lanes, g.outChannels, g.batch, g.height, g.width, g.kernelH, g.kernelW, g.strideH, g.strideW,
                                          g.padding.top, g.padding.left, g.outHeight, g.outWidth, pad, &scratch, vnni)
                XCTAssertEqual(variant, slow, "shape \(i), vnni \(vnni)")
            }
        }
    }

    // ---- the QAS update ----------------------------------------------------------------------------

    /// The stochastic QAS update, all rows and chosen rows, contiguous and scattered offsets, with
    /// gradients that round both ways, push past ±127, and are not finite.
    func testQASUpdateEqualsTheSwiftLoopBitwise() {
        var rng = SplitMix64(seed: 23)
        for trial in 0..<16 {
            let rowsCount = 1 + Int(rng.next() % 30), perRow = 1 + Int(rng.next() % 70)
            let w0 = randomInt8(rowsCount * perRow, &rng, range: -127...127)
            let scales = (0..<rowsCount).map { _ in rng.nextFloat(in: 0.0005...0.05) }
            let rows: [Int]? = trial % 2 == 0 ? nil : (0..<rowsCount).filter { _ in rng.next() % 2 == 0 }
            let offsets = trial % 3 == 0 ? Array(0..<perRow) : (0..<perRow).filter { _ in rng.next() % 3 != 0 }.reversed()
            let count = (rows?.count ?? rowsCount) * offsets.count
            var g = randomFloats(count, &rng, scale: trial % 4 == 1 ? 50 : 0.5)
            if count > 3 { g[0] = .nan; g[1] = .infinity; g[2] = -.infinity }
            let rounding = QASRounding(seed: rng.next())
            let lr = rng.nextFloat(in: 0.0001...0.05)
            var fast = w0, slow = w0, noMaster: [Float]? = nil
            g.withUnsafeBufferPointer { gp in
                QASUpdate.weights(&fast, scales: scales, perRow: perRow, rows: rows, offsets: offsets, gradient: gp.baseAddress!, learningRate: lr,
                                  rounding: rounding, tensor: 7 + trial, master: &noMaster, vectorised: true)
                QASUpdate.weights(&slow, scales: scales, perRow: perRow, rows: rows, offsets: offsets, gradient: gp.baseAddress!, learningRate: lr,
                                  rounding: rounding, tensor: 7 + trial, master: &noMaster, vectorised: false)
            }
            XCTAssertEqual(fast, slow, "trial \(trial)")
            XCTAssertNotEqual(fast, w0, "trial \(trial): the update changed nothing, so the test proves nothing")
        }
    }

    // ---- fp32 GEMMs --------------------------------------------------------------------------------

    /// Relative error allowed against OpenBLAS: both accumulate k products in fp32 in different
    /// orders; |error| ≤ k·ε·Σ|terms| bounds either, and 1e-5 of Σ|terms| covers k ≤ 1280 with room.
    func assertClose(_ got: [Float], _ want: [Float], magnitude: [Float], _ message: String) {
        XCTAssertEqual(got.count, want.count, message)
        for i in got.indices where abs(got[i] - want[i]) > 1e-5 * max(magnitude[i], 1e-20) {
            XCTFail("\(message): element \(i): \(got[i]) against \(want[i])")
            return
        }
    }

    let gemmShapes: [(m: Int, k: Int, n: Int)] = [(1, 1, 1), (10, 1280, 1), (1152, 192, 4), (192, 1152, 4), (320, 1152, 32), (1280, 320, 32),
                                                   (17, 33, 7), (48, 15, 13), (5, 70, 64), (96, 24, 17), (3, 5, 40)]

    /// dx = Wᵀ·dy with int8 weights and per-row scales, against widening them and OpenBLAS.
    func testTransposedInt8GemmMatchesBLASAndKeepsColumnsIndependent() {
        var rng = SplitMix64(seed: 24)
        for (m, k, n) in gemmShapes {
            let q = randomInt8(m * k, &rng, range: -127...127), scales = (0..<m).map { _ in rng.nextFloat(in: 0.001...0.02) }
            let dy = randomFloats(m * n, &rng)
            var widened = [Float](repeating: 0, count: m * k)
            for o in 0..<m { for i in 0..<k { widened[o * k + i] = scales[o] * Float(q[o * k + i]) } }
            var want = [Float](repeating: 0, count: k * n), got = [Float](repeating: .nan, count: k * n)
            BLAS.sgemm(transA: true, m: k, n: n, k: m, a: widened, lda: k, b: dy, ldb: n, c: &want, ldc: n)
            sf_sgemm_tn_i8(m, k, n, q, scales, dy, &got)
            var magnitude = [Float](repeating: 0, count: k * n)
            for o in 0..<m { for i in 0..<k { for j in 0..<n { magnitude[i * n + j] += abs(widened[o * k + i] * dy[o * n + j]) } } }
            assertClose(got, want, magnitude: magnitude, "tn_i8 \(m)×\(k)×\(n)")
            var fp32 = [Float](repeating: .nan, count: k * n)
            sf_sgemm_tn(m, k, n, widened, dy, &fp32)
            XCTAssertEqual(fp32, got, "tn and tn_i8 widen the same way \(m)×\(k)×\(n)")
            // Column j alone gives the same bits as column j among n.
            for j in Set([0, n / 2, n - 1]) {
                let column = (0..<m).map { dy[$0 * n + j] }
                var alone = [Float](repeating: .nan, count: k)
                sf_sgemm_tn_i8(m, k, 1, q, scales, column, &alone)
                XCTAssertEqual(alone, (0..<k).map { got[$0 * n + j] }, "column \(j) of \(m)×\(k)×\(n)")
            }
        }
    }

    /// y = W·x against OpenBLAS, and one column alone against the same column among many.
    func testForwardGemmMatchesBLASAndKeepsColumnsIndependent() {
        var rng = SplitMix64(seed: 25)
        for (m, k, n) in gemmShapes {
            let w = randomFloats(m * k, &rng), x = randomFloats(k * n, &rng)
            var want = [Float](repeating: 0, count: m * n), got = [Float](repeating: .nan, count: m * n)
            BLAS.sgemm(m: m, n: n, k: k, a: w, lda: k, b: x, ldb: n, c: &want, ldc: n)
            sf_sgemm_nn(m, k, n, w, x, &got)
            var magnitude = [Float](repeating: 0, count: m * n)
            for o in 0..<m { for i in 0..<k { for j in 0..<n { magnitude[o * n + j] += abs(w[o * k + i] * x[i * n + j]) } } }
            assertClose(got, want, magnitude: magnitude, "nn \(m)×\(k)×\(n)")
            for j in Set([0, n / 2, n - 1]) {
                var alone = [Float](repeating: .nan, count: m)
                sf_sgemm_nn(m, k, 1, w, (0..<k).map { x[$0 * n + j] }, &alone)
                XCTAssertEqual(alone, (0..<m).map { got[$0 * n + j] }, "column \(j) of \(m)×\(k)×\(n)")
            }
        }
    }

    /// dW += dy·xᵀ at the chosen channels (pixels × batch as the reduction) against OpenBLAS, and
    /// one output column (input channel) alone against the same among many.
    func testWeightGradientGemmMatchesBLASAndKeepsColumnsIndependent() {
        var rng = SplitMix64(seed: 26)
        for (m, n, p) in [(1, 1, 1), (1152, 144, 4), (192, 24, 4), (320, 40, 32), (17, 33, 7), (5, 3, 64), (40, 17, 16)] {
            let a = randomFloats(m * p, &rng), b = randomFloats(n * p, &rng), start = randomFloats(m * n, &rng)
            var want = start, got = start
            BLAS.sgemm(transB: true, m: m, n: n, k: p, a: a, lda: p, b: b, ldb: p, beta: 1, c: &want, ldc: n)
            var scratch = [Float](repeating: 0, count: sf_sgemm_nt_scratch_bytes(n, p) / 4 + 1)
            sf_sgemm_nt_acc(m, n, p, a, b, &got, &scratch)
            var magnitude = start.map(abs)
            for o in 0..<m { for j in 0..<n { for l in 0..<p { magnitude[o * n + j] += abs(a[o * p + l] * b[j * p + l]) } } }
            assertClose(got, want, magnitude: magnitude, "nt \(m)×\(n)×\(p)")
            for j in Set([0, n / 2, n - 1]) {
                var alone = (0..<m).map { start[$0 * n + j] }
                sf_sgemm_nt_acc(m, 1, p, a, Array(b[j * p..<(j + 1) * p]), &alone, &scratch)
                XCTAssertEqual(alone, (0..<m).map { got[$0 * n + j] }, "column \(j) of \(m)×\(n)×\(p)")
            }
        }
    }

    /// The depthwise input gradient in lane order equals `Depthwise.backwardInput` bitwise on narrow
    /// planes (the same FMAs in the same order) and to rounding on wide ones.
    func testDepthwiseInputGradientMatchesTheSwiftKernels() {
        var rng = SplitMix64(seed: 27)
        let ws = Workspace()
        for (c, n, h, k, s) in [(1, 1, 2, 3, 1), (17, 1, 2, 5, 1), (40, 8, 4, 5, 2), (33, 3, 4, 3, 1), (1152, 1, 2, 5, 1), (24, 2, 16, 3, 2), (20, 1, 9, 5, 1)] {
            let g = ConvGeometry(batch: n, inChannels: c, outChannels: c, height: h, width: h, kernelH: k, kernelW: k, strideH: s, strideW: s,
                                 padding: PaddingRule.same.padding(height: h, width: h, kernel: k, stride: s), groups: c)
            let q = randomInt8(g.weightCount, &rng, range: -127...127), scales = (0..<c).map { _ in rng.nextFloat(in: 0.001...0.05) }
            let real = (0..<g.weightCount).map { scales[$0 / g.taps] * Float(q[$0]) }
            let dy = randomFloats(g.outputCount, &rng)
            var want = [Float](repeating: .nan, count: g.inputCount), got = [Float](repeating: .nan, count: g.inputCount)
            let narrow = g.outWidth < Depthwise.narrowWidth
            real.withUnsafeBufferPointer { w in dy.withUnsafeBufferPointer { d in
                want.withUnsafeMutableBufferPointer {
                    if narrow {
                        Depthwise.backwardInputNarrow(dx: $0.baseAddress!, dy: d.baseAddress!, weight: w.baseAddress!, g: g, ws: ws)
                    } else {
                        Depthwise.backwardInput(dx: $0.baseAddress!, dy: d.baseAddress!, weight: w.baseAddress!, g: g, ws: ws)
                    }
                }
            } }
            var lanes = [Float](repeating: 0, count: (c + 15) / 16 * 16 * g.taps)
            sf_f32_depthwise_lanes(q, scales, nil, c, g.taps, &lanes)
            var scratch = [Float](repeating: 0, count: sf_f32_depthwise_scratch_bytes(h, h, k, k, s, s, g.padding.top, g.padding.left, g.outHeight, g.outWidth) / 4 + 1)
            sf_f32_depthwise_backward_input(&got, dy, lanes, c, n, h, h, k, k, s, s, g.padding.top, g.padding.left, g.outHeight, g.outWidth, &scratch)
            if narrow {
                XCTAssertEqual(got.map(\.bitPattern), want.map(\.bitPattern), "\(g)")
            } else {
                let magnitude = [Float](repeating: 1, count: want.count)
                assertClose(got, want, magnitude: magnitude, "\(g)")
            }
        }
    }

    /// The accumulator offsets b − z·Σ W from vectorised row sums against the Swift formula.
    func testOffsetsEqualTheScalarFormula() {
        var rng = SplitMix64(seed: 28)
        for (rows, per) in [(1, 1), (3, 31), (7, 32), (5, 33), (192, 1152), (1280, 320), (12, 25)] {
            let w = randomInt8(rows * per, &rng, range: -127...127)
            let bias = (0..<rows).map { _ in Int32(truncatingIfNeeded: rng.next()) }
            for zero: Int32 in [-128, -3, 127] {
                let want = (0..<rows).map { o in bias[o] &- zero &* w[o * per..<(o + 1) * per].reduce(Int32(0)) { $0 &+ Int32($1) } }
                var fast = [Int32](repeating: 0, count: rows), slow = fast
                sf_int8_offsets(w, bias, rows, per, zero, &fast, 1)
                sf_int8_offsets(w, bias, rows, per, zero, &slow, 0)
                XCTAssertEqual(fast, want, "\(rows)×\(per) zero \(zero)")
                XCTAssertEqual(slow, want, "\(rows)×\(per) zero \(zero)")
            }
        }
    }

    /// The fp32 depthwise forward in lane order equals `Depthwise`'s narrow-plane path bitwise
    /// (bias first, then one FMA per tap in kernel order), with and without a bias.
    func testDepthwiseForwardEqualsTheNarrowPathBitwise() {
        var rng = SplitMix64(seed: 29)
        for (c, n, h, k, s) in [(1, 1, 2, 3, 1), (17, 1, 2, 5, 1), (40, 8, 4, 5, 2), (33, 3, 4, 3, 1), (1152, 1, 2, 5, 1), (20, 8, 7, 5, 1), (16, 2, 1, 3, 1)] {
            let g = ConvGeometry(batch: n, inChannels: c, outChannels: c, height: h, width: h, kernelH: k, kernelW: k, strideH: s, strideW: s,
                                 padding: PaddingRule.same.padding(height: h, width: h, kernel: k, stride: s), groups: c)
            XCTAssertLessThan(g.outWidth, Depthwise.narrowWidth)
            let w = randomFloats(g.weightCount, &rng), x = randomFloats(g.inputCount, &rng), bias = randomFloats(c, &rng)
            for withBias in [false, true] {
                var want = [Float](repeating: .nan, count: g.outputCount), got = want
                w.withUnsafeBufferPointer { wb in x.withUnsafeBufferPointer { xb in bias.withUnsafeBufferPointer { bb in
                    want.withUnsafeMutableBufferPointer {
                        Depthwise.forwardNarrow(y: $0.baseAddress!, x: xb.baseAddress!, weight: wb.baseAddress!, bias: withBias ? bb.baseAddress! : nil, g: g, ws: Workspace())
                    }
                    got.withUnsafeMutableBufferPointer {
                        Depthwise.forward(y: $0.baseAddress!, x: xb.baseAddress!, weight: wb.baseAddress!, bias: withBias ? bb.baseAddress! : nil, g: g, ws: Workspace())
                    }
                } } }
                XCTAssertEqual(got.map(\.bitPattern), want.map(\.bitPattern), "\(g) bias \(withBias)")
            }
        }
    }

    /// The ReLU6 masks and their backward against the Swift loops, bit for bit, at lengths on and
    /// off the byte and the vector, with the edges 0 and 6 (and NaN) in the values.
    func testReLU6MasksAndBackwardEqualTheSwiftLoops() {
        var rng = SplitMix64(seed: 30)
        for count in [1, 7, 8, 9, 15, 16, 17, 63, 64, 65, 100, 1000] {
            var y = randomFloats(count, &rng, scale: 8)
            for i in stride(from: 0, to: count, by: 5) { y[i] = [0, 6, -0.0, .nan, 5.9999995][i / 5 % 5] }
            let bytes = (count + 7) / 8
            var fast = [UInt8](repeating: 0xAA, count: bytes), slow = [UInt8](repeating: 0x55, count: bytes)
            ReLU6.mask(y, count: count, into: &fast)
            ReLU6.maskPortable(y, count: count, into: &slow)
            XCTAssertEqual(fast, slow, "fp32 mask, \(count) values")
            let q = randomInt8(count, &rng)
            for (low, high) in [(Int32(-128), Int32(127)), (-5, 40), (0, 127), (-200, 300)] {
                var a = [UInt8](repeating: 0xAA, count: bytes), b = [UInt8](repeating: 0x55, count: bytes)
                QuantizedTrainer.mask(q, count: count, low: low, high: high, into: &a)
                QuantizedTrainer.maskPortable(q, count: count, low: low, high: high, into: &b)
                XCTAssertEqual(a, b, "int8 mask, \(count) values, (\(low), \(high))")
            }
            let dy = randomFloats(count, &rng)
            var dxFast = [Float](repeating: .nan, count: count), dxSlow = dxFast
            ReLU6.backward(dx: &dxFast, dy: dy, maskBytes: slow, count: count)
            ReLU6.backwardPortable(dx: &dxSlow, dy: dy, maskBytes: slow, count: count)
            XCTAssertEqual(dxFast.map(\.bitPattern), dxSlow.map(\.bitPattern), "backward, \(count) values")
        }
    }

    /// The residual add against the Swift loop, bit for bit: random multipliers (and a few at and
    /// past 1, which take the scalar formula), zero points, lengths on and off the vector.
    func testResidualAddEqualsTheSwiftLoop() {
        var rng = SplitMix64(seed: 31)
        for trial in 0..<30 {
            let count = [1, 7, 8, 9, 64, 100, 1000][trial % 7]
            let ma = FixedPointMultiplier(trial % 10 == 9 ? 1.25 : Double(rng.nextFloat(in: 0.05...0.99)))
            let mb = FixedPointMultiplier(Double(rng.nextFloat(in: 0.05...0.99)))
            let a = randomInt8(count, &rng), b = randomInt8(count, &rng)
            let za = Int32(Int(rng.next() % 256) - 128), zb = Int32(Int(rng.next() % 256) - 128), zy = Int32(Int(rng.next() % 256) - 128)
            var fast = [Int8](repeating: 1, count: count), slow = [Int8](repeating: -1, count: count)
            Int8Kernels.add(y: &fast, a: a, b: b, ma: ma, mb: mb, za: za, zb: zb, zy: zy, count: count)
            Int8Kernels.addPortable(y: &slow, a: a, b: b, ma: ma, mb: mb, za: za, zb: zb, zy: zy, count: count)
            XCTAssertEqual(fast, slow, "trial \(trial)")
        }
    }

    /// The bias gradient, 16 channels per vector, against the Swift loop bit for bit.
    func testBiasGradientEqualsTheSwiftLoop() {
        var rng = SplitMix64(seed: 32)
        for (channels, plane) in [(1, 1), (16, 4), (17, 4), (1152, 4), (320, 32), (40, 63), (33, 100), (7, 16)] {
            let dy = randomFloats(channels * plane, &rng), start = randomFloats(channels, &rng)
            var fast = start, slow = start
            Conv2D.backwardBias(dbias: &fast, dy: dy, channels: channels, plane: plane)
            Conv2D.backwardBiasPortable(dbias: &slow, dy: dy, channels: channels, plane: plane)
            XCTAssertEqual(fast.map(\.bitPattern), slow.map(\.bitPattern), "\(channels) × \(plane)")
        }
    }

    /// SGD on a 1×1 conv's chosen input channels, gathered and scattered 16 at a time, against the
    /// element formula w − η·g, bit for bit.
    func testSGDOnChosenColumnsEqualsTheElementFormula() {
        var rng = SplitMix64(seed: 33)
        for (out, cin, k) in [(1, 1, 1), (24, 40, 5), (192, 1152, 144), (1280, 320, 40), (7, 33, 17)] {
            let spec = ConvUnitSpec(name: "c", bnName: "bn", inChannels: cin, outChannels: out, kernel: 1, stride: 1, groups: 1, padding: .symmetric(0), relu6: false, bnEps: 1e-5)
            var chans = Array(0..<cin).map(Int32.init)
            chans.shuffle(using: &rng)
            chans = Array(chans.prefix(k))
            let w0 = randomFloats(out * cin, &rng), g = randomFloats(out * k, &rng)
            var want = w0
            for o in 0..<out { for (i, c) in chans.enumerated() { want[o * cin + Int(c)] -= 0.0125 * g[o * k + i] } }
            var got = w0
            g.withUnsafeBufferPointer { SGD.applySubset(&got, gradient: $0.baseAddress!, channels: chans, spec: spec, learningRate: 0.0125) }
            XCTAssertEqual(got.map(\.bitPattern), want.map(\.bitPattern), "\(out)×\(cin), \(k) channels")
        }
    }
}
