// One training step of the int8 device (MIT tiny-training): the forward pass is the integer
// inference of `QuantizedForward` (int8 × int8 → int32, requantised), keeping what backward reads
// in int8 — a weight-trained conv's selected input channels, a 1-bit ReLU6 mask, the pooled
// features. Backward runs in fp32 on real values (s·(q − z)), the gradient passing straight
// through each requantisation, and each layer's update is applied with QAS (`QASUpdate`) the
// moment its gradient exists, after its input gradient was computed with the old weights.
//
// The simulator widens int8 operands to fp32 in scratch buffers to run backward on BLAS; a
// device reads them as int8 with their scale in the same loops, so those scratch buffers are not
// device memory and are not charged. Everything the device holds is charged to the arena in its
// real width (1-byte activations, 4-byte gradients), in the order `MemoryPlanner` describes.

/// Runs int8 training steps with reusable buffers. One trainer per thread.
public final class QuantizedTrainer {
    private let forward = QuantizedForward()
    private let ws = Workspace()
    private let grad = Scratch(), gradNext = Scratch(), gradShortcut = Scratch(), weightGrad = Scratch()
    private let widened = Scratch(), savedReal = Scratch()

    /// A trainer with empty buffers.
    public init() {}

    /// One SGD step of the sparse `plan` on an int8 batch `input` entering block `inputBlock`
    /// (quantised with `net.scales`); the frozen blocks before the plan's first trainable block
    /// run in int8 first. Updates `net` in place with QAS and `rounding`.
    @discardableResult
    public func step(_ net: inout QuantizedNetwork, input: [Int8], inputBlock: Int = 0, labels: [Int32], height: Int, width: Int,
                     plan: UpdatePlan, learningRates rates: LearningRates, rounding: QASRounding, memory: StepMemory? = nil) -> StepResult {
        let arch = net.arch
        let batch = labels.count
        precondition(batch > 0, "QuantizedTrainer.step: empty batch")
        precondition(!plan.dense, "QuantizedTrainer.step: the int8 device trains sparse plans; dense training (BatchNorm in training mode) needs precision fp32")
        if let problem = plan.problem(for: arch) { preconditionFailure("QuantizedTrainer.step: \(problem)") }
        let geos = arch.geometries(batch: batch, height: height, width: width)
        let first = plan.firstTrainableUnit(arch)
        let startBlock = plan.startBlock(arch)
        let startUnit = startBlock < arch.blocks.count ? arch.blocks[startBlock].units.lowerBound : arch.units.count
        precondition(inputBlock <= startBlock, "QuantizedTrainer.step: input enters block \(inputBlock), after the first trainable block \(startBlock)")
        let input = inputBlock == startBlock ? input
            : forward.features(net, input: input, batch: batch, height: height, width: width, blocks: inputBlock..<startBlock)

        // Device accounting (no-ops without an arena): int8 activations are 1 byte, gradients 4.
        let fused = memory?.options.fused ?? true
        var kept: [Int] = []
        func charge(_ bytes: Int, _ kind: BufferKind, _ label: @autoclosure () -> String) -> Int { memory?.arena.allocate(bytes, kind, label()) ?? 0 }
        func release(_ h: Int) { memory?.arena.free(h) }
        func chargeGradient(_ bytes: Int, _ label: @autoclosure () -> String) {
            let h = charge(bytes, .parameterGradient, label())
            if fused { release(h) } else { kept.append(h) }
        }
        let int8Bytes = MemoryLayout<Int8>.size, floatBytes = MemoryLayout<Float>.size
        let weightHandles = memory.map { Trainer.chargeWritableWeights($0, arch: arch, plan: plan) } ?? []
        var current = 0
        if let memory {
            current = startUnit > 0 ? Trainer.chargeFront(memory, arch: arch, startBlock: startBlock, height: height, width: width, batch: batch)
                                    : charge(input.count * int8Bytes, .working, "input images")
        }

        // ---- forward (integer) ------------------------------------------------------------------
        var savedInput = [Int: [Int8]](), savedHandle = [Int: Int](), masks = [Int: [UInt64]](), maskHandle = [Int: Int]()
        var x = input
        for b in startBlock..<arch.blocks.count {
            let block = arch.blocks[b]
            let blockInput = x, blockInputHandle = current
            for u in block.units {
                let g = geos[u], spec = arch.units[u]
                if let chans = plan.weightChannels[u] {
                    let s = Trainer.gather(x, channels: chans, plane: g.batch * g.inPlane)
                    savedHandle[u] = charge(s.count * int8Bytes, .saved, "\(spec.name) saved input channels")
                    savedInput[u] = s
                }
                var y = [Int8](repeating: 0, count: g.outputCount)
                let out = charge(y.count * int8Bytes, .working, "\(spec.name) output")
                y.withUnsafeMutableBufferPointer { yb in x.withUnsafeBufferPointer { forward.apply(unit: u, of: net, y: yb.baseAddress!, x: $0.baseAddress!, g: g) } }
                if spec.relu6 && u >= first {
                    let q = net.units[u]
                    masks[u] = QuantizedTrainer.mask(y, low: q.low, high: q.high)
                    maskHandle[u] = charge((y.count + 7) / 8, .mask, "\(spec.name) ReLU6 mask")
                }
                if !(block.residual && u == block.units.lowerBound) { release(current) }
                current = out
                if u == block.units.upperBound - 1, let r = net.residual[b] {
                    let za = net.scales.blockInput(b, arch).zero, zb = net.scales.units[u].zero, zy = net.scales.residual[b]!.zero
                    y.withUnsafeMutableBufferPointer { yb in
                        blockInput.withUnsafeBufferPointer {
                            Int8Kernels.add(y: yb.baseAddress!, a: $0.baseAddress!, b: yb.baseAddress!, ma: r.shortcut, mb: r.branch, za: za, zb: zb, zy: zy, count: yb.count)
                        }
                    }
                    release(blockInputHandle)
                }
                x = y
            }
        }
        let last = geos[geos.count - 1]
        let f = arch.features, classes = arch.classes
        var pooled = [Int8](repeating: 0, count: f * batch)
        pooled.withUnsafeMutableBufferPointer { p in x.withUnsafeBufferPointer { Int8Kernels.averagePool(y: p.baseAddress!, x: $0.baseAddress!, rows: f * batch, plane: last.outPlane) } }
        let pooledHandle = charge(pooled.count * int8Bytes, plan.trainClassifier ? .saved : .working, "pooled features")
        release(current)
        let logits = forward.classify(net, pooled: pooled, batch: batch)
        let logitsHandle = charge(logits.count * floatBytes, .working, "logits")
        var dlogits = [Float](repeating: 0, count: classes * batch)
        let dlogitsHandle = charge(dlogits.count * floatBytes, .activationGradient, "dlogits")
        let loss = SoftmaxCrossEntropy.forwardBackward(dlogits: &dlogits, logits: logits, labels: labels, classes: classes)
        let correct = zip(SoftmaxCrossEntropy.argmax(logits: logits, classes: classes, batch: batch), labels).filter { $0 == Int($1) }.count
        release(logitsHandle)

        // ---- backward (fp32, real values) ---------------------------------------------------------
        let needFeatureGrad = first < arch.units.count
        var dpooled = [Float](repeating: 0, count: needFeatureGrad ? f * batch : 0)
        let dpooledHandle = needFeatureGrad ? charge(dpooled.count * floatBytes, .activationGradient, "dpooled") : 0
        if needFeatureGrad {  // dpooled[i][n] = Σ_o s_W[o]·W̄[o][i]·dlogits[o][n]
            for o in 0..<classes {
                let s = net.classifierScales[o]
                for i in 0..<f {
                    let w = s * Float(net.classifierWeight[o * f + i])
                    for n in 0..<batch { dpooled[i * batch + n] += w * dlogits[o * batch + n] }
                }
            }
        }
        if plan.trainClassifier {
            var dw = [Float](repeating: 0, count: classes * f), db = [Float](repeating: 0, count: classes)
            chargeGradient((dw.count + db.count) * floatBytes, "\(arch.classifierName) gradient")
            let p = net.pooled
            for o in 0..<classes {
                for n in 0..<batch { db[o] += dlogits[o * batch + n] }
                for i in 0..<f {
                    var s: Float = 0
                    for n in 0..<batch { s += dlogits[o * batch + n] * p.real(pooled[i * batch + n]) }
                    dw[o * f + i] = s
                }
            }
            var master = net.masters[net.classifierIndex]
            dw.withUnsafeBufferPointer { g in
                QASUpdate.weights(&net.classifierWeight, scales: net.classifierScales, perRow: f, gradient: g.baseAddress!, count: g.count,
                                  index: { $0 }, learningRate: rates.head, rounding: rounding, tensor: 2 * net.classifierIndex, master: &master)
            }
            if master != nil { net.masters[net.classifierIndex] = master }
            QASUpdate.biases(&net.classifierBias, scales: net.classifierScales, inputScale: p.scale, gradient: db, learningRate: rates.head,
                             rounding: rounding, tensor: 2 * net.classifierIndex + 1)
        }
        release(dlogitsHandle)
        release(pooledHandle)
        var feedback = StepFeedback()
        guard needFeatureGrad else {
            Trainer.finish(memory, kept: kept, weights: weightHandles)
            return StepResult(loss: loss, correct: correct, feedback: feedback)
        }

        let maxCount = geos[first...].map { max($0.inputCount, $0.outputCount) }.max()!
        var dy = grad.floats(maxCount), dx = gradNext.floats(maxCount)
        let dshort = gradShortcut.floats(maxCount)
        var dyHandle = charge(last.outputCount * floatBytes, .activationGradient, "\(arch.units[arch.units.count - 1].name) output gradient")
        dpooled.withUnsafeBufferPointer { GlobalAvgPool.backward(dx: dy, dy: $0.baseAddress!, channels: f, batch: batch, plane: last.outPlane) }
        release(dpooledHandle)
        for b in stride(from: arch.blocks.count - 1, through: startBlock, by: -1) {
            let block = arch.blocks[b]
            var dshortHandle = 0
            if block.residual {
                let count = geos[block.units.upperBound - 1].outputCount
                dshort.update(from: dy, count: count)
                dshortHandle = charge(count * floatBytes, .activationGradient, "\(block.name) shortcut gradient")
            }
            for u in block.units.reversed() where u >= first {
                let g = geos[u], spec = arch.units[u]
                let plane = g.batch * g.outPlane
                if let mask = masks[u] {
                    ReLU6.backward(dx: dy, dy: dy, mask: mask, count: g.outputCount)
                    release(maskHandle[u] ?? 0)
                }
                var dxHandle = 0
                if u > first {  // with the weights as they were in forward
                    dxHandle = charge(g.inputCount * floatBytes, .activationGradient, "\(spec.name) input gradient")
                    let w = widen(net.units[u])
                    Conv2D.backwardInput(dx: dx, dy: dy, weight: w, g: g, ws: ws)
                }
                if plan.biasUnits.contains(u) {
                    var db = [Float](repeating: 0, count: g.outChannels)
                    chargeGradient(db.count * floatBytes, "\(spec.name) bias gradient")
                    Conv2D.backwardBias(dbias: &db, dy: dy, channels: g.outChannels, plane: plane)
                    QASUpdate.biases(&net.units[u].bias, scales: net.units[u].weightScales, inputScale: net.units[u].input.scale, gradient: db,
                                     learningRate: rates.bias, rounding: rounding, tensor: 2 * u + 1)
                }
                if let xs = savedInput[u], let chans = plan.weightChannels[u] {
                    let k = chans.count, taps = g.taps
                    let count = spec.isDepthwise ? k * taps : g.outChannels * k * taps
                    let dw = weightGrad.floats(count)
                    dw.update(repeating: 0, count: count)
                    chargeGradient(count * floatBytes, "\(spec.name) weight gradient")
                    let real = savedReal.floats(xs.count)
                    let iq = net.units[u].input
                    for i in 0..<xs.count { real[i] = iq.real(xs[i]) }
                    Conv2D.backwardWeight(dweight: dw, dy: dy, x: real, channels: chans, packed: true, g: g, ws: ws)
                    feedback.channelGradientNorms[u] = Trainer.channelNorms(dw, channels: k, perChannel: spec.isDepthwise ? taps : g.outChannels * taps,
                                                                            taps: taps, depthwise: spec.isDepthwise)
                    let cin = g.inPerGroup
                    let index: (Int) -> Int = spec.isDepthwise
                        ? { i in Int(chans[i / taps]) * taps + i % taps }
                        : { i in let o = i / (k * taps), r = i % (k * taps); return (o * cin + Int(chans[r / taps])) * taps + r % taps }
                    var master = net.masters[u]
                    QASUpdate.weights(&net.units[u].weight, scales: net.units[u].weightScales, perRow: net.units[u].perChannel, gradient: dw, count: count,
                                      index: index, learningRate: rates.weights, rounding: rounding, tensor: 2 * u, master: &master)
                    if master != nil { net.masters[u] = master }
                    release(savedHandle[u] ?? 0)
                }
                if plan.biasUnits.contains(u) || plan.weightChannels[u] != nil { net.units[u].refreshOffsets() }
                release(dyHandle)
                dyHandle = dxHandle
                if u > first { swap(&dy, &dx) }
            }
            if block.residual && block.units.lowerBound > first {
                ResidualAdd.backward(dx: dy, dy: dshort, count: geos[block.units.lowerBound].inputCount)
            }
            release(dshortHandle)
        }
        release(dyHandle)
        Trainer.finish(memory, kept: kept, weights: weightHandles)
        return StepResult(loss: loss, correct: correct, feedback: feedback)
    }

    /// The unit's real weights s_W·W̄ in a scratch buffer (for BLAS; see the file comment).
    private func widen(_ q: QuantizedUnit) -> UnsafeMutablePointer<Float> {
        let w = widened.floats(q.weight.count)
        q.weight.withUnsafeBufferPointer { QuantizedNetwork.dequantise($0, scales: q.weightScales, into: w) }
        return w
    }

    /// Packs `low < y < high` (the real value strictly inside (0, 6)) into bits, as `ReLU6.mask`.
    static func mask(_ y: [Int8], low: Int32, high: Int32) -> [UInt64] {
        var bits = [UInt64](repeating: 0, count: (y.count + 63) / 64)
        for i in 0..<y.count where Int32(y[i]) > low && Int32(y[i]) < high { bits[i >> 6] |= 1 << UInt64(i & 63) }
        return bits
    }
}
