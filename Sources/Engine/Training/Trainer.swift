// One training step: forward from the first trainable block, softmax cross-entropy, backward
// down to the first trainable unit, with each layer's SGD update fused into backward (applied the
// moment its gradient exists, after that layer's input gradient was computed with the old weights).
// Layout: feature maps [C][N][H][W]; logits [classes][N].
//
// Forward keeps exactly what backward reads, as a device would:
//   - a weight-trained conv: only its selected input channels, packed [k][N][H][W];
//   - a ReLU6 the gradient passes through: a 1-bit mask of 0 < y < 6;
//   - a trained classifier: the pooled features [F][N];
//   - dense BatchNorm: x̂ and 1/σ.
// With a `StepMemory`, every device buffer is charged to its arena in device byte widths at the
// moment the step creates it and released when the step is done with it (MemoryPlanner.swift
// describes the same step analytically; the two must agree byte for byte).

/// The outcome of one training step.
public struct StepResult: Equatable, Sendable {
    /// Mean cross-entropy of the batch, before the update.
    public var loss: Float
    /// Samples whose arg-max logit matched the label, before the update.
    public var correct: Int
    /// Per-channel weight-gradient norms of the weight-trained units (for DGSU).
    public var feedback: StepFeedback = StepFeedback()
}

/// Device-memory accounting for a step: the arena to charge and the byte widths to charge in.
public struct StepMemory {
    /// The arena (its budget is the device's SRAM).
    public var arena: MemoryArena
    /// Byte widths, placement, fusion.
    public var options: MemoryOptions
    /// Unit → input channels that may be updated over the run (writable copies under flash placement).
    public var candidateChannels: [Int: Int]

    /// Accounting into `arena` with `options`.
    public init(arena: MemoryArena, options: MemoryOptions, candidateChannels: [Int: Int] = [:]) {
        self.arena = arena; self.options = options; self.candidateChannels = candidateChannels
    }
}

/// What forward kept for backward, for one unit.
struct SavedUnit {
    var mask: [UInt64]?
    var selectedInput: [Float]?
    var bn: BatchNormSaved?
    var savedHandle = 0, maskHandle = 0
}

/// Runs training steps with reusable buffers. One trainer per thread.
public final class Trainer {
    /// Scratch for the layer kernels.
    public let ws = Workspace()
    private let prefix = ForwardRunner()
    private var outputs: [[Float]] = []  // per-unit output buffers, reused across steps
    private let grad = Scratch(), gradNext = Scratch(), gradShortcut = Scratch(), weightGrad = Scratch()

    /// Run the frozen front one sample at a time (default: as a device does, and bit-identical to
    /// training from a `FeatureCache`). Set false to run it batched — faster, but a sample's
    /// features may then differ from the cached ones in the last bit (OpenBLAS sums depend on N).
    public var frontPerSample = true

    /// A trainer with empty buffers.
    public init() {}

    /// One SGD step of `plan` on a batch. `input` is the feature map entering block `inputBlock`
    /// (0: raw images [3][N][H][W]); the frozen blocks before the first trainable one run one
    /// sample at a time, as on a device (and as `FeatureCache` does). Pass cached features with
    /// `inputBlock: plan.startBlock(arch)` to skip the frozen front. `height`/`width` are the raw
    /// image size. Updates `net` in place. With `memory`, charges the device's buffers to its arena.
    @discardableResult
    public func step(_ net: inout Network, input: [Float], inputBlock: Int = 0, labels: [Int32], height: Int, width: Int,
                     plan: UpdatePlan, learningRate lr: Float, memory: StepMemory? = nil) -> StepResult {
        step(&net, input: input, inputBlock: inputBlock, labels: labels, height: height, width: width, plan: plan,
             learningRates: LearningRates(lr), memory: memory)
    }

    /// One SGD step with a learning rate per parameter group (classifier, conv biases, conv
    /// weights); otherwise as `step(_:input:...:learningRate:memory:)`.
    @discardableResult
    public func step(_ net: inout Network, input: [Float], inputBlock: Int = 0, labels: [Int32], height: Int, width: Int,
                     plan: UpdatePlan, learningRates rates: LearningRates, memory: StepMemory? = nil) -> StepResult {
        let arch = net.arch
        let batch = labels.count
        precondition(batch > 0, "Trainer.step: empty batch")
        if let problem = plan.problem(for: arch) { preconditionFailure("Trainer.step: \(problem)") }
        precondition(plan.dense == !net.isFolded,
                     plan.dense ? "Trainer.step: the dense plan needs an unfolded network (BatchNorm in training mode)"
                                : "Trainer.step: sparse plans need a folded network (call folded())")
        let geos = arch.geometries(batch: batch, height: height, width: width)
        let first = plan.firstTrainableUnit(arch)
        let startBlock = plan.startBlock(arch)
        let startUnit = startBlock < arch.blocks.count ? arch.blocks[startBlock].units.lowerBound : arch.units.count
        precondition(inputBlock <= startBlock, "Trainer.step: input enters block \(inputBlock), after the first trainable block \(startBlock)")
        let input = inputBlock == startBlock ? input
            : frontPerSample ? prefix.featuresPerSample(net, input: input, batch: batch, height: height, width: width, blocks: inputBlock..<startBlock)
            : prefix.features(net, input: input, batch: batch, height: height, width: width, blocks: inputBlock..<startBlock)
        let expected = startUnit < geos.count ? geos[startUnit].inputCount : geos[geos.count - 1].outputCount
        precondition(input.count == expected, "Trainer.step: input has \(input.count) values, block \(startBlock) needs \(expected)")

        // Device accounting helpers (no-ops without an arena).
        let a = memory?.options.activationBytes ?? 0, gb = memory?.options.gradientBytes ?? 0
        let fused = memory?.options.fused ?? true
        var kept: [Int] = []
        func charge(_ bytes: Int, _ kind: BufferKind, _ label: @autoclosure () -> String) -> Int {
            memory?.arena.allocate(bytes, kind, label()) ?? 0
        }
        func release(_ h: Int) { memory?.arena.free(h) }
        func chargeGradient(_ bytes: Int, _ label: @autoclosure () -> String) {
            let h = charge(bytes, .parameterGradient, label())
            if fused { release(h) } else { kept.append(h) }
        }
        let weightHandles = memory.map { Trainer.chargeWritableWeights($0, arch: arch, plan: plan) } ?? []
        var current = 0
        if let memory {
            current = startUnit > 0 ? Trainer.chargeFront(memory, arch: arch, startBlock: startBlock, height: height, width: width, batch: batch)
                                    : charge(geos[0].inputCount * a, .working, "input images")
        }

        // ---- forward -------------------------------------------------------------------------
        if outputs.count != arch.units.count { outputs = Array(repeating: [], count: arch.units.count) }
        var saved = [SavedUnit](repeating: SavedUnit(), count: arch.units.count)
        var x = input
        for b in startBlock..<arch.blocks.count {
            let block = arch.blocks[b]
            let blockInput = x, blockInputHandle = current
            for u in block.units {
                let g = geos[u]
                let spec = arch.units[u]
                if plan.dense {
                    saved[u].selectedInput = x
                    saved[u].savedHandle = charge(g.inputCount * a + g.outputCount * a + spec.outChannels * 4, .saved, "\(spec.name) saved input and BN x̂")
                } else if let chans = plan.weightChannels[u] {
                    saved[u].selectedInput = Trainer.gather(x, channels: chans, plane: g.batch * g.inPlane)
                    saved[u].savedHandle = charge(chans.count * g.batch * g.inPlane * a, .saved, "\(spec.name) saved input channels")
                }
                var y = outputs[u]
                if y.count != g.outputCount { y = [Float](repeating: 0, count: g.outputCount) }
                let out = charge(g.outputCount * a, .working, "\(spec.name) output")
                let p = net.units[u]
                y.withUnsafeMutableBufferPointer { yb in
                    x.withUnsafeBufferPointer { xb in
                        p.weight.withUnsafeBufferPointer { w in
                            p.bias.withUnsafeBufferPointer { bias in
                                Conv2D.forward(y: yb.baseAddress!, x: xb.baseAddress!, weight: w.baseAddress!,
                                               bias: plan.dense ? nil : bias.baseAddress!, g: g, ws: ws)
                            }
                        }
                    }
                    let plane = g.batch * g.outPlane
                    if plan.dense {
                        saved[u].bn = BatchNorm.forwardTrain(y: yb.baseAddress!, x: yb.baseAddress!, bn: &net.units[u].bn!, plane: plane)
                    }
                    if spec.relu6 {
                        ReLU6.forward(yb.baseAddress!, count: g.outputCount)
                        if u >= first {
                            saved[u].mask = ReLU6.mask(yb.baseAddress!, count: g.outputCount)
                            saved[u].maskHandle = charge((g.outputCount + 7) / 8, .mask, "\(spec.name) ReLU6 mask")
                        }
                    }
                }
                if !(block.residual && u == block.units.lowerBound) { release(current) }
                current = out
                if u == block.units.upperBound - 1 && block.residual {
                    y.withUnsafeMutableBufferPointer { yb in
                        blockInput.withUnsafeBufferPointer { ResidualAdd.forward(y: yb.baseAddress!, x: $0.baseAddress!, count: g.outputCount) }
                    }
                    release(blockInputHandle)
                }
                outputs[u] = y
                x = y
            }
        }
        let last = geos[geos.count - 1]
        let f = arch.features, classes = arch.classes
        let trainsClassifier = plan.trainClassifier || plan.dense
        var pooledFeatures = [Float](repeating: 0, count: f * batch)
        x.withUnsafeBufferPointer { xb in
            GlobalAvgPool.forward(y: &pooledFeatures, x: xb.baseAddress!, channels: f, batch: batch, plane: last.outPlane)
        }
        let pooledHandle = charge(f * batch * a, trainsClassifier ? .saved : .working, "pooled features")
        release(current)
        var logits = [Float](repeating: 0, count: classes * batch)
        let logitsHandle = charge(classes * batch * 4, .working, "logits")
        Linear.forward(y: &logits, x: pooledFeatures, weight: net.classifierWeight, bias: net.classifierBias,
                       inFeatures: f, outFeatures: classes, batch: batch)
        var dlogits = [Float](repeating: 0, count: classes * batch)
        let dlogitsHandle = charge(classes * batch * gb, .activationGradient, "dlogits")
        let loss = SoftmaxCrossEntropy.forwardBackward(dlogits: &dlogits, logits: logits, labels: labels, classes: classes)
        let predictions = SoftmaxCrossEntropy.argmax(logits: logits, classes: classes, batch: batch)
        let correct = zip(predictions, labels).filter { $0 == Int($1) }.count
        release(logitsHandle)

        // ---- backward ------------------------------------------------------------------------
        let needFeatureGrad = first < arch.units.count
        var dpooled = [Float](repeating: 0, count: needFeatureGrad ? f * batch : 0)
        let dpooledHandle = needFeatureGrad ? charge(f * batch * gb, .activationGradient, "dpooled") : 0
        if needFeatureGrad {
            Linear.backwardInput(dx: &dpooled, dy: dlogits, weight: net.classifierWeight, inFeatures: f, outFeatures: classes, batch: batch)
        }
        if trainsClassifier {
            var dw = [Float](repeating: 0, count: classes * f), db = [Float](repeating: 0, count: classes)
            chargeGradient((classes * f + classes) * gb, "\(arch.classifierName) gradient")
            Linear.backwardParams(dweight: &dw, dbias: &db, dy: dlogits, x: pooledFeatures, inFeatures: f, outFeatures: classes, batch: batch)
            SGD.apply(&net.classifierWeight, gradient: dw, learningRate: rates.head)
            SGD.apply(&net.classifierBias, gradient: db, learningRate: rates.head)
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
        var dyHandle = charge(last.outputCount * gb, .activationGradient, "\(arch.units[arch.units.count - 1].name) output gradient")
        dpooled.withUnsafeBufferPointer {
            GlobalAvgPool.backward(dx: dy, dy: $0.baseAddress!, channels: f, batch: batch, plane: last.outPlane)
        }
        release(dpooledHandle)
        for b in stride(from: arch.blocks.count - 1, through: startBlock, by: -1) {
            let block = arch.blocks[b]
            var dshortHandle = 0
            if block.residual {
                let count = geos[block.units.upperBound - 1].outputCount
                dshort.update(from: dy, count: count)
                dshortHandle = charge(count * gb, .activationGradient, "\(block.name) shortcut gradient")
            }
            for u in block.units.reversed() where u >= first {
                let g = geos[u]
                let spec = arch.units[u]
                let plane = g.batch * g.outPlane
                if spec.relu6, let mask = saved[u].mask {
                    ReLU6.backward(dx: dy, dy: dy, mask: mask, count: g.outputCount)
                    release(saved[u].maskHandle)
                }
                if plan.dense, let bnSaved = saved[u].bn {
                    var bn = net.units[u].bn!
                    var dgamma = [Float](repeating: 0, count: g.outChannels), dbeta = dgamma
                    chargeGradient(2 * g.outChannels * gb, "\(spec.name) BN gradient")
                    BatchNorm.backwardTrain(dx: dy, dgamma: &dgamma, dbeta: &dbeta, dy: dy, saved: bnSaved, gamma: bn.gamma, plane: plane)
                    SGD.apply(&bn.gamma, gradient: dgamma, learningRate: rates.weights)
                    SGD.apply(&bn.beta, gradient: dbeta, learningRate: rates.weights)
                    net.units[u].bn = bn
                }
                // Input gradient first, with the weights as they were in forward.
                var dxHandle = 0
                if u > first {
                    dxHandle = charge(g.inputCount * gb, .activationGradient, "\(spec.name) input gradient")
                    net.units[u].weight.withUnsafeBufferPointer { w in
                        Conv2D.backwardInput(dx: dx, dy: dy, weight: w.baseAddress!, g: g, ws: ws)
                    }
                }
                if plan.biasUnits.contains(u) {
                    var db = [Float](repeating: 0, count: g.outChannels)
                    chargeGradient(g.outChannels * gb, "\(spec.name) bias gradient")
                    Conv2D.backwardBias(dbias: &db, dy: dy, channels: g.outChannels, plane: plane)
                    SGD.apply(&net.units[u].bias, gradient: db, learningRate: rates.bias)
                }
                if let xs = saved[u].selectedInput {
                    let chans = plan.dense ? nil : plan.weightChannels[u]
                    let k = chans?.count ?? g.inChannels
                    let perChannel = spec.isDepthwise ? g.taps : g.outChannels * g.taps
                    let count = spec.isDepthwise ? k * g.taps : g.outChannels * (chans == nil ? g.inPerGroup : k) * g.taps
                    let dw = weightGrad.floats(count)
                    dw.update(repeating: 0, count: count)
                    chargeGradient(count * gb, "\(spec.name) weight gradient")
                    xs.withUnsafeBufferPointer { xb in
                        Conv2D.backwardWeight(dweight: dw, dy: dy, x: xb.baseAddress!, channels: chans, packed: chans != nil, g: g, ws: ws)
                    }
                    if let chans {
                        feedback.channelGradientNorms[u] = Trainer.channelNorms(dw, channels: chans.count, perChannel: perChannel,
                                                                                 taps: g.taps, depthwise: spec.isDepthwise)
                    }
                    SGD.applySubset(&net.units[u].weight, gradient: dw, channels: chans, spec: spec, learningRate: rates.weights)
                    release(saved[u].savedHandle)
                }
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

    /// ‖dW[:, i]‖₂ per trained channel i of a [Cout][k][taps] (or depthwise [k][taps]) gradient.
    static func channelNorms(_ dw: UnsafePointer<Float>, channels k: Int, perChannel: Int, taps: Int, depthwise: Bool) -> [Float] {
        var sq = [Float](repeating: 0, count: k)
        if depthwise {
            for i in 0..<k { for t in 0..<taps { sq[i] += dw[i * taps + t] * dw[i * taps + t] } }
        } else {
            let cout = perChannel / taps
            for o in 0..<cout {
                for i in 0..<k {
                    let base = (o * k + i) * taps
                    for t in 0..<taps { sq[i] += dw[base + t] * dw[base + t] }
                }
            }
        }
        return sq.map { $0.squareRoot() }
    }

    /// Releases what a non-fused step kept and the writable weights.
    static func finish(_ memory: StepMemory?, kept: [Int], weights: [Int]) {
        guard let memory else { return }
        kept.forEach(memory.arena.free)
        weights.forEach(memory.arena.free)
    }

    /// Charges the writable weight copies a flash-placed device needs for this plan.
    static func chargeWritableWeights(_ m: StepMemory, arch: Architecture, plan: UpdatePlan) -> [Int] {
        var handles = chargeFlashCopies(m, arch: arch, plan: plan)
        if m.options.holdsMasters, let bytes = MemoryPlanner.masterWeightBytes(arch, plan: plan, candidateChannels: m.candidateChannels) {
            handles.append(m.arena.allocate(bytes, .weights, "fp32 master weights"))
        }
        return handles
    }

    /// The writable copies of flash-placed weights.
    private static func chargeFlashCopies(_ m: StepMemory, arch: Architecture, plan: UpdatePlan) -> [Int] {
        var handles: [Int] = []
        guard m.options.placement == .flash else { return handles }
        for (u, spec) in arch.units.enumerated() {
            var bytes = 0
            if plan.dense {
                bytes = spec.weightShape.reduce(1, *) * m.options.weightBytes + 2 * spec.outChannels * m.options.biasBytes
            } else {
                if let chans = plan.weightChannels[u] {
                    bytes += (spec.isDepthwise ? 1 : spec.outChannels) * (m.candidateChannels[u] ?? chans.count) * spec.kernel * spec.kernel * m.options.weightBytes
                }
                if plan.biasUnits.contains(u) { bytes += spec.outChannels * m.options.biasBytes }
            }
            if bytes > 0 { handles.append(m.arena.allocate(bytes, .weights, "\(spec.name) writable weights")) }
        }
        if plan.trainClassifier || plan.dense {
            handles.append(m.arena.allocate(arch.classes * arch.features * m.options.weightBytes + arch.classes * m.options.biasBytes,
                                            .weights, "\(arch.classifierName) writable weights"))
        }
        return handles
    }

    /// Charges the frozen front as the device runs it, one sample at a time, and returns the
    /// handle of the store holding the batch's outputs (the simulator computes the front batched,
    /// or takes it from the cache; the device's buffers are the same for every sample).
    static func chargeFront(_ m: StepMemory, arch: Architecture, startBlock: Int, height: Int, width: Int, batch: Int) -> Int {
        let one = arch.geometries(batch: 1, height: height, width: width)
        let a = m.options.activationBytes
        let startUnit = startBlock < arch.blocks.count ? arch.blocks[startBlock].units.lowerBound : arch.units.count
        let storeCount = startUnit < one.count ? one[startUnit].inputCount : one[one.count - 1].outputCount
        let store = m.arena.allocate(batch * storeCount * a, .prefixStore, "frozen-front output store")
        var cur = m.arena.allocate(one[0].inputCount * a, .working, "input image")
        for b in 0..<startBlock {
            let block = arch.blocks[b]
            let blockInput = cur
            for u in block.units {
                let out = m.arena.allocate(one[u].outputCount * a, .working, "\(arch.units[u].name) output (front)")
                if !(block.residual && u == block.units.lowerBound) { m.arena.free(cur) }
                cur = out
            }
            if block.residual { m.arena.free(blockInput) }
        }
        m.arena.free(cur)
        return store
    }

    /// Copies the maps of `channels` out of a [C][plane] buffer into [k][plane].
    static func gather<T: Numeric>(_ x: [T], channels: [Int32], plane: Int) -> [T] {
        var out = [T](repeating: 0, count: channels.count * plane)
        x.withUnsafeBufferPointer { xb in
            out.withUnsafeMutableBufferPointer { ob in
                for (i, c) in channels.enumerated() {
                    (ob.baseAddress! + i * plane).update(from: xb.baseAddress! + Int(c) * plane, count: plane)
                }
            }
        }
        return out
    }
}
