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
// Every buffer lives in the step's `DeviceSlab` at the offset the schedule (`StepBuffers`) gave
// it, and a step that would not fit its budget is refused before anything changes.

/// The outcome of one training step.
public struct StepResult: Equatable, Sendable {
    /// Mean cross-entropy of the batch, before the update.
    public var loss: Float
    /// Samples whose arg-max logit matched the label, before the update.
    public var correct: Int
    /// Per-channel weight-gradient norms of the weight-trained units (for DGSU).
    public var feedback: StepFeedback = StepFeedback()
    /// Bytes of slab the step held: the end of the highest buffer it took (its measured peak).
    public var peak = 0
}

/// The device memory of a step: byte widths and placement, the candidate channels, the budget.
public struct StepMemory {
    /// Byte widths, placement, fusion (the batch is the step's).
    public var options: MemoryOptions
    /// Unit → input channels that may be updated over the run (writable copies under flash placement).
    public var candidateChannels: [Int: Int]
    /// The device's SRAM in bytes (nil: unbudgeted).
    public var budget: Int?

    /// The memory of a device with `options`, `candidateChannels` and `budget`.
    public init(options: MemoryOptions, candidateChannels: [Int: Int] = [:], budget: Int? = nil) {
        self.options = options; self.candidateChannels = candidateChannels; self.budget = budget
    }
}

/// Runs training steps in a device slab. One trainer per thread.
public final class Trainer {
    /// Scratch for the layer kernels.
    public let ws = Workspace()
    private let prefix = ForwardRunner()
    /// The slab of the last step (its layout and measured peak).
    public private(set) var slab = DeviceSlab(budget: nil)

    /// Run the frozen front one sample at a time (default: as a device does, and bit-identical to
    /// training from a `FeatureCache`). Set false to run it batched — faster, but a sample's
    /// features may then differ from the cached ones in the last bit (OpenBLAS sums depend on N).
    public var frontPerSample = true

    /// The int8 device's trainer (its scratch and slab), made at the first int8 step that this
    /// trainer is passed to: a device's scratch lives as long as the caller's `Trainer` (a node
    /// passes a fresh one per task), not as long as the device.
    public private(set) lazy var quantized = QuantizedTrainer()

    /// A trainer with an empty slab.
    public init() {}

    /// One SGD step of `plan` on a batch. `input` is the feature map entering block `inputBlock`
    /// (0: raw images [3][N][H][W]); the frozen blocks before the first trainable one run one
    /// sample at a time, as on a device (and as `FeatureCache` does). Pass cached features with
    /// `inputBlock: plan.startBlock(arch)` to skip the frozen front. `height`/`width` are the raw
    /// image size. Updates `net` in place. Throws the `MemoryOverflow` of a step that does not
    /// fit `memory`'s budget, before anything changes.
    @discardableResult
    public func step(_ net: inout Network, input: [Float], inputBlock: Int = 0, labels: [Int32], height: Int, width: Int,
                     plan: UpdatePlan, learningRate lr: Float, memory: StepMemory? = nil) throws -> StepResult {
        try step(&net, input: input, inputBlock: inputBlock, labels: labels, height: height, width: width, plan: plan,
                 learningRates: LearningRates(lr), memory: memory)
    }

    /// One SGD step with a learning rate per parameter group (classifier, conv biases, conv
    /// weights); otherwise as `step(_:input:...:learningRate:memory:)`.
    @discardableResult
    public func step(_ net: inout Network, input: [Float], inputBlock: Int = 0, labels: [Int32], height: Int, width: Int,
                     plan: UpdatePlan, learningRates rates: LearningRates, memory: StepMemory? = nil) throws -> StepResult {
        let arch = net.arch
        let batch = labels.count
        precondition(batch > 0, "Trainer.step: empty batch")
        if let problem = plan.problem(for: arch) { preconditionFailure("Trainer.step: \(problem)") }
        precondition(plan.dense == !net.isFolded,
                     plan.dense ? "Trainer.step: the dense plan needs an unfolded network (BatchNorm in training mode)"
                                : "Trainer.step: sparse plans need a folded network (call folded())")
        slab = try DeviceSlab.forStep(slab, memory: memory, precision: .fp32, trainer: "Trainer", arch: arch, plan: plan, batch: batch,
                                      height: height, width: width)
        let slab = self.slab

        let geos = arch.geometries(batch: batch, height: height, width: width)
        let first = plan.firstTrainableUnit(arch)
        let startBlock = plan.startBlock(arch)
        let startUnit = startBlock < arch.blocks.count ? arch.blocks[startBlock].units.lowerBound : arch.units.count
        precondition(inputBlock <= startBlock, "Trainer.step: input enters block \(inputBlock), after the first trainable block \(startBlock)")
        let tailInput = inputBlock == startBlock ? input
            : frontPerSample ? prefix.featuresPerSample(net, input: input, batch: batch, height: height, width: width, blocks: inputBlock..<startBlock)
            : prefix.features(net, input: input, batch: batch, height: height, width: width, blocks: inputBlock..<startBlock)
        let expected = startUnit < geos.count ? geos[startUnit].inputCount : geos[geos.count - 1].outputCount
        precondition(tailInput.count == expected, "Trainer.step: input has \(tailInput.count) values, block \(startBlock) needs \(expected)")
        slab.reserveStandIns()

        // ---- forward -------------------------------------------------------------------------
        var bnSaved: [Int: BatchNormSaved] = [:]
        var x = slab.floats(startUnit > 0 ? .frontStore : .inputImages, tailInput.count)
        tailInput.withUnsafeBufferPointer { x.update(from: $0.baseAddress!, count: $0.count) }
        for b in startBlock..<arch.blocks.count {
            let block = arch.blocks[b]
            let blockInput = x
            for u in block.units {
                let g = geos[u]
                let spec = arch.units[u]
                if plan.dense {  // the whole input; the region also covers x̂ and 1/σ (kept in bnSaved, see StepBuffers)
                    slab.floats(.saved(unit: u), g.inputCount + g.outputCount + spec.outChannels).update(from: x, count: g.inputCount)
                } else if let chans = plan.weightChannels[u] {
                    let plane = g.batch * g.inPlane
                    let s = slab.floats(.saved(unit: u), chans.count * plane)
                    for (i, c) in chans.enumerated() { (s + i * plane).update(from: x + Int(c) * plane, count: plane) }
                }
                let y = slab.floats(.output(unit: u), g.outputCount)
                let p = net.units[u]
                if g.isDepthwise && Depthwise.usesLanes(g) && !plan.dense {  // the weights' lane layout, cached per weight array
                    DepthwiseLanes.fp32(p.weight, channels: g.outChannels, taps: g.taps).withUnsafeBufferPointer { lanes in
                        p.bias.withUnsafeBufferPointer { Depthwise.forward(y: y, x: x, lanes: lanes.baseAddress!, bias: $0.baseAddress!, g: g, ws: ws) }
                    }
                } else {
                    p.weight.withUnsafeBufferPointer { w in
                        p.bias.withUnsafeBufferPointer { bias in
                            Conv2D.forward(y: y, x: x, weight: w.baseAddress!, bias: plan.dense ? nil : bias.baseAddress!, g: g, ws: ws)
                        }
                    }
                }
                if plan.dense { bnSaved[u] = BatchNorm.forwardTrain(y: y, x: y, bn: &net.units[u].bn!, plane: g.batch * g.outPlane) }
                if spec.relu6 {
                    ReLU6.forward(y, count: g.outputCount)
                    if u >= first { ReLU6.mask(y, count: g.outputCount, into: slab.bytes(.mask(unit: u), (g.outputCount + 7) / 8)) }
                }
                if u == block.units.upperBound - 1 && block.residual { ResidualAdd.forward(y: y, x: blockInput, count: g.outputCount) }
                x = y
            }
        }
        let last = geos[geos.count - 1]
        let f = arch.features, classes = arch.classes
        let trainsClassifier = plan.trainClassifier || plan.dense
        let pooled = slab.floats(.pooled, f * batch)
        GlobalAvgPool.forward(y: pooled, x: x, channels: f, batch: batch, plane: last.outPlane)
        let logits = slab.floats(.logits, classes * batch)
        Linear.forward(y: logits, x: pooled, weight: net.classifierWeight, bias: net.classifierBias, inFeatures: f, outFeatures: classes, batch: batch)
        let dlogits = slab.floats(.dlogits, classes * batch)
        let loss = SoftmaxCrossEntropy.forwardBackward(dlogits: dlogits, logits: logits, labels: labels, classes: classes)
        let predictions = SoftmaxCrossEntropy.argmax(logits: logits, classes: classes, batch: batch)
        let correct = zip(predictions, labels).filter { $0 == Int($1) }.count

        // ---- backward ------------------------------------------------------------------------
        let needFeatureGrad = first < arch.units.count
        if needFeatureGrad {
            Linear.backwardInput(dx: slab.floats(.dpooled, f * batch), dy: dlogits, weight: net.classifierWeight, inFeatures: f, outFeatures: classes, batch: batch)
        }
        if trainsClassifier {
            let dw = slab.floats(.classifierGradient, classes * f + classes), db = dw + classes * f
            dw.update(repeating: 0, count: classes * f + classes)
            Linear.backwardParams(dweight: dw, dbias: db, dy: dlogits, x: pooled, inFeatures: f, outFeatures: classes, batch: batch)
            SGD.apply(&net.classifierWeight, gradient: dw, learningRate: rates.head)
            SGD.apply(&net.classifierBias, gradient: db, learningRate: rates.head)
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
                let g = geos[u]
                let spec = arch.units[u]
                let plane = g.batch * g.outPlane
                if slab.has(.mask(unit: u)) {
                    ReLU6.backward(dx: dy, dy: dy, maskBytes: slab.bytes(.mask(unit: u), (g.outputCount + 7) / 8), count: g.outputCount)
                }
                if plan.dense, let saved = bnSaved[u] {
                    var bn = net.units[u].bn!
                    let dgamma = slab.floats(.bnGradient(unit: u), 2 * g.outChannels), dbeta = dgamma + g.outChannels
                    dgamma.update(repeating: 0, count: 2 * g.outChannels)
                    BatchNorm.backwardTrain(dx: dy, dgamma: dgamma, dbeta: dbeta, dy: dy, saved: saved, gamma: bn.gamma, plane: plane)
                    SGD.apply(&bn.gamma, gradient: dgamma, learningRate: rates.weights)
                    SGD.apply(&bn.beta, gradient: dbeta, learningRate: rates.weights)
                    net.units[u].bn = bn
                }
                // Input gradient first, with the weights as they were in forward.
                var dx: UnsafeMutablePointer<Float>?
                if u > first {
                    dx = slab.floats(.inputGradient(unit: u), g.inputCount)
                    if g.isDepthwise && Depthwise.usesLanes(g) {
                        DepthwiseLanes.fp32(net.units[u].weight, channels: g.outChannels, taps: g.taps).withUnsafeBufferPointer {
                            Depthwise.backwardInput(dx: dx!, dy: dy, lanes: $0.baseAddress!, g: g, ws: ws)
                        }
                    } else {
                        net.units[u].weight.withUnsafeBufferPointer { w in Conv2D.backwardInput(dx: dx!, dy: dy, weight: w.baseAddress!, g: g, ws: ws) }
                    }
                }
                if plan.biasUnits.contains(u) {
                    let db = slab.floats(.biasGradient(unit: u), g.outChannels)
                    db.update(repeating: 0, count: g.outChannels)
                    Conv2D.backwardBias(dbias: db, dy: dy, channels: g.outChannels, plane: plane)
                    SGD.apply(&net.units[u].bias, gradient: db, learningRate: rates.bias)
                }
                if slab.has(.saved(unit: u)) {
                    let chans = plan.dense ? nil : plan.weightChannels[u]
                    let k = chans?.count ?? g.inChannels
                    let perChannel = spec.isDepthwise ? g.taps : g.outChannels * g.taps
                    let count = StepBuffers.weightGradientCount(spec, geo: g, plan: plan, unit: u)
                    let dw = slab.floats(.weightGradient(unit: u), count)
                    dw.update(repeating: 0, count: count)
                    let xs = slab.floats(.saved(unit: u), k * g.batch * g.inPlane)
                    Conv2D.backwardWeight(dweight: dw, dy: dy, x: xs, channels: chans, packed: chans != nil, g: g, ws: ws)
                    if let chans {
                        feedback.channelGradientNorms[u] = Trainer.channelNorms(dw, channels: chans.count, perChannel: perChannel,
                                                                                 taps: g.taps, depthwise: spec.isDepthwise)
                    }
                    SGD.applySubset(&net.units[u].weight, gradient: dw, channels: chans, spec: spec, learningRate: rates.weights)
                }
                if let dx { dy = dx }
            }
            if let dshort, block.units.lowerBound > first {
                ResidualAdd.backward(dx: dy, dy: dshort, count: geos[block.units.lowerBound].inputCount)
            }
        }
        return StepResult(loss: loss, correct: correct, feedback: feedback, peak: slab.touchedEnd)
    }

    /// ‖dW[:, i]‖₂ per trained channel i of a [Cout][k][taps] (or depthwise [k][taps]) gradient.
    static func channelNorms(_ dw: UnsafePointer<Float>, channels k: Int, perChannel: Int, taps: Int, depthwise: Bool) -> [Float] {
        [Float](unsafeUninitializedCapacity: k) { sq, done in
            let s = sq.baseAddress!
            s.update(repeating: 0, count: k)
            if depthwise {
                for i in 0..<k { for t in 0..<taps { s[i] += dw[i * taps + t] * dw[i * taps + t] } }
            } else if taps == 1 {  // 1×1: each output row adds its k squares to the k sums (vectorises)
                for o in 0..<perChannel {
                    let row = dw + o * k
                    for i in 0..<k { s[i] += row[i] * row[i] }
                }
            } else {
                for o in 0..<perChannel / taps {
                    for i in 0..<k {
                        let base = (o * k + i) * taps
                        for t in 0..<taps { s[i] += dw[base + t] * dw[base + t] }
                    }
                }
            }
            for i in 0..<k { s[i] = s[i].squareRoot() }
            done = k
        }
    }
}
