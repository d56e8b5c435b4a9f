// Depthwise convolution (groups == channels): a direct kernel, one plane at a time.
// Layout: x [C][N][H][W], y [C][N][OH][OW], weight [C][1][KH][KW], bias [C].
// Each input plane is first copied into a zero-padded scratch plane, so the inner loops have no
// bounds checks; at stride 1 the innermost loop is a contiguous multiply-add the compiler
// vectorises (AVX2/FMA in release builds).

/// Direct depthwise convolution.
public enum Depthwise {
    /// Copies plane `src` [H][W] into `dst` [H+top+bottom][W+left+right] with zero borders.
    @inline(__always)
    static func pad(_ dst: UnsafeMutablePointer<Float>, _ src: UnsafePointer<Float>, g: ConvGeometry) {
        let wp = g.width + g.padding.left + g.padding.right
        let hp = g.height + g.padding.top + g.padding.bottom
        dst.update(repeating: 0, count: hp * wp)
        for y in 0..<g.height {
            (dst + (y + g.padding.top) * wp + g.padding.left).update(from: src + y * g.width, count: g.width)
        }
    }

    /// `y = depthwise(x, weight) + bias`.
    public static func forward(y: UnsafeMutablePointer<Float>, x: UnsafePointer<Float>,
                               weight: UnsafePointer<Float>, bias: UnsafePointer<Float>?,
                               g: ConvGeometry, ws: Workspace) {
        let wp = g.width + g.padding.left + g.padding.right
        let hp = g.height + g.padding.top + g.padding.bottom
        let padded = ws.aux.floats(hp * wp)
        let oh = g.outHeight, ow = g.outWidth, sh = g.strideH, sw = g.strideW
        let kh = g.kernelH, kw = g.kernelW
        for c in 0..<g.outChannels {
            let w = weight + c * kh * kw
            let b = bias?[c] ?? 0
            for n in 0..<g.batch {
                pad(padded, x + (c * g.batch + n) * g.inPlane, g: g)
                let out = y + (c * g.batch + n) * oh * ow
                for oy in 0..<oh {
                    let orow = out + oy * ow
                    orow.update(repeating: b, count: ow)
                    for ki in 0..<kh {
                        let irow = padded + (oy * sh + ki) * wp
                        for kj in 0..<kw {
                            let wv = w[ki * kw + kj]
                            let base = irow + kj
                            if sw == 1 {
                                for ox in 0..<ow { orow[ox] += wv * base[ox] }
                            } else {
                                for ox in 0..<ow { orow[ox] += wv * base[ox * sw] }
                            }
                        }
                    }
                }
            }
        }
    }

    /// `dx = ∂L/∂x` (overwrites dx).
    public static func backwardInput(dx: UnsafeMutablePointer<Float>, dy: UnsafePointer<Float>,
                                     weight: UnsafePointer<Float>, g: ConvGeometry, ws: Workspace) {
        let wp = g.width + g.padding.left + g.padding.right
        let hp = g.height + g.padding.top + g.padding.bottom
        let padded = ws.aux.floats(hp * wp)
        let oh = g.outHeight, ow = g.outWidth, sh = g.strideH, sw = g.strideW
        let kh = g.kernelH, kw = g.kernelW
        for c in 0..<g.outChannels {
            let w = weight + c * kh * kw
            for n in 0..<g.batch {
                padded.update(repeating: 0, count: hp * wp)
                let grad = dy + (c * g.batch + n) * oh * ow
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
                let out = dx + (c * g.batch + n) * g.inPlane
                for yy in 0..<g.height {
                    (out + yy * g.width).update(from: padded + (yy + g.padding.top) * wp + g.padding.left, count: g.width)
                }
            }
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
