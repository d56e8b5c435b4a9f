// One training step of the int8 device (MIT tiny-training): the forward pass is the integer
// inference of `QuantizedForward` (int8 × int8 → int32, requantised), keeping what backward reads
// in int8 — a weight-trained conv's selected input channels, a 1-bit ReLU6 mask, the pooled
// features. Backward runs in fp32 on real values (s·(q − z)), the gradient passing straight
// through each requantisation, and each layer's update is applied with QAS (`QASUpdate`) the
// moment its gradient exists, after its input gradient was computed with the old weights.
//
// Every buffer the device holds lives in the step's `DeviceSlab`, at the offset the schedule
// (`StepBuffers`) gave it, in its real width (1-byte activations, 4-byte gradients); a step that
// would not fit is refused before anything changes. The simulator widens int8 operands to fp32
// in scratch buffers outside the slab to run backward on BLAS; a device reads them as int8 with
// their scale in the same loops, so those are not device memory.
import CKernels

/// Runs int8 training steps in a device slab. One trainer per thread.
public final class QuantizedTrainer {
    private let forward = QuantizedForward()
    private let ws = Workspace()
    private let widened = Scratch(), savedReal = Scratch()
    /// The slab of the last step (its layout and measured peak).
    public private(set) var slab = DeviceSlab(budget: nil)

    /// A trainer with an empty slab.
    public init() {}

    /// One SGD step of the sparse `plan` on an int8 batch `input` entering block `inputBlock`
    /// (quantised with `net.scales`); the frozen blocks before the plan's first trainable block
    /// run in int8 first. Updates `net` in place with QAS and `rounding`. Throws the
    /// `MemoryOverflow` of a step that does not fit `memory`'s budget, before anything changes.
    @discardableResult
    public func step(_ net: inout QuantizedNetwork, input: [Int8], inputBlock: Int = 0, labels: [Int32], height: Int, width: Int,
                     plan: UpdatePlan, learningRates rates: LearningRates, rounding: QASRounding, memory: StepMemory? = nil) throws -> StepResult {
        let arch = net.arch
        let batch = labels.count
        precondition(batch > 0, "QuantizedTrainer.step: empty batch")
        precondition(!plan.dense, "QuantizedTrainer.step: the int8 device trains sparse plans; dense training (BatchNorm in training mode) needs precision fp32")
        if let problem = plan.problem(for: arch) { preconditionFailure("QuantizedTrainer.step: \(problem)") }
        slab = try DeviceSlab.forStep(slab, memory: memory, precision: .int8, trainer: "QuantizedTrainer", arch: arch, plan: plan, batch: batch,
                                      height: height, width: width)
        let slab = self.slab

        let geos = arch.geometries(batch: batch, height: height, width: width)
        let first = plan.firstTrainableUnit(arch)
        let startBlock = plan.startBlock(arch)
        let startUnit = startBlock < arch.blocks.count ? arch.blocks[startBlock].units.lowerBound : arch.units.count
        precondition(inputBlock <= startBlock, "QuantizedTrainer.step: input enters block \(inputBlock), after the first trainable block \(startBlock)")
        let tailInput = inputBlock == startBlock ? input
            : forward.features(net, input: input, batch: batch, height: height, width: width, blocks: inputBlock..<startBlock)
        slab.reserveStandIns()

        // ---- forward (integer) ------------------------------------------------------------------
        var x = slab.int8(startUnit > 0 ? .frontStore : .inputImages, tailInput.count)
        tailInput.withUnsafeBufferPointer { x.update(from: $0.baseAddress!, count: $0.count) }
        for b in startBlock..<arch.blocks.count {
            let block = arch.blocks[b]
            let blockInput = x
            for u in block.units {
                let g = geos[u], spec = arch.units[u]
                if let chans = plan.weightChannels[u] {
                    let plane = g.batch * g.inPlane
                    let s = slab.int8(.saved(unit: u), chans.count * plane)
                    for (i, c) in chans.enumerated() { (s + i * plane).update(from: x + Int(c) * plane, count: plane) }
                }
                let y = slab.int8(.output(unit: u), g.outputCount)
                forward.apply(unit: u, of: net, y: y, x: x, g: g)
                if spec.relu6 && u >= first {
                    let q = net.units[u]
                    QuantizedTrainer.mask(y, count: g.outputCount, low: q.low, high: q.high, into: slab.bytes(.mask(unit: u), (g.outputCount + 7) / 8))
                }
                if u == block.units.upperBound - 1, let r = net.residual[b] {
                    let za = net.scales.blockInput(b, arch).zero, zb = net.scales.units[u].zero, zy = net.scales.residual[b]!.zero
                    Int8Kernels.add(y: y, a: blockInput, b: y, ma: r.shortcut, mb: r.branch, za: za, zb: zb, zy: zy, count: g.outputCount)
                }
                x = y
            }
        }
        let last = geos[geos.count - 1]
        let f = arch.features, classes = arch.classes
        let pooled = slab.int8(.pooled, f * batch)
        Int8Kernels.averagePool(y: pooled, x: x, rows: f * batch, plane: last.outPlane)
        let logits = slab.floats(.logits, classes * batch)
        forward.classify(net, pooled: pooled, batch: batch, into: logits)
        let dlogits = slab.floats(.dlogits, classes * batch)
        let loss = SoftmaxCrossEntropy.forwardBackward(dlogits: dlogits, logits: logits, labels: labels, classes: classes)
        let correct = zip(SoftmaxCrossEntropy.argmax(logits: logits, classes: classes, batch: batch), labels).filter { $0 == Int($1) }.count

        // ---- backward (fp32, real values) ---------------------------------------------------------
        let needFeatureGrad = first < arch.units.count
        if needFeatureGrad {  // dpooled[i][n] = Σ_o s_W[o]·W̄[o][i]·dlogits[o][n]
            let dpooled = slab.floats(.dpooled, f * batch)
            if Kernels.avx512 {
                net.classifierWeight.withUnsafeBufferPointer { w in
                    net.classifierScales.withUnsafeBufferPointer { sf_sgemm_tn_i8(classes, f, batch, w.baseAddress!, $0.baseAddress!, dlogits, dpooled) }
                }
            } else {
                dpooled.update(repeating: 0, count: f * batch)
                for o in 0..<classes {
                    let s = net.classifierScales[o]
                    for i in 0..<f {
                        let w = s * Float(net.classifierWeight[o * f + i])
                        for n in 0..<batch { dpooled[i * batch + n] += w * dlogits[o * batch + n] }
                    }
                }
            }
        }
        if plan.trainClassifier {
            let dw = slab.floats(.classifierGradient, classes * f + classes), db = dw + classes * f
            db.update(repeating: 0, count: classes)
            let p = net.pooled
            for o in 0..<classes { for n in 0..<batch { db[o] += dlogits[o * batch + n] } }
            if Kernels.avx512 {  // dw = dlogits · pooledᵀ over the batch, on the real pooled features
                let real = savedReal.floats(f * batch)
                for i in 0..<f * batch { real[i] = p.real(pooled[i]) }
                dw.update(repeating: 0, count: classes * f)
                sf_sgemm_nt_acc(classes, f, batch, dlogits, real, dw, ws.aux.floats(sf_sgemm_nt_scratch_bytes(f, batch) / 4 + 1))
            } else {
                for o in 0..<classes {
                    for i in 0..<f {
                        var s: Float = 0
                        for n in 0..<batch { s += dlogits[o * batch + n] * p.real(pooled[i * batch + n]) }
                        dw[o * f + i] = s
                    }
                }
            }
            var master = net.masters[net.classifierIndex]
            QASUpdate.weights(&net.classifierWeight, scales: net.classifierScales, perRow: f, rows: nil, offsets: Array(0..<f), gradient: dw,
                              learningRate: rates.head, rounding: rounding, tensor: 2 * net.classifierIndex, master: &master)
            if master != nil { net.masters[net.classifierIndex] = master }
            QASUpdate.biases(&net.classifierBias, scales: net.classifierScales, inputScale: p.scale, gradient: db, learningRate: rates.head,
                             rounding: rounding, tensor: 2 * net.classifierIndex + 1)
        }
        var feedback = StepFeedback()
        guard needFeatureGrad else { return StepResult(loss: loss, correct: correct, feedback: feedback, peak: slab.touchedEnd) }

        var dy = slab.floats(.outputGradient, last.outputCount)
        GlobalAvgPool.backward(dx: dy, dy: slab.floats(.dpooled, f * batch), channels: f, batch: batch, plane: last.outPlane)
        for b in stride(from: arch.blocks.count - 1, through: startBlock, by: -1) {
            let block = arch.blocks[b]
            var dshort: UnsafeMutablePointer<Float>?
            if block.residual {
                let count = geos[block.units.upperBound - 1].outputCount
                dshort = slab.floats(.shortcutGradient(block: b), count)
                dshort!.update(from: dy, count: count)
            }
            for u in block.units.reversed() where u >= first {
                let g = geos[u], spec = arch.units[u]
                let plane = g.batch * g.outPlane
                if slab.has(.mask(unit: u)) {
                    ReLU6.backward(dx: dy, dy: dy, maskBytes: slab.bytes(.mask(unit: u), (g.outputCount + 7) / 8), count: g.outputCount)
                }
                var dx: UnsafeMutablePointer<Float>?
                if u > first {  // with the weights as they were in forward
                    dx = slab.floats(.inputGradient(unit: u), g.inputCount)
                    inputGradient(dx: dx!, dy: dy, unit: net.units[u], g: g)
                }
                if plan.biasUnits.contains(u) {
                    let db = slab.floats(.biasGradient(unit: u), g.outChannels)
                    db.update(repeating: 0, count: g.outChannels)
                    Conv2D.backwardBias(dbias: db, dy: dy, channels: g.outChannels, plane: plane)
                    QASUpdate.biases(&net.units[u].bias, scales: net.units[u].weightScales, inputScale: net.units[u].input.scale, gradient: db,
                                     learningRate: rates.bias, rounding: rounding, tensor: 2 * u + 1)
                }
                if let chans = plan.weightChannels[u] {
                    let k = chans.count, taps = g.taps
                    let count = spec.isDepthwise ? k * taps : g.outChannels * k * taps
                    let dw = slab.floats(.weightGradient(unit: u), count)
                    dw.update(repeating: 0, count: count)
                    let n = k * g.batch * g.inPlane
                    let xs = slab.int8(.saved(unit: u), n), real = savedReal.floats(n)
                    let iq = net.units[u].input
                    for i in 0..<n { real[i] = iq.real(xs[i]) }
                    Conv2D.backwardWeight(dweight: dw, dy: dy, x: real, channels: chans, packed: true, g: g, ws: ws)
                    feedback.channelGradientNorms[u] = Trainer.channelNorms(dw, channels: k, perChannel: spec.isDepthwise ? taps : g.outChannels * taps,
                                                                            taps: taps, depthwise: spec.isDepthwise)
                    // Depthwise: the rows are the trained channels, each its taps. Otherwise every
                    // output row, at the trained input channels' taps.
                    let rows: [Int]? = spec.isDepthwise ? chans.map { Int($0) } : nil
                    let offsets = spec.isDepthwise ? Array(0..<taps) : chans.flatMap { c in (0..<taps).map { Int(c) * taps + $0 } }
                    var master = net.masters[u]
                    QASUpdate.weights(&net.units[u].weight, scales: net.units[u].weightScales, perRow: net.units[u].perChannel, rows: rows,
                                      offsets: offsets, gradient: dw, learningRate: rates.weights, rounding: rounding, tensor: 2 * u, master: &master)
                    if master != nil { net.masters[u] = master }
                }
                if plan.biasUnits.contains(u) || plan.weightChannels[u] != nil { net.units[u].refreshOffsets() }
                if let dx { dy = dx }
            }
            if let dshort, block.units.lowerBound > first {
                ResidualAdd.backward(dx: dy, dy: dshort, count: geos[block.units.lowerBound].inputCount)
            }
        }
        return StepResult(loss: loss, correct: correct, feedback: feedback, peak: slab.touchedEnd)
    }

    /// `dx = Wᵀ·dy` for the unit's real weights s_W·W̄. On AVX-512 a 1×1 conv reads its int8
    /// weights directly (`sf_sgemm_tn_i8`, widened in registers) and a depthwise conv its real
    /// weights in lane order (bitwise as `Depthwise`'s narrow-plane path); anything else widens
    /// them into a scratch buffer for `Conv2D.backwardInput`.
    private func inputGradient(dx: UnsafeMutablePointer<Float>, dy: UnsafePointer<Float>, unit q: QuantizedUnit, g: ConvGeometry) {
        if Kernels.avx512 && g.isDepthwise {  // the real weights in lane order, cached per weight array
            let scratch = widened.floats(sf_f32_depthwise_scratch_bytes(g.height, g.width, g.kernelH, g.kernelW, g.strideH, g.strideW,
                                                                        g.padding.top, g.padding.left, g.outHeight, g.outWidth) / 4 + 1)
            DepthwiseLanes.real(q, channels: g.outChannels, taps: g.taps).withUnsafeBufferPointer {
                sf_f32_depthwise_backward_input(dx, dy, $0.baseAddress!, g.outChannels, g.batch, g.height, g.width, g.kernelH, g.kernelW,
                                                g.strideH, g.strideW, g.padding.top, g.padding.left, g.outHeight, g.outWidth, scratch)
            }
            return
        }
        guard Kernels.avx512, g.isPointwiseGEMM else {
            Conv2D.backwardInput(dx: dx, dy: dy, weight: widen(q), g: g, ws: ws)
            return
        }
        q.weight.withUnsafeBufferPointer { w in
            q.weightScales.withUnsafeBufferPointer { sf_sgemm_tn_i8(g.outChannels, g.inChannels, g.batch * g.outPlane, w.baseAddress!, $0.baseAddress!, dy, dx) }
        }
    }

    /// The unit's real weights s_W·W̄ in a scratch buffer (for BLAS; see the file comment).
    private func widen(_ q: QuantizedUnit) -> UnsafeMutablePointer<Float> {
        let w = widened.floats(q.weight.count)
        q.weight.withUnsafeBufferPointer { QuantizedNetwork.dequantise($0, scales: q.weightScales, into: w) }
        return w
    }

    /// Packs `low < y < high` (the real value strictly inside (0, 6)) into the bits of
    /// `ReLU6.mask(_:count:into:)`.
    static func mask(_ y: UnsafePointer<Int8>, count: Int, low: Int32, high: Int32, into bits: UnsafeMutablePointer<UInt8>) {
        if Kernels.avx512 { sf_int8_relu6_mask(y, count, low, high, bits); return }
        maskPortable(y, count: count, low: low, high: high, into: bits)
    }

    /// `mask` as a Swift loop (the portable path and the reference).
    static func maskPortable(_ y: UnsafePointer<Int8>, count: Int, low: Int32, high: Int32, into bits: UnsafeMutablePointer<UInt8>) {
        bits.update(repeating: 0, count: (count + 7) / 8)
        for i in 0..<count where Int32(y[i]) > low && Int32(y[i]) < high { bits[i >> 3] |= 1 << UInt8(i & 7) }
    }
}
