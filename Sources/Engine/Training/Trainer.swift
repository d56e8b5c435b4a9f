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

/// The outcome of one training step.
public struct StepResult: Equatable, Sendable {
    /// Mean cross-entropy of the batch, before the update.
    public var loss: Float
    /// Samples whose arg-max logit matched the label, before the update.
    public var correct: Int
}

/// What forward kept for backward, for one unit.
struct SavedUnit {
    var mask: [UInt64]?
    var selectedInput: [Float]?
    var bn: BatchNormSaved?
}

/// Runs training steps with reusable buffers. One trainer per thread.
public final class Trainer {
    /// Scratch for the layer kernels.
    public let ws = Workspace()
    private var outputs: [[Float]] = []  // per-unit outputs of the current step (forward working set)
    private let prefix = ForwardRunner()
    private let grad = Scratch(), gradNext = Scratch(), gradShortcut = Scratch(), weightGrad = Scratch()

    /// A trainer with empty buffers.
    public init() {}

    /// One SGD step of `plan` on a batch. `input` is the feature map entering block `inputBlock`
    /// (0: raw images [3][N][H][W]); pass the cached frozen-prefix features with
    /// `inputBlock: plan.startBlock(arch)` to skip the frozen front. `height`/`width` are the raw
    /// image size. Updates `net` in place.
    @discardableResult
    public func step(_ net: inout Network, input: [Float], inputBlock: Int = 0, labels: [Int32], height: Int, width: Int,
                     plan: UpdatePlan, learningRate lr: Float) -> StepResult {
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
            : prefix.features(net, input: input, batch: batch, height: height, width: width, blocks: inputBlock..<startBlock)
        let expected = startUnit < geos.count ? geos[startUnit].inputCount : geos[geos.count - 1].outputCount
        precondition(input.count == expected, "Trainer.step: input has \(input.count) values, block \(startBlock) needs \(expected)")

        // ---- forward -------------------------------------------------------------------------
        if outputs.count != arch.units.count { outputs = Array(repeating: [], count: arch.units.count) }
        var saved = [SavedUnit](repeating: SavedUnit(), count: arch.units.count)
        var current = input
        for b in startBlock..<arch.blocks.count {
            let block = arch.blocks[b]
            let blockInput = current
            for u in block.units {
                let g = geos[u]
                let spec = arch.units[u]
                if let chans = plan.dense ? nil : plan.weightChannels[u] {
                    saved[u].selectedInput = gather(current, channels: chans, plane: g.batch * g.inPlane)
                } else if plan.dense {
                    saved[u].selectedInput = current
                }
                var y = outputs[u]
                if y.count != g.outputCount { y = [Float](repeating: 0, count: g.outputCount) }
                let p = net.units[u]
                y.withUnsafeMutableBufferPointer { yb in
                    current.withUnsafeBufferPointer { xb in
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
                        if u >= first { saved[u].mask = ReLU6.mask(yb.baseAddress!, count: g.outputCount) }
                    }
                }
                if u == block.units.upperBound - 1 && block.residual {
                    y.withUnsafeMutableBufferPointer { yb in
                        blockInput.withUnsafeBufferPointer { ResidualAdd.forward(y: yb.baseAddress!, x: $0.baseAddress!, count: g.outputCount) }
                    }
                }
                outputs[u] = y
                current = y
            }
        }
        let last = geos[geos.count - 1]
        let f = arch.features, classes = arch.classes
        var pooledFeatures = [Float](repeating: 0, count: f * batch)
        current.withUnsafeBufferPointer { x in
            GlobalAvgPool.forward(y: &pooledFeatures, x: x.baseAddress!, channels: f, batch: batch, plane: last.outPlane)
        }
        var logits = [Float](repeating: 0, count: classes * batch)
        Linear.forward(y: &logits, x: pooledFeatures, weight: net.classifierWeight, bias: net.classifierBias,
                       inFeatures: f, outFeatures: classes, batch: batch)
        var dlogits = [Float](repeating: 0, count: classes * batch)
        let loss = SoftmaxCrossEntropy.forwardBackward(dlogits: &dlogits, logits: logits, labels: labels, classes: classes)
        let predictions = SoftmaxCrossEntropy.argmax(logits: logits, classes: classes, batch: batch)
        let correct = zip(predictions, labels).filter { $0 == Int($1) }.count

        // ---- backward ------------------------------------------------------------------------
        let needFeatureGrad = first < arch.units.count
        var dpooled = [Float](repeating: 0, count: needFeatureGrad ? f * batch : 0)
        if needFeatureGrad {
            Linear.backwardInput(dx: &dpooled, dy: dlogits, weight: net.classifierWeight, inFeatures: f, outFeatures: classes, batch: batch)
        }
        if plan.trainClassifier || plan.dense {
            var dw = [Float](repeating: 0, count: classes * f), db = [Float](repeating: 0, count: classes)
            Linear.backwardParams(dweight: &dw, dbias: &db, dy: dlogits, x: pooledFeatures, inFeatures: f, outFeatures: classes, batch: batch)
            SGD.apply(&net.classifierWeight, gradient: dw, learningRate: lr)
            SGD.apply(&net.classifierBias, gradient: db, learningRate: lr)
        }
        guard needFeatureGrad else { return StepResult(loss: loss, correct: correct) }

        let maxCount = geos[first...].map { max($0.inputCount, $0.outputCount) }.max()!
        var dy = grad.floats(maxCount), dx = gradNext.floats(maxCount)
        let dshort = gradShortcut.floats(maxCount)
        dpooled.withUnsafeBufferPointer {
            GlobalAvgPool.backward(dx: dy, dy: $0.baseAddress!, channels: f, batch: batch, plane: last.outPlane)
        }
        let lastBlock = arch.blocks.count - 1
        for b in stride(from: lastBlock, through: startBlock, by: -1) {
            let block = arch.blocks[b]
            if block.residual { dshort.update(from: dy, count: geos[block.units.upperBound - 1].outputCount) }
            for u in block.units.reversed() where u >= first {
                let g = geos[u]
                let spec = arch.units[u]
                let plane = g.batch * g.outPlane
                if spec.relu6, let mask = saved[u].mask {
                    ReLU6.backward(dx: dy, dy: dy, mask: mask, count: g.outputCount)
                }
                if plan.dense, let bnSaved = saved[u].bn {
                    var bn = net.units[u].bn!
                    var dgamma = [Float](repeating: 0, count: g.outChannels), dbeta = dgamma
                    BatchNorm.backwardTrain(dx: dy, dgamma: &dgamma, dbeta: &dbeta, dy: dy, saved: bnSaved, gamma: bn.gamma, plane: plane)
                    SGD.apply(&bn.gamma, gradient: dgamma, learningRate: lr)
                    SGD.apply(&bn.beta, gradient: dbeta, learningRate: lr)
                    net.units[u].bn = bn
                }
                // Input gradient first, with the weights as they were in forward.
                if u > first {
                    net.units[u].weight.withUnsafeBufferPointer { w in
                        Conv2D.backwardInput(dx: dx, dy: dy, weight: w.baseAddress!, g: g, ws: ws)
                    }
                }
                if plan.biasUnits.contains(u) {
                    var db = [Float](repeating: 0, count: g.outChannels)
                    Conv2D.backwardBias(dbias: &db, dy: dy, channels: g.outChannels, plane: plane)
                    SGD.apply(&net.units[u].bias, gradient: db, learningRate: lr)
                }
                if let x = saved[u].selectedInput {
                    let chans = plan.dense ? nil : plan.weightChannels[u]
                    let k = chans?.count ?? g.inChannels
                    let count = spec.isDepthwise ? k * g.taps : g.outChannels * (chans == nil ? g.inPerGroup : k) * g.taps
                    let dw = weightGrad.floats(count)
                    dw.update(repeating: 0, count: count)
                    x.withUnsafeBufferPointer { xb in
                        Conv2D.backwardWeight(dweight: dw, dy: dy, x: xb.baseAddress!, channels: chans, packed: chans != nil, g: g, ws: ws)
                    }
                    SGD.applySubset(&net.units[u].weight, gradient: dw, channels: chans, spec: spec, learningRate: lr)
                }
                if u > first { swap(&dy, &dx) }
            }
            if block.residual && block.units.lowerBound > first {
                ResidualAdd.backward(dx: dy, dy: dshort, count: geos[block.units.lowerBound].inputCount)
            }
        }
        return StepResult(loss: loss, correct: correct)
    }

    /// Copies the maps of `channels` out of a [C][plane] buffer into [k][plane].
    func gather(_ x: [Float], channels: [Int32], plane: Int) -> [Float] {
        var out = [Float](repeating: 0, count: channels.count * plane)
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
