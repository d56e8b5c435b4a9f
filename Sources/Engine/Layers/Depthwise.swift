// Depthwise convolution (groups == channels): direct kernels, no im2col.
// Layout: x [C][N][H][W], y [C][N][OH][OW], weight [C][1][KH][KW], bias [C].
//
// Two paths, chosen by output width:
//   - wide planes (OW ≥ 8): 8 output columns at a time in a SIMD register, all taps accumulated
//     before one store, reading a zero-bordered copy of the plane; stride 2 reads de-interleaved
//     even/odd columns so every load stays contiguous;
//   - narrow planes (the late layers: 2×2, 4×4): the batch becomes the vector lane — the channel's
//     N planes are transposed into a zero-padded [Hp][Wp][N] buffer and each tap is an N-wide
//     multiply-add. At batch 8 that is one AVX register per tap. Where `Kernels.avx512`, the
//     channels are the lanes instead (`CKernels`, 16 per vector, the same FMAs in the same order).
import CKernels

/// Direct depthwise convolution.
public enum Depthwise {
    /// Output widths below this use the batch-lane path.
    static let narrowWidth = 8

    /// `y = depthwise(x, weight) + bias`.
    public static func forward(y: UnsafeMutablePointer<Float>, x: UnsafePointer<Float>,
                               weight: UnsafePointer<Float>, bias: UnsafePointer<Float>?,
                               g: ConvGeometry, ws: Workspace) {
        if g.outWidth < narrowWidth && Kernels.avx512 {
            let (lanes, scratch) = laneBuffers(weight: weight, g: g, ws: ws)
            sf_f32_depthwise_forward(y, x, lanes, bias, g.outChannels, g.batch, g.height, g.width, g.kernelH, g.kernelW, g.strideH, g.strideW,
                                     g.padding.top, g.padding.left, g.outHeight, g.outWidth, scratch)
        } else if g.outWidth < narrowWidth {
            forwardNarrow(y: y, x: x, weight: weight, bias: bias, g: g, ws: ws)
        } else {
            forwardWide(y: y, x: x, weight: weight, bias: bias, g: g, ws: ws)
        }
    }

    @inline(__always)
    static func load8(_ p: UnsafePointer<Float>) -> SIMD8<Float> {
        UnsafeRawPointer(p).loadUnaligned(as: SIMD8<Float>.self)
    }

    @inline(__always)
    static func store8(_ v: SIMD8<Float>, _ p: UnsafeMutablePointer<Float>) {
        UnsafeMutableRawPointer(p).storeBytes(of: v, as: SIMD8<Float>.self)
    }

    /// Wide planes: each plane is copied once into a zero-bordered buffer (stride 2: split into
    /// even and odd padded columns), then 8 output columns at a time accumulate every tap in a
    /// register and are stored once.
    static func forwardWide(y: UnsafeMutablePointer<Float>, x: UnsafePointer<Float>,
                            weight: UnsafePointer<Float>, bias: UnsafePointer<Float>?,
                            g: ConvGeometry, ws: Workspace) {
        let oh = g.outHeight, ow = g.outWidth, s = g.strideW, sh = g.strideH, kh = g.kernelH, kw = g.kernelW
        let wp = g.width + g.padding.left + g.padding.right
        let hp = g.height + g.padding.top + g.padding.bottom
        let half = (wp + 1) / 2
        let padded = ws.aux.floats(hp * wp + (s == 2 ? 2 * hp * half : 0))
        let split = padded + hp * wp  // [Hp][2][half]: even columns then odd columns of each padded row
        padded.update(repeating: 0, count: hp * wp)
        for c in 0..<g.outChannels {
            let w = weight + c * kh * kw
            let b = bias?[c] ?? 0
            for n in 0..<g.batch {
                let plane = x + (c * g.batch + n) * g.inPlane
                for r in 0..<g.height {
                    (padded + (r + g.padding.top) * wp + g.padding.left).update(from: plane + r * g.width, count: g.width)
                }
                var rows = UnsafePointer(padded), rowStride = wp
                if s == 2 {
                    for r in 0..<hp {
                        let src = padded + r * wp, even = split + r * 2 * half, odd = even + half
                        for j in 0..<half { even[j] = src[2 * j] }
                        for j in 0..<wp / 2 { odd[j] = src[2 * j + 1] }
                        if wp % 2 == 1 { odd[half - 1] = 0 }
                    }
                    rows = UnsafePointer(split); rowStride = 2 * half
                } else if s != 1 {
                    preconditionFailure("Depthwise: stride \(s) is not supported (1 or 2)")
                }
                let out = y + (c * g.batch + n) * oh * ow
                for oy in 0..<oh {
                    let orow = out + oy * ow
                    var ox = 0
                    while ox + 8 <= ow {
                        var acc = SIMD8<Float>(repeating: b)
                        for ki in 0..<kh {
                            let row = rows + (oy * sh + ki) * rowStride
                            for kj in 0..<kw {
                                // Stride 2: column 2·ox + kj is even[ox + kj/2] or odd[ox + (kj−1)/2].
                                let src = s == 1 ? row + ox + kj : row + (kj & 1) * half + ox + (kj >> 1)
                                acc.addProduct(SIMD8(repeating: w[ki * kw + kj]), load8(src))
                            }
                        }
                        store8(acc, orow + ox)
                        ox += 8
                    }
                    while ox < ow {
                        var acc = b
                        for ki in 0..<kh {
                            let row = rows + (oy * sh + ki) * rowStride
                            for kj in 0..<kw {
                                let src = s == 1 ? row + ox + kj : row + (kj & 1) * half + ox + (kj >> 1)
                                acc = acc.addingProduct(w[ki * kw + kj], src[0])
                            }
                        }
                        orow[ox] = acc
                        ox += 1
                    }
                }
            }
        }
    }

    /// Fills `t` [Hp][Wp][N] (zero borders) with channel `c` of `x`, batch innermost.
    @inline(__always)
    static func transposeIn(_ t: UnsafeMutablePointer<Float>, _ x: UnsafePointer<Float>, c: Int, g: ConvGeometry, wp: Int) {
        let n = g.batch
        for b in 0..<n {
            let plane = x + (c * n + b) * g.inPlane
            for r in 0..<g.height {
                let dst = t + ((r + g.padding.top) * wp + g.padding.left) * n + b
                let row = plane + r * g.width
                for col in 0..<g.width { dst[col * n] = row[col] }
            }
        }
    }

    /// Narrow planes: batch lanes (SIMD8 when N = 8, scalar registers when N = 1).
    static func forwardNarrow(y: UnsafeMutablePointer<Float>, x: UnsafePointer<Float>,
                              weight: UnsafePointer<Float>, bias: UnsafePointer<Float>?,
                              g: ConvGeometry, ws: Workspace) {
        let n = g.batch, oh = g.outHeight, ow = g.outWidth, kh = g.kernelH, kw = g.kernelW
        let wp = g.width + g.padding.left + g.padding.right
        let hp = g.height + g.padding.top + g.padding.bottom
        let t = ws.aux.floats(hp * wp * n + n)
        let acc = t + hp * wp * n
        t.update(repeating: 0, count: hp * wp * n)  // borders stay zero; interiors are overwritten per channel
        for c in 0..<g.outChannels {
            transposeIn(t, x, c: c, g: g, wp: wp)
            let w = weight + c * kh * kw
            let b = bias?[c] ?? 0
            for oy in 0..<oh {
                for ox in 0..<ow {
                    let corner = t + ((oy * g.strideH) * wp + ox * g.strideW) * n
                    if n == 8 {
                        var v = SIMD8<Float>(repeating: b)
                        for ki in 0..<kh {
                            for kj in 0..<kw { v.addProduct(SIMD8(repeating: w[ki * kw + kj]), load8(corner + (ki * wp + kj) * 8)) }
                        }
                        for l in 0..<8 { y[((c * 8 + l) * oh + oy) * ow + ox] = v[l] }
                    } else if n == 1 {
                        var v = b
                        for ki in 0..<kh {
                            for kj in 0..<kw { v = v.addingProduct(w[ki * kw + kj], corner[ki * wp + kj]) }
                        }
                        y[(c * oh + oy) * ow + ox] = v
                    } else {
                        acc.update(repeating: b, count: n)
                        for ki in 0..<kh {
                            for kj in 0..<kw {
                                let wv = w[ki * kw + kj]
                                let src = corner + (ki * wp + kj) * n
                                for l in 0..<n { acc[l] = acc[l].addingProduct(wv, src[l]) }
                            }
                        }
                        for l in 0..<n { y[((c * n + l) * oh + oy) * ow + ox] = acc[l] }
                    }
                }
            }
        }
    }

    /// `dx = ∂L/∂x` (overwrites dx).
    public static func backwardInput(dx: UnsafeMutablePointer<Float>, dy: UnsafePointer<Float>,
                                     weight: UnsafePointer<Float>, g: ConvGeometry, ws: Workspace) {
        let n = g.batch, oh = g.outHeight, ow = g.outWidth, kh = g.kernelH, kw = g.kernelW
        let wp = g.width + g.padding.left + g.padding.right
        let hp = g.height + g.padding.top + g.padding.bottom
        if g.outWidth < narrowWidth && Kernels.avx512 {
            let (lanes, scratch) = laneBuffers(weight: weight, g: g, ws: ws)
            sf_f32_depthwise_backward_input(dx, dy, lanes, g.outChannels, g.batch, g.height, g.width, g.kernelH, g.kernelW, g.strideH, g.strideW,
                                            g.padding.top, g.padding.left, g.outHeight, g.outWidth, scratch)
            return
        }
        if g.outWidth < narrowWidth {
            backwardInputNarrow(dx: dx, dy: dy, weight: weight, g: g, ws: ws)
            return
        }
        // Wide planes: scatter each tap into a zero-padded plane (contiguous at stride 1).
        let padded = ws.aux.floats(hp * wp)
        let sh = g.strideH, sw = g.strideW
        for c in 0..<g.outChannels {
            let w = weight + c * kh * kw
            for b in 0..<n {
                padded.update(repeating: 0, count: hp * wp)
                let grad = dy + (c * n + b) * oh * ow
                for oy in 0..<oh {
                    let grow = grad + oy * ow
                    for ki in 0..<kh {
                        let prow = padded + (oy * sh + ki) * wp
                        for kj in 0..<kw {
                            let wv = w[ki * kw + kj]
                            let base = prow + kj
                            if sw == 1 {
                                for ox in 0..<ow { base[ox] += wv * grow[ox] }
                            } else {
                                for ox in 0..<ow { base[ox * sw] += wv * grow[ox] }
                            }
                        }
                    }
                }
                let out = dx + (c * n + b) * g.inPlane
                for r in 0..<g.height {
                    (out + r * g.width).update(from: padded + (r + g.padding.top) * wp + g.padding.left, count: g.width)
                }
            }
        }
    }

    /// Narrow planes, batch lanes: accumulate into a padded [Hp][Wp][N] gradient, then scatter its
    /// interior (the reference of the AVX-512 kernel).
    static func backwardInputNarrow(dx: UnsafeMutablePointer<Float>, dy: UnsafePointer<Float>,
                                    weight: UnsafePointer<Float>, g: ConvGeometry, ws: Workspace) {
        let n = g.batch, oh = g.outHeight, ow = g.outWidth, kh = g.kernelH, kw = g.kernelW
        let wp = g.width + g.padding.left + g.padding.right
        let hp = g.height + g.padding.top + g.padding.bottom
        let t = ws.aux.floats(hp * wp * n + n)
        let grad = t + hp * wp * n
        for c in 0..<g.outChannels {
            t.update(repeating: 0, count: hp * wp * n)
            let w = weight + c * kh * kw
            for oy in 0..<oh {
                for ox in 0..<ow {
                    let corner = t + ((oy * g.strideH) * wp + ox * g.strideW) * n
                    if n == 8 {
                        var gv = SIMD8<Float>()
                        for l in 0..<8 { gv[l] = dy[((c * 8 + l) * oh + oy) * ow + ox] }
                        for ki in 0..<kh {
                            for kj in 0..<kw {
                                let dst = corner + (ki * wp + kj) * 8
                                var v = load8(dst)
                                v.addProduct(SIMD8(repeating: w[ki * kw + kj]), gv)
                                store8(v, dst)
                            }
                        }
                    } else if n == 1 {
                        let gv = dy[(c * oh + oy) * ow + ox]
                        for ki in 0..<kh {
                            for kj in 0..<kw { corner[ki * wp + kj] = corner[ki * wp + kj].addingProduct(w[ki * kw + kj], gv) }
                        }
                    } else {
                        for l in 0..<n { grad[l] = dy[((c * n + l) * oh + oy) * ow + ox] }
                        for ki in 0..<kh {
                            for kj in 0..<kw {
                                let wv = w[ki * kw + kj]
                                let dst = corner + (ki * wp + kj) * n
                                for l in 0..<n { dst[l] = dst[l].addingProduct(wv, grad[l]) }
                            }
                        }
                    }
                }
            }
            for b in 0..<n {
                let plane = dx + (c * n + b) * g.inPlane
                for r in 0..<g.height {
                    let src = t + ((r + g.padding.top) * wp + g.padding.left) * n + b
                    for col in 0..<g.width { plane[r * g.width + col] = src[col * n] }
                }
            }
        }
    }

    /// Whether the lane-order AVX-512 kernels run for this geometry (narrow planes).
    static func usesLanes(_ g: ConvGeometry) -> Bool { Kernels.avx512 && g.outWidth < narrowWidth }

    /// `forward` on narrow planes with the weights already in lane order (`DepthwiseLanes.fp32`).
    static func forward(y: UnsafeMutablePointer<Float>, x: UnsafePointer<Float>, lanes: UnsafePointer<Float>, bias: UnsafePointer<Float>?,
                        g: ConvGeometry, ws: Workspace) {
        precondition(usesLanes(g), "Depthwise: the lane kernels run on AVX-512 for narrow planes")
        sf_f32_depthwise_forward(y, x, lanes, bias, g.outChannels, g.batch, g.height, g.width, g.kernelH, g.kernelW, g.strideH, g.strideW,
                                 g.padding.top, g.padding.left, g.outHeight, g.outWidth, scratch(g, ws))
    }

    /// `backwardInput` on narrow planes with the weights already in lane order.
    static func backwardInput(dx: UnsafeMutablePointer<Float>, dy: UnsafePointer<Float>, lanes: UnsafePointer<Float>, g: ConvGeometry, ws: Workspace) {
        precondition(usesLanes(g), "Depthwise: the lane kernels run on AVX-512 for narrow planes")
        sf_f32_depthwise_backward_input(dx, dy, lanes, g.outChannels, g.batch, g.height, g.width, g.kernelH, g.kernelW, g.strideH, g.strideW,
                                        g.padding.top, g.padding.left, g.outHeight, g.outWidth, scratch(g, ws))
    }

    /// The lane kernels' scratch block (in `ws.aux`).
    static func scratch(_ g: ConvGeometry, _ ws: Workspace) -> UnsafeMutablePointer<Float> {
        ws.aux.floats(sf_f32_depthwise_scratch_bytes(g.height, g.width, g.kernelH, g.kernelW, g.strideH, g.strideW, g.padding.top, g.padding.left,
                                                     g.outHeight, g.outWidth) / 4 + 1)
    }

    /// The weights in the lane order of the AVX-512 kernels (16 channels per vector, laid out per
    /// call in `ws.aux2`) and their scratch block (in `ws.aux`).
    static func laneBuffers(weight: UnsafePointer<Float>, g: ConvGeometry, ws: Workspace) -> (UnsafeMutablePointer<Float>, UnsafeMutablePointer<Float>) {
        let lanes = ws.aux2.floats((g.outChannels + 15) / 16 * 16 * g.taps)
        sf_f32_depthwise_lanes(nil, nil, weight, g.outChannels, g.taps, lanes)
        let bytes = sf_f32_depthwise_scratch_bytes(g.height, g.width, g.kernelH, g.kernelW, g.strideH, g.strideW, g.padding.top, g.padding.left,
                                                   g.outHeight, g.outWidth)
        return (lanes, ws.aux.floats(bytes / 4 + 1))
    }

    /// Copies plane `src` [H][W] into `dst` [H+top+bottom][W+left+right] with zero borders.
    @inline(__always)
    static func pad(_ dst: UnsafeMutablePointer<Float>, _ src: UnsafePointer<Float>, g: ConvGeometry) {
        let wp = g.width + g.padding.left + g.padding.right
        let hp = g.height + g.padding.top + g.padding.bottom
        dst.update(repeating: 0, count: hp * wp)
        for r in 0..<g.height {
            (dst + (r + g.padding.top) * wp + g.padding.left).update(from: src + r * g.width, count: g.width)
        }
    }

    /// Accumulates `∂L/∂weight` for `channels` (nil: all) into `dweight` [len][1][KH][KW].
    /// With `packed`, `x` holds only those channels' maps, [len][N][H][W]; `dy` is always whole.
    public static func backwardWeight(dweight: UnsafeMutablePointer<Float>, dy: UnsafePointer<Float>,
                                      x: UnsafePointer<Float>, channels: [Int32]?, packed: Bool = false,
                                      g: ConvGeometry, ws: Workspace) {
        let wp = g.width + g.padding.left + g.padding.right
        let hp = g.height + g.padding.top + g.padding.bottom
        let padded = ws.aux.floats(hp * wp)
        let oh = g.outHeight, ow = g.outWidth, sh = g.strideH, sw = g.strideW
        let kh = g.kernelH, kw = g.kernelW
        let list = channels ?? (0..<g.outChannels).map { Int32($0) }
        for (i, c32) in list.enumerated() {
            let c = Int(c32)
            precondition(c >= 0 && c < g.outChannels, "Depthwise: channel \(c) out of range 0..<\(g.outChannels)")
            let dw = dweight + i * kh * kw
            for n in 0..<g.batch {
                pad(padded, x + ((packed ? i : c) * g.batch + n) * g.inPlane, g: g)
                let grad = dy + (c * g.batch + n) * oh * ow
                for ki in 0..<kh {
                    for kj in 0..<kw {
                        var s: Float = 0
                        for oy in 0..<oh {
                            let base = padded + (oy * sh + ki) * wp + kj
                            let grow = grad + oy * ow
                            if sw == 1 {
                                for ox in 0..<ow { s += grow[ox] * base[ox] }
                            } else {
                                for ox in 0..<ow { s += grow[ox] * base[ox * sw] }
                            }
                        }
                        dw[ki * kw + kj] += s
                    }
                }
            }
        }
    }
}
