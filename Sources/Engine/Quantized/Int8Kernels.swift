// The integer kernels of the int8 device: int8 × int8 products accumulated in int32, then
// requantised per output channel with a `FixedPointMultiplier`, as CMSIS-NN / TFLite Micro run
// them. Layout as the fp32 engine: feature maps [C][N][H][W], weights [Cout][Cin/groups][K][K].
// Activations are per tensor with a zero point z (real = s·(q − z)), so padding stores z.
import CKernels
import Foundation

/// Scratch buffers of the integer kernels.
public final class Int8Workspace {
    /// Accumulators.
    public let acc = TypedScratch<Int32>()
    /// Unfolded patches / transposed operands.
    public let bytes = TypedScratch<Int8>()
    /// Zero-padded planes.
    public let padded = TypedScratch<Int32>()
    /// im2col matrices.
    public let col = TypedScratch<Int8>()
    /// The VNNI GEMM's transposed, offset operand.
    let vnni = TypedScratch<UInt8>()
    /// Depthwise weights in lane order, laid out per call.
    let lanes = TypedScratch<Int32>()

    /// Empty buffers.
    public init() {}
}

/// The integer kernels.
public enum Int8Kernels {
    /// Which GEMM runs: `vnni` (AVX-512 VNNI, `CKernels`) where the CPU has it, else `portable`
    /// (the Swift loop). `SPARSEFLEET_INT8_GEMM=portable` (or `SPARSEFLEET_KERNELS=portable`) forces
    /// the Swift loop. Both are exact, so results are bitwise the same either way.
    public static let gemmKernel: String = {
        if let raw = getenv("SPARSEFLEET_INT8_GEMM"), String(cString: raw) == "portable" { return "portable" }
        if let raw = getenv("SPARSEFLEET_KERNELS"), String(cString: raw) == "portable" { return "portable" }
        return cpuHasVNNI ? "vnni" : "portable"
    }()
    /// Whether this CPU and OS run AVX-512 VNNI.
    public static let cpuHasVNNI = sf_int8_gemm_vnni_available() != 0
    private static let useVNNI = gemmKernel == "vnni"

    /// `c[i][j] = Σ_l a[i][l]·b[l][j]` over int8, exact in int32 (|k| < 2^16 cannot overflow).
    public static func gemm(m: Int, n: Int, k: Int, a: UnsafePointer<Int8>, b: UnsafePointer<Int8>,
                            c: UnsafeMutablePointer<Int32>, ws: Int8Workspace) {
        if useVNNI && k < 1 << 16 {
            gemmVNNI(m: m, n: n, k: k, a: a, b: b, c: c, ws: ws)
        } else {
            gemmPortable(m: m, n: n, k: k, a: a, b: b, c: c, ws: ws)
        }
    }

    /// `gemm` on AVX-512 VNNI; call only where `gemmKernel == "vnni"` or the CPU is known to have it.
    public static func gemmVNNI(m: Int, n: Int, k: Int, a: UnsafePointer<Int8>, b: UnsafePointer<Int8>,
                                c: UnsafeMutablePointer<Int32>, ws: Int8Workspace) {
        guard m > 0, n > 0 else { return }
        guard k > 0 else { c.update(repeating: 0, count: m * n); return }
        let scratch = ws.vnni.get(sf_int8_gemm_scratch_bytes(m, n, k))
        sf_int8_gemm_vnni(m, n, k, a, b, c, scratch)
    }

    /// `gemm` as a portable Swift loop: B is transposed once so that every output is a contiguous
    /// int8 dot product; four columns share each load of A's row. The reference for `gemmVNNI`.
    public static func gemmPortable(m: Int, n: Int, k: Int, a: UnsafePointer<Int8>, b: UnsafePointer<Int8>,
                                    c: UnsafeMutablePointer<Int32>, ws: Int8Workspace) {
        let bt = ws.bytes.get(n * k)
        for l in 0..<k { for j in 0..<n { bt[j * k + l] = b[l * n + j] } }
        let n4 = n & ~3
        for i in 0..<m {
            let row = a + i * k
            var j = 0
            while j < n4 {
                let (s0, s1, s2, s3) = dot4(row, bt + j * k, k)
                c[i * n + j] = s0; c[i * n + j + 1] = s1; c[i * n + j + 2] = s2; c[i * n + j + 3] = s3
                j += 4
            }
            while j < n { c[i * n + j] = dot(row, bt + j * k, k); j += 1 }
        }
    }

    /// Four dot products of `x` with the consecutive length-k rows at `y`.
    @inline(__always)
    static func dot4(_ x: UnsafePointer<Int8>, _ y: UnsafePointer<Int8>, _ k: Int) -> (Int32, Int32, Int32, Int32) {
        var s0: Int32 = 0, s1: Int32 = 0, s2: Int32 = 0, s3: Int32 = 0
        let y1 = y + k, y2 = y + 2 * k, y3 = y + 3 * k
        for l in 0..<k {
            let v = Int32(x[l])
            s0 &+= v &* Int32(y[l]); s1 &+= v &* Int32(y1[l]); s2 &+= v &* Int32(y2[l]); s3 &+= v &* Int32(y3[l])
        }
        return (s0, s1, s2, s3)
    }

    /// `Σ x[i]·y[i]` in int32.
    @inline(__always)
    public static func dot(_ x: UnsafePointer<Int8>, _ y: UnsafePointer<Int8>, _ k: Int) -> Int32 {
        var s: Int32 = 0
        for i in 0..<k { s &+= Int32(x[i]) &* Int32(y[i]) }
        return s
    }

    /// The int32 accumulators of a conv (bias not added): [Cout][N·OH·OW].
    /// `pad` is the stored value of real 0 in `x` (its zero point).
    public static func convAccumulate(acc: UnsafeMutablePointer<Int32>, x: UnsafePointer<Int8>, weight: UnsafePointer<Int8>,
                                      g: ConvGeometry, pad: Int8 = 0, ws: Int8Workspace) {
        let p = g.batch * g.outPlane
        if g.isDepthwise {
            depthwiseAccumulate(acc: acc, x: x, weight: weight, g: g, pad: pad, ws: ws)
        } else if g.isPointwiseGEMM {
            gemm(m: g.outChannels, n: p, k: g.inChannels, a: weight, b: x, c: acc, ws: ws)
        } else {
            precondition(g.groups == 1, "Int8Kernels: grouped convs other than depthwise are not supported")
            let rows = g.inChannels * g.taps
            let col = ws.col.get(rows * p)
            unfold(col: col, x: x, g: g, pad: pad)
            gemm(m: g.outChannels, n: p, k: rows, a: weight, b: col, c: acc, ws: ws)
        }
    }

    /// im2col over every input channel: `col[(c·KH + ki)·KW + kj][n·OHW + oh·OW + ow]`, `pad` outside.
    public static func unfold(col: UnsafeMutablePointer<Int8>, x: UnsafePointer<Int8>, g: ConvGeometry, pad: Int8 = 0) {
        let n = g.batch, h = g.height, w = g.width, oh = g.outHeight, ow = g.outWidth
        let cols = n * oh * ow
        var row = 0
        for c in 0..<g.inChannels {
            for ki in 0..<g.kernelH {
                for kj in 0..<g.kernelW {
                    let dst = col + row * cols
                    for b in 0..<n {
                        let src = x + (c * n + b) * h * w
                        for y in 0..<oh {
                            let iy = y * g.strideH + ki - g.padding.top
                            for xo in 0..<ow {
                                let ix = xo * g.strideW + kj - g.padding.left
                                dst[(b * oh + y) * ow + xo] = (iy >= 0 && iy < h && ix >= 0 && ix < w) ? src[iy * w + ix] : pad
                            }
                        }
                    }
                    row += 1
                }
            }
        }
    }

    /// Output widths below this use the batch-lane path (the late layers: 2×2, 4×4 planes).
    static let narrowWidth = 8

    /// Depthwise accumulators (padding holds `pad`): `depthwiseAVX512` where `Kernels.avx512`,
    /// else `depthwisePortable`; exact either way.
    public static func depthwiseAccumulate(acc: UnsafeMutablePointer<Int32>, x: UnsafePointer<Int8>, weight: UnsafePointer<Int8>,
                                           g: ConvGeometry, pad padValue: Int8 = 0, ws: Int8Workspace) {
        if Kernels.avx512 {
            depthwiseAVX512(acc: acc, x: x, weight: weight, g: g, pad: padValue, ws: ws)
        } else {
            depthwisePortable(acc: acc, x: x, weight: weight, g: g, pad: padValue, ws: ws)
        }
    }

    /// `depthwiseAccumulate` on AVX-512 (`CKernels`: 16 channels per vector); call only where
    /// `Kernels.cpuHasAVX512`. Exact, so bitwise equal to `depthwisePortable`. Lays the weights
    /// out per call (`QuantizedForward` passes a weight array's cached layout instead).
    public static func depthwiseAVX512(acc: UnsafeMutablePointer<Int32>, x: UnsafePointer<Int8>, weight: UnsafePointer<Int8>,
                                       g: ConvGeometry, pad padValue: Int8 = 0, ws: Int8Workspace) {
        let lanes = ws.lanes.get((g.outChannels + 15) / 16 * 16 * g.taps)
        sf_int8_depthwise_lanes(weight, g.outChannels, g.taps, lanes)
        depthwiseAVX512(acc: acc, x: x, lanes: lanes, g: g, pad: padValue, ws: ws)
    }

    /// `depthwiseAVX512` with the weights already in lane order (`DepthwiseLanes.int8`).
    static func depthwiseAVX512(acc: UnsafeMutablePointer<Int32>, x: UnsafePointer<Int8>, lanes: UnsafePointer<Int32>,
                                g: ConvGeometry, pad padValue: Int8, ws: Int8Workspace) {
        let bytes = sf_int8_depthwise_scratch_bytes(g.kernelH, g.kernelW, g.strideH, g.strideW, g.outHeight, g.outWidth)
        let scratch = ws.padded.get((bytes + 3) / 4)
        sf_int8_depthwise(acc, x, lanes, g.outChannels, g.batch, g.height, g.width, g.kernelH, g.kernelW, g.strideH, g.strideW,
                          g.padding.top, g.padding.left, g.outHeight, g.outWidth, padValue, scratch)
    }

    /// `depthwiseAccumulate` as portable Swift loops, the reference for `depthwiseAVX512`: each
    /// channel's padded planes one tap at a time; narrow planes put the batch in the lanes instead.
    public static func depthwisePortable(acc: UnsafeMutablePointer<Int32>, x: UnsafePointer<Int8>, weight: UnsafePointer<Int8>,
                                         g: ConvGeometry, pad padValue: Int8 = 0, ws: Int8Workspace) {
        if g.outWidth < narrowWidth && g.batch > 1 {
            depthwiseNarrow(acc: acc, x: x, weight: weight, g: g, pad: padValue, ws: ws)
            return
        }
        let h = g.height, w = g.width, oh = g.outHeight, ow = g.outWidth
        let hp = h + g.padding.top + g.padding.bottom, wp = w + g.padding.left + g.padding.right
        let pad = ws.padded.get(hp * wp)
        let sh = g.strideH, sw = g.strideW
        for c in 0..<g.outChannels {
            let wc = weight + c * g.taps
            for b in 0..<g.batch {
                pad.update(repeating: Int32(padValue), count: hp * wp)
                let src = x + (c * g.batch + b) * h * w
                for y in 0..<h {
                    let prow = pad + (y + g.padding.top) * wp + g.padding.left
                    for xi in 0..<w { prow[xi] = Int32(src[y * w + xi]) }
                }
                let out = acc + (c * g.batch + b) * oh * ow
                out.update(repeating: 0, count: oh * ow)
                for ki in 0..<g.kernelH {
                    for kj in 0..<g.kernelW {
                        let wv = Int32(wc[ki * g.kernelW + kj])
                        for y in 0..<oh {
                            let prow = pad + (y * sh + ki) * wp + kj
                            let orow = out + y * ow
                            for xo in 0..<ow { orow[xo] &+= wv &* prow[xo * sw] }
                        }
                    }
                }
            }
        }
    }

    /// The batch-lane depthwise path: the channel's N planes transposed into a padded
    /// [Hp][Wp][N] buffer, each tap an N-wide multiply-add over contiguous lanes.
    static func depthwiseNarrow(acc: UnsafeMutablePointer<Int32>, x: UnsafePointer<Int8>, weight: UnsafePointer<Int8>,
                                g: ConvGeometry, pad padValue: Int8, ws: Int8Workspace) {
        let n = g.batch, h = g.height, w = g.width, oh = g.outHeight, ow = g.outWidth
        let hp = h + g.padding.top + g.padding.bottom, wp = w + g.padding.left + g.padding.right
        let pad = ws.padded.get(hp * wp * n + oh * ow * n)
        let lanes = pad + hp * wp * n
        let sh = g.strideH, sw = g.strideW
        for c in 0..<g.outChannels {
            pad.update(repeating: Int32(padValue), count: hp * wp * n)
            for b in 0..<n {
                let src = x + (c * n + b) * h * w
                for y in 0..<h {
                    for xi in 0..<w { pad[((y + g.padding.top) * wp + xi + g.padding.left) * n + b] = Int32(src[y * w + xi]) }
                }
            }
            lanes.update(repeating: 0, count: oh * ow * n)
            let wc = weight + c * g.taps
            for ki in 0..<g.kernelH {
                for kj in 0..<g.kernelW {
                    let wv = Int32(wc[ki * g.kernelW + kj])
                    for y in 0..<oh {
                        for xo in 0..<ow {
                            let src = pad + ((y * sh + ki) * wp + xo * sw + kj) * n
                            let dst = lanes + (y * ow + xo) * n
                            for b in 0..<n { dst[b] &+= wv &* src[b] }
                        }
                    }
                }
            }
            for b in 0..<n {
                let out = acc + (c * n + b) * oh * ow
                for p in 0..<oh * ow { out[p] = lanes[p * n + b] }
            }
        }
    }

    /// `y[c][i] = clamp(M[c]·(acc[c][i] + offset[c]) + zero, low, high)`.
    public static func requantise(y: UnsafeMutablePointer<Int8>, acc: UnsafePointer<Int32>, offset: UnsafePointer<Int32>?,
                                  multipliers: [FixedPointMultiplier], zero: Int32 = 0, low: Int32, high: Int32, channels: Int, plane: Int) {
        if Kernels.avx512 {
            requantiseAVX512(y: y, acc: acc, offset: offset, multipliers: multipliers, zero: zero, low: low, high: high, channels: channels, plane: plane)
        } else {
            requantisePortable(y: y, acc: acc, offset: offset, multipliers: multipliers, zero: zero, low: low, high: high, channels: channels, plane: plane)
        }
    }

    /// `requantise` on AVX-512 (`CKernels`, 16 values per vector); call only where
    /// `Kernels.cpuHasAVX512`. Integer arithmetic, bitwise equal to `requantisePortable`.
    public static func requantiseAVX512(y: UnsafeMutablePointer<Int8>, acc: UnsafePointer<Int32>, offset: UnsafePointer<Int32>?,
                                        multipliers: [FixedPointMultiplier], zero: Int32 = 0, low: Int32, high: Int32, channels: Int, plane: Int) {
        precondition(multipliers.count >= channels, "Int8Kernels.requantise: \(multipliers.count) multipliers for \(channels) channels")
        multipliers.withUnsafeBufferPointer { m in
            sf_int8_requantise(y, acc, offset, UnsafeRawPointer(m.baseAddress!), MemoryLayout<FixedPointMultiplier>.stride,
                               FixedPointMultiplier.mantissaOffset, FixedPointMultiplier.shiftOffset, zero, low, high, channels, plane, 1)
        }
    }

    /// `requantise` as a portable Swift loop: the reference for `requantiseAVX512`.
    public static func requantisePortable(y: UnsafeMutablePointer<Int8>, acc: UnsafePointer<Int32>, offset: UnsafePointer<Int32>?,
                                          multipliers: [FixedPointMultiplier], zero: Int32 = 0, low: Int32, high: Int32, channels: Int, plane: Int) {
        for c in 0..<channels {
            let m = multipliers[c], b = offset?[c] ?? 0
            for i in 0..<plane {
                let v = m.apply(acc[c * plane + i] &+ b) &+ zero
                y[c * plane + i] = Int8(min(max(v, low), high))
            }
        }
    }

    /// Fractional bits of the residual add's intermediate sum (TFLite's left shift is 20; 16 is
    /// enough for |q| ≤ 128 and keeps every term inside int32).
    static let addShift = 16

    /// `y = clamp(round((a − za)·Ma + (b − zb)·Mb) + zy)`: two int8 tensors summed at y's
    /// quantisation, via fixed-point rescaling of `(a − za)·2^16` and `(b − zb)·2^16` and one
    /// rounding shift.
    public static func add(y: UnsafeMutablePointer<Int8>, a: UnsafePointer<Int8>, b: UnsafePointer<Int8>,
                           ma: FixedPointMultiplier, mb: FixedPointMultiplier, za: Int32 = 0, zb: Int32 = 0, zy: Int32 = 0, count: Int) {
        if Kernels.avx512 {  // CKernels: eight at a time, the same integer formula
            sf_int8_add(y, a, b, ma.multiplier, ma.shift, mb.multiplier, mb.shift, za, zb, zy, count, 1)
            return
        }
        addPortable(y: y, a: a, b: b, ma: ma, mb: mb, za: za, zb: zb, zy: zy, count: count)
    }

    /// `add` as a Swift loop (the portable path and the reference).
    static func addPortable(y: UnsafeMutablePointer<Int8>, a: UnsafePointer<Int8>, b: UnsafePointer<Int8>,
                            ma: FixedPointMultiplier, mb: FixedPointMultiplier, za: Int32 = 0, zb: Int32 = 0, zy: Int32 = 0, count: Int) {
        for i in 0..<count {
            let s = ma.apply((Int32(a[i]) - za) << Int32(addShift)) &+ mb.apply((Int32(b[i]) - zb) << Int32(addShift))
            let v = FixedPointMultiplier.roundingDivideByPOT(s, addShift) &+ zy
            y[i] = Int8(min(max(v, -128), 127))
        }
    }

    /// `y[i] = round(Σ x[i][:] / plane)` (ties away from zero): the global average pool at the
    /// input's scale and zero point (the mean of q − z is the mean of q, less z).
    public static func averagePool(y: UnsafeMutablePointer<Int8>, x: UnsafePointer<Int8>, rows: Int, plane: Int) {
        for i in 0..<rows {
            var s: Int32 = 0
            for j in 0..<plane { s &+= Int32(x[i * plane + j]) }
            let q = (2 * abs(s) + Int32(plane)) / (2 * Int32(plane))
            y[i] = Int8(s < 0 ? -q : q)
        }
    }
}
