// Convolution: forward and backward side by side, via im2col + GEMM (1×1: plain GEMM).
// Layout: x [Cin][N][H][W], y [Cout][N][OH][OW], weight [Cout][Cin/groups][KH][KW], bias [Cout].
// Depthwise convs go to `Depthwise`; everything else is GEMM: OpenBLAS, or for 1×1 convs with few
// columns (the late layers) the unpacked AVX-512 kernels of `CKernels` (`Kernels.smallColumns`).
import CKernels

/// A general 2-D convolution over the CNHW layout.
public enum Conv2D {
    /// `y = conv(x, weight) + bias` (bias optional).
    public static func forward(y: UnsafeMutablePointer<Float>, x: UnsafePointer<Float>,
                               weight: UnsafePointer<Float>, bias: UnsafePointer<Float>?,
                               g: ConvGeometry, ws: Workspace) {
        if g.isDepthwise {
            Depthwise.forward(y: y, x: x, weight: weight, bias: bias, g: g, ws: ws)
            return
        }
        let p = g.batch * g.outPlane
        if g.isPointwiseGEMM {
            if Kernels.avx512 && p <= Kernels.smallColumns {
                sf_sgemm_nn(g.outChannels, g.inChannels, p, weight, x, y)
            } else {
                BLAS.sgemm(m: g.outChannels, n: p, k: g.inChannels, a: weight, lda: g.inChannels,
                           b: x, ldb: p, c: y, ldc: p)
            }
        } else {
            let rows = g.inPerGroup * g.taps
            let col = ws.col.floats(rows * p)
            for grp in 0..<g.groups {
                let channels = (grp * g.inPerGroup..<(grp + 1) * g.inPerGroup).map { Int32($0) }
                channels.withUnsafeBufferPointer { Im2col.unfold(col: col, x: x, channels: $0, g: g) }
                BLAS.sgemm(m: g.outPerGroup, n: p, k: rows,
                           a: weight + grp * g.outPerGroup * rows, lda: rows,
                           b: col, ldb: p, c: y + grp * g.outPerGroup * p, ldc: p)
            }
        }
        if let bias { addBias(y: y, bias: bias, channels: g.outChannels, plane: p) }
    }

    /// Adds `bias[c]` to every value of channel `c`.
    @inlinable
    public static func addBias(y: UnsafeMutablePointer<Float>, bias: UnsafePointer<Float>, channels: Int, plane: Int) {
        for c in 0..<channels {
            let b = bias[c]
            let row = y + c * plane
            for i in 0..<plane { row[i] += b }
        }
    }

    /// `dx = ∂L/∂x` given `dy` (overwrites dx; uses the weights as they are now).
    public static func backwardInput(dx: UnsafeMutablePointer<Float>, dy: UnsafePointer<Float>,
                                     weight: UnsafePointer<Float>, g: ConvGeometry, ws: Workspace) {
        if g.isDepthwise {
            Depthwise.backwardInput(dx: dx, dy: dy, weight: weight, g: g, ws: ws)
            return
        }
        let p = g.batch * g.outPlane
        if g.isPointwiseGEMM {
            if Kernels.avx512 && p <= Kernels.smallColumns {
                sf_sgemm_tn(g.outChannels, g.inChannels, p, weight, dy, dx)
            } else {
                BLAS.sgemm(transA: true, m: g.inChannels, n: p, k: g.outChannels, a: weight, lda: g.inChannels,
                           b: dy, ldb: p, c: dx, ldc: p)
            }
            return
        }
        let rows = g.inPerGroup * g.taps
        let colGrad = ws.col.floats(rows * p)
        dx.update(repeating: 0, count: g.inputCount)
        for grp in 0..<g.groups {
            BLAS.sgemm(transA: true, m: rows, n: p, k: g.outPerGroup,
                       a: weight + grp * g.outPerGroup * rows, lda: rows,
                       b: dy + grp * g.outPerGroup * p, ldb: p, c: colGrad, ldc: p)
            let channels = (grp * g.inPerGroup..<(grp + 1) * g.inPerGroup).map { Int32($0) }
            channels.withUnsafeBufferPointer { Im2col.fold(dx: dx, col: colGrad, channels: $0, g: g) }
        }
    }

    /// Accumulates `∂L/∂weight` for the input channels `channels` only (nil: all), into
    /// `dweight` laid out [Cout][len(channels)][KH][KW] (for depthwise: [len(channels)][1][KH][KW]).
    /// Cost and memory scale with the number of channels: only those input maps are read.
    /// With `packed`, `x` holds only the chosen input maps, [len(channels)][N][H][W] — what a
    /// device keeps from its forward pass; otherwise `x` is the whole input map.
    public static func backwardWeight(dweight: UnsafeMutablePointer<Float>, dy: UnsafePointer<Float>,
                                      x: UnsafePointer<Float>, channels: [Int32]?, packed: Bool = false,
                                      g: ConvGeometry, ws: Workspace) {
        if g.isDepthwise {
            Depthwise.backwardWeight(dweight: dweight, dy: dy, x: x, channels: channels, packed: packed, g: g, ws: ws)
            return
        }
        let p = g.batch * g.outPlane
        guard let channels else {
            if g.isPointwiseGEMM {
                BLAS.sgemm(transB: true, m: g.outChannels, n: g.inChannels, k: p, a: dy, lda: p,
                           b: x, ldb: p, beta: 1, c: dweight, ldc: g.inChannels)
                return
            }
            let rows = g.inPerGroup * g.taps
            let col = ws.col.floats(rows * p)
            for grp in 0..<g.groups {
                let chans = (grp * g.inPerGroup..<(grp + 1) * g.inPerGroup).map { Int32($0) }
                chans.withUnsafeBufferPointer { Im2col.unfold(col: col, x: x, channels: $0, g: g) }
                BLAS.sgemm(transB: true, m: g.outPerGroup, n: rows, k: p,
                           a: dy + grp * g.outPerGroup * p, lda: p, b: col, ldb: p, beta: 1,
                           c: dweight + grp * g.outPerGroup * rows, ldc: rows)
            }
            return
        }
        precondition(g.groups == 1, "Conv2D.backwardWeight: channel subsets need groups == 1 or a depthwise conv")
        let k = channels.count
        if k == 0 { return }
        for c in channels {
            precondition(c >= 0 && Int(c) < g.inChannels, "Conv2D: channel \(c) out of range 0..<\(g.inChannels)")
        }
        let rows = k * g.taps
        var source = x
        var unfoldChannels = channels
        var ug = g
        if packed {
            unfoldChannels = (0..<k).map { Int32($0) }
            ug.inChannels = k
        }
        if g.isPointwiseGEMM {
            if !packed {
                // Gather the k input maps: O(k·N·H·W), then one GEMM of size Cout×k×P.
                let gathered = ws.col.floats(rows * p)
                for (i, c) in channels.enumerated() { (gathered + i * p).update(from: x + Int(c) * p, count: p) }
                source = UnsafePointer(gathered)
            }
        } else {
            let col = ws.col.floats(rows * p)
            unfoldChannels.withUnsafeBufferPointer { Im2col.unfold(col: col, x: x, channels: $0, g: ug) }
            source = UnsafePointer(col)
        }
        if Kernels.avx512 && g.isPointwiseGEMM && p <= Kernels.smallColumns {  // few pixels: no packing (CKernels)
            sf_sgemm_nt_acc(g.outChannels, rows, p, dy, source, dweight, ws.aux.floats(sf_sgemm_nt_scratch_bytes(rows, p) / 4 + 1))
            return
        }
        BLAS.sgemm(transB: true, m: g.outChannels, n: rows, k: p, a: dy, lda: p,
                   b: source, ldb: p, beta: 1, c: dweight, ldc: rows)
    }

    /// Accumulates `∂L/∂bias[c] = Σ dy[c, …]` (each channel's sum from 0 in increasing order; in
    /// `CKernels`, 16 channels at a time on small planes, the same bits).
    public static func backwardBias(dbias: UnsafeMutablePointer<Float>, dy: UnsafePointer<Float>, channels: Int, plane: Int) {
        sf_bias_gradient(dbias, dy, channels, plane)
    }

    /// `backwardBias` as a Swift loop (the reference).
    static func backwardBiasPortable(dbias: UnsafeMutablePointer<Float>, dy: UnsafePointer<Float>, channels: Int, plane: Int) {
        for c in 0..<channels {
            let row = dy + c * plane
            var s: Float = 0
            for i in 0..<plane { s += row[i] }
            dbias[c] += s
        }
    }
}
