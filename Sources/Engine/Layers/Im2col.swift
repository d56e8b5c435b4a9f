// im2col / col2im for the general conv, over a subset of input channels.
// Layout: x is CNHW [C][N][H][W]; col is [len(channels)·KH·KW][N·OH·OW] row-major.

/// Unfolds input patches into a matrix so a conv becomes a GEMM.
public enum Im2col {
    /// `col[(i·KH + ki)·KW + kj][n·OHW + oh·OW + ow] = x[channels[i]][n][oh·sh + ki − top][ow·sw + kj − left]`,
    /// zero outside the input.
    public static func unfold(col: UnsafeMutablePointer<Float>, x: UnsafePointer<Float>,
                              channels: UnsafeBufferPointer<Int32>, g: ConvGeometry) {
        let n = g.batch, h = g.height, w = g.width, oh = g.outHeight, ow = g.outWidth
        let cols = n * oh * ow
        var row = 0
        for c in channels {
            let plane = x + Int(c) * n * h * w
            for ki in 0..<g.kernelH {
                for kj in 0..<g.kernelW {
                    let dst = col + row * cols
                    for b in 0..<n {
                        let src = plane + b * h * w
                        let out = dst + b * oh * ow
                        for y in 0..<oh {
                            let iy = y * g.strideH + ki - g.padding.top
                            let orow = out + y * ow
                            if iy < 0 || iy >= h {
                                orow.update(repeating: 0, count: ow)
                                continue
                            }
                            let irow = src + iy * w
                            if g.strideW == 1 {
                                // Contiguous span with zero borders.
                                let shift = kj - g.padding.left
                                let lo = max(0, -shift), hi = min(ow, w - shift)
                                if lo > 0 { orow.update(repeating: 0, count: min(lo, ow)) }
                                if hi > lo { (orow + lo).update(from: irow + lo + shift, count: hi - lo) }
                                if hi < ow { (orow + max(hi, 0)).update(repeating: 0, count: ow - max(hi, 0)) }
                            } else {
                                for xo in 0..<ow {
                                    let ix = xo * g.strideW + kj - g.padding.left
                                    orow[xo] = (ix >= 0 && ix < w) ? irow[ix] : 0
                                }
                            }
                        }
                    }
                    row += 1
                }
            }
        }
    }

    /// Adjoint of `unfold`: scatters `col` back, accumulating into `dx` (which the caller zeroes).
    public static func fold(dx: UnsafeMutablePointer<Float>, col: UnsafePointer<Float>,
                            channels: UnsafeBufferPointer<Int32>, g: ConvGeometry) {
        let n = g.batch, h = g.height, w = g.width, oh = g.outHeight, ow = g.outWidth
        let cols = n * oh * ow
        var row = 0
        for c in channels {
            let plane = dx + Int(c) * n * h * w
            for ki in 0..<g.kernelH {
                for kj in 0..<g.kernelW {
                    let src = col + row * cols
                    for b in 0..<n {
                        let dst = plane + b * h * w
                        let inp = src + b * oh * ow
                        for y in 0..<oh {
                            let iy = y * g.strideH + ki - g.padding.top
                            if iy < 0 || iy >= h { continue }
                            let drow = dst + iy * w
                            let crow = inp + y * ow
                            for xo in 0..<ow {
                                let ix = xo * g.strideW + kj - g.padding.left
                                if ix >= 0 && ix < w { drow[ix] += crow[xo] }
                            }
                        }
                    }
                    row += 1
                }
            }
        }
    }
}
