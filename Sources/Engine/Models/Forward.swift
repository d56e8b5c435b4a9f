// Inference: the forward pass of a whole network, or of a suffix of it from a cached feature map.
// Layout: images [3][N][H][W] (CNHW), logits [classes][N].

/// Runs forward passes with reusable buffers. One runner per thread.
public final class ForwardRunner {
    /// Scratch for the layer kernels.
    public let ws = Workspace()
    private let ping = Scratch(), pong = Scratch(), shortcut = Scratch(), pooled = Scratch()

    /// A runner with empty buffers.
    public init() {}

    /// Applies unit `u` of `net`: conv (+ frozen BN when unfolded) (+ ReLU6); `y` gets the output.
    @inline(__always)
    func apply(unit u: Int, of net: Network, y: UnsafeMutablePointer<Float>, x: UnsafePointer<Float>, g: ConvGeometry) {
        let p = net.units[u]
        p.weight.withUnsafeBufferPointer { w in
            p.bias.withUnsafeBufferPointer { b in
                Conv2D.forward(y: y, x: x, weight: w.baseAddress!, bias: p.bn == nil ? b.baseAddress! : nil, g: g, ws: ws)
            }
        }
        let plane = g.batch * g.outPlane
        if let bn = p.bn {
            let (scale, shift) = BatchNorm.frozenScaleShift(bn)
            BatchNorm.forwardFrozen(y: y, x: y, scale: scale, shift: shift, plane: plane)
        }
        if net.arch.units[u].relu6 { ReLU6.forward(y, count: g.outChannels * plane) }
    }

    /// Runs blocks `blocks` on `input` (the feature map entering the first of them) and returns
    /// the feature map leaving the last, [C][N][H][W].
    public func features(_ net: Network, input: [Float], batch: Int, height: Int, width: Int,
                         blocks: Range<Int>) -> [Float] {
        let geos = net.arch.geometries(batch: batch, height: height, width: width)
        return run(net, input: input, geos: geos, blocks: blocks) { ptr, count in Array(UnsafeBufferPointer(start: ptr, count: count)) }
    }

    /// Like `features`, but one sample at a time (as a device runs its frozen front). Each
    /// sample's result is then independent of the batch it came in: OpenBLAS's sums depend on
    /// the number of GEMM columns, so batched and per-sample results can differ in the last bit.
    public func featuresPerSample(_ net: Network, input: [Float], batch: Int, height: Int, width: Int,
                                  blocks: Range<Int>) -> [Float] {
        if batch == 1 { return features(net, input: input, batch: 1, height: height, width: width, blocks: blocks) }
        let inPlaneTotal = input.count / batch  // values per sample
        var samples: [[Float]] = []
        var inCh = 0, inPlane = 0
        let geos = net.arch.geometries(batch: 1, height: height, width: width)
        let firstUnit = blocks.isEmpty ? net.arch.units.count : net.arch.blocks[blocks.lowerBound].units.lowerBound
        if firstUnit < geos.count { inCh = geos[firstUnit].inChannels; inPlane = geos[firstUnit].inPlane }
        else { inCh = geos[geos.count - 1].outChannels; inPlane = geos[geos.count - 1].outPlane }
        precondition(inCh * inPlane == inPlaneTotal, "featuresPerSample: input does not match block \(blocks.lowerBound)")
        for b in 0..<batch {
            var one = [Float](repeating: 0, count: inPlaneTotal)
            for c in 0..<inCh {
                for p in 0..<inPlane { one[c * inPlane + p] = input[(c * batch + b) * inPlane + p] }
            }
            samples.append(features(net, input: one, batch: 1, height: height, width: width, blocks: blocks))
        }
        let lastUnit = blocks.isEmpty ? firstUnit - 1 : net.arch.blocks[blocks.upperBound - 1].units.upperBound - 1
        let outCh = lastUnit >= 0 ? geos[lastUnit].outChannels : inCh, outPlane = lastUnit >= 0 ? geos[lastUnit].outPlane : inPlane
        var out = [Float](repeating: 0, count: batch * outCh * outPlane)
        for (b, f) in samples.enumerated() {
            for c in 0..<outCh {
                for p in 0..<outPlane { out[(c * batch + b) * outPlane + p] = f[c * outPlane + p] }
            }
        }
        return out
    }

    /// Logits [classes][N] for `input` entering block `fromBlock` (0: raw images).
    /// `height`/`width` are those of the raw images, so geometry is resolved the same way.
    public func logits(_ net: Network, input: [Float], batch: Int, height: Int, width: Int, fromBlock: Int = 0) -> [Float] {
        let geos = net.arch.geometries(batch: batch, height: height, width: width)
        let last = geos[geos.count - 1]
        let f = net.arch.features, c = net.arch.classes
        return run(net, input: input, geos: geos, blocks: fromBlock..<net.arch.blocks.count) { top, _ in
            let pool = pooled.floats(f * batch)
            GlobalAvgPool.forward(y: pool, x: top, channels: f, batch: batch, plane: last.outPlane)
            var out = [Float](repeating: 0, count: c * batch)
            net.classifierWeight.withUnsafeBufferPointer { w in
                net.classifierBias.withUnsafeBufferPointer { b in
                    out.withUnsafeMutableBufferPointer { o in
                        Linear.forward(y: o.baseAddress!, x: pool, weight: w.baseAddress!, bias: b.baseAddress!,
                                       inFeatures: f, outFeatures: c, batch: batch)
                    }
                }
            }
            return out
        }
    }

    private func run<T>(_ net: Network, input: [Float], geos: [ConvGeometry], blocks: Range<Int>,
                        finish: (UnsafePointer<Float>, Int) -> T) -> T {
        let arch = net.arch
        let firstUnit = blocks.isEmpty ? arch.units.count : arch.blocks[blocks.lowerBound].units.lowerBound
        let inCount = firstUnit < geos.count ? geos[firstUnit].inputCount : geos[geos.count - 1].outputCount
        precondition(input.count == inCount, "forward: input has \(input.count) values, block \(blocks.lowerBound) needs \(inCount)")
        let maxCount = geos.map { max($0.inputCount, $0.outputCount) }.max() ?? 0
        var cur = ping.floats(maxCount), next = pong.floats(maxCount)
        let res = shortcut.floats(maxCount)
        input.withUnsafeBufferPointer { cur.update(from: $0.baseAddress!, count: input.count) }
        var count = input.count
        for b in blocks {
            let block = arch.blocks[b]
            if block.residual { res.update(from: cur, count: count) }
            for u in block.units {
                let g = geos[u]
                apply(unit: u, of: net, y: next, x: cur, g: g)
                swap(&cur, &next)
                count = g.outputCount
            }
            if block.residual { ResidualAdd.forward(y: cur, x: res, count: count) }
        }
        return finish(cur, count)
    }
}
