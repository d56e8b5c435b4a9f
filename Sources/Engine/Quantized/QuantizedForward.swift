// Inference of the int8 device: every conv is an integer GEMM or depthwise accumulation plus a
// fixed-point requantisation; residual adds and the average pool are integer too. Only the
// classifier's int32 outputs are turned into real logits (for the loss and the arg-max).

/// Runs int8 forward passes with reusable buffers. One runner per thread.
public final class QuantizedForward {
    /// Kernel scratch.
    public let ws = Int8Workspace()
    private let acc = TypedScratch<Int32>()

    /// A runner with empty buffers.
    public init() {}

    /// Applies unit `u`: y = clamp(M·(W·x + b)).
    public func apply(unit u: Int, of net: QuantizedNetwork, y: UnsafeMutablePointer<Int8>, x: UnsafePointer<Int8>, g: ConvGeometry) {
        let q = net.units[u]
        let a = acc.get(g.outputCount)
        if g.isDepthwise && Kernels.avx512 {  // the weights' lane layout, cached per weight array
            DepthwiseLanes.int8(q.weight, channels: g.outChannels, taps: g.taps).withUnsafeBufferPointer {
                Int8Kernels.depthwiseAVX512(acc: a, x: x, lanes: $0.baseAddress!, g: g, pad: Int8(q.input.zero), ws: ws)
            }
        } else {
            q.weight.withUnsafeBufferPointer { Int8Kernels.convAccumulate(acc: a, x: x, weight: $0.baseAddress!, g: g, pad: Int8(q.input.zero), ws: ws) }
        }
        q.offset.withUnsafeBufferPointer {
            Int8Kernels.requantise(y: y, acc: a, offset: $0.baseAddress!, multipliers: q.multipliers, zero: q.output.zero, low: q.low, high: q.high,
                                   channels: g.outChannels, plane: g.batch * g.outPlane)
        }
    }

    /// The int8 feature map leaving block `blocks.upperBound − 1`, from `input` entering
    /// `blocks.lowerBound`.
    public func features(_ net: QuantizedNetwork, input: [Int8], batch: Int, height: Int, width: Int, blocks: Range<Int>) -> [Int8] {
        let arch = net.arch
        let geos = arch.geometries(batch: batch, height: height, width: width)
        var x = input
        for b in blocks {
            let block = arch.blocks[b]
            let blockInput = x
            for u in block.units {
                let g = geos[u]
                precondition(x.count == g.inputCount, "QuantizedForward: unit \(arch.units[u].name) needs \(g.inputCount) inputs, got \(x.count)")
                var y = [Int8](repeating: 0, count: g.outputCount)
                y.withUnsafeMutableBufferPointer { yb in x.withUnsafeBufferPointer { apply(unit: u, of: net, y: yb.baseAddress!, x: $0.baseAddress!, g: g) } }
                x = y
            }
            if let r = net.residual[b] {
                let za = net.scales.blockInput(b, arch).zero, zb = net.scales.units[block.units.upperBound - 1].zero
                let zy = net.scales.residual[b]!.zero
                var sum = [Int8](repeating: 0, count: x.count)
                sum.withUnsafeMutableBufferPointer { s in
                    blockInput.withUnsafeBufferPointer { sc in
                        x.withUnsafeBufferPointer { br in
                            Int8Kernels.add(y: s.baseAddress!, a: sc.baseAddress!, b: br.baseAddress!, ma: r.shortcut, mb: r.branch, za: za, zb: zb, zy: zy, count: s.count)
                        }
                    }
                }
                x = sum
            }
        }
        return x
    }

    /// Real logits [classes][N] for int8 `input` entering block `fromBlock`.
    public func logits(_ net: QuantizedNetwork, input: [Int8], batch: Int, height: Int, width: Int, fromBlock: Int = 0) -> [Float] {
        let top = features(net, input: input, batch: batch, height: height, width: width, blocks: fromBlock..<net.arch.blocks.count)
        let geos = net.arch.geometries(batch: batch, height: height, width: width)
        let f = net.arch.features
        var pooled = [Int8](repeating: 0, count: f * batch)
        pooled.withUnsafeMutableBufferPointer { p in
            top.withUnsafeBufferPointer { Int8Kernels.averagePool(y: p.baseAddress!, x: $0.baseAddress!, rows: f * batch, plane: geos[geos.count - 1].outPlane) }
        }
        return classify(net, pooled: pooled, batch: batch)
    }

    /// Real logits from int8 pooled features [F][N]: (W·(p − z_p) + b)·s_W·s_p per class.
    public func classify(_ net: QuantizedNetwork, pooled: [Int8], batch: Int) -> [Float] {
        var out = [Float](repeating: 0, count: net.arch.classes * batch)
        pooled.withUnsafeBufferPointer { p in out.withUnsafeMutableBufferPointer { classify(net, pooled: p.baseAddress!, batch: batch, into: $0.baseAddress!) } }
        return out
    }

    /// `classify` into `out` ([classes][N]).
    public func classify(_ net: QuantizedNetwork, pooled: UnsafePointer<Int8>, batch: Int, into out: UnsafeMutablePointer<Float>) {
        let f = net.arch.features, classes = net.arch.classes
        let a = acc.get(classes * batch)
        net.classifierWeight.withUnsafeBufferPointer { w in
            Int8Kernels.gemm(m: classes, n: batch, k: f, a: w.baseAddress!, b: pooled, c: a, ws: ws)
        }
        let p = net.pooled
        for o in 0..<classes {
            let s = net.classifierScales[o] * p.scale
            var sum: Int32 = 0
            for i in o * f..<(o + 1) * f { sum &+= Int32(net.classifierWeight[i]) }
            let offset = net.classifierBias[o] &- p.zero &* sum
            for n in 0..<batch { out[o * batch + n] = Float(a[o * batch + n] &+ offset) * s }
        }
    }
}

extension Evaluator {
    /// Evaluates the int8 network on the samples `indices` of an int8 cache.
    public static func evaluate(_ net: QuantizedNetwork, cache: FeatureCache, labels: [UInt8], indices: [Int], size: Int, batch: Int = 64) -> Evaluation {
        evaluate(classes: net.arch.classes, labels: labels, indices: indices, batch: batch, logits: cache.logits(net, size: size))
    }

    /// Evaluates the int8 network on images (quantised at its input scale).
    public static func evaluate(_ net: QuantizedNetwork, data: ImageDataset, indices: [Int], preprocessing: Preprocessing,
                                batch: Int = 64, runner: QuantizedForward = QuantizedForward()) -> Evaluation {
        let size = preprocessing.size
        return evaluate(classes: net.arch.classes, labels: data.labels, indices: indices, batch: batch) { idx in
            runner.logits(net, input: net.quantiseInput(preprocessing.batch(data, indices: idx), block: 0), batch: idx.count, height: size, width: size)
        }
    }
}
