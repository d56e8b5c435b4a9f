// The analytic memory planner: what one device training step holds in SRAM, worked out from the
// architecture and the plan alone, before anything runs (ggml's planner, llm.c's fill_in_sizes).
// The trainer charges its real buffers to a `MemoryArena` as it runs; a test asserts the two
// agree byte for byte.
//
// The step, as a device runs it (a = activation bytes, g = gradient bytes):
//  1. Writable weights (flash placement only): the candidate channels of every weight-trained
//     conv, the trained biases and the classifier. Held for the whole step.
//  2. Frozen front, one sample at a time: each unit holds its input and output (a residual
//     block also holds its input until the add); each sample's output goes to a store of B
//     samples, which becomes the input of the trainable tail.
//  3. Tail forward at batch B: a weight-trained conv keeps its k selected input maps; a ReLU6 on
//     the gradient path keeps a 1-bit mask; dense BatchNorm keeps x̂ and 1/σ; the classifier
//     keeps the pooled features when it trains; logits, then dlogits.
//  4. Backward from the classifier down to the first trainable unit: output gradient dY and
//     input gradient dX of the current unit, a residual block's output gradient until the add,
//     and each layer's weight/bias gradient, freed right after its fused SGD update (or kept to
//     the end when not fused). Saved maps and masks are freed once used.
//  SGD without momentum keeps no optimiser state. An int8 device with `masterWeights` also holds,
//  for the whole step, an fp32 copy of the candidate channels of every weight-trained conv and of
//  a trained classifier (1b; in either placement).

/// The memory of one unit in a plan.
public struct UnitMemory: Equatable, Sendable, Codable {
    /// Unit name.
    public var name: String
    /// Output activation bytes at the batch it runs at.
    public var outputBytes: Int
    /// Selected input maps (or BN x̂) kept for backward.
    public var savedBytes: Int
    /// ReLU6 mask bytes kept for backward.
    public var maskBytes: Int
    /// Weight + bias gradient buffer bytes.
    public var gradientBytes: Int
    /// Writable weight bytes (flash placement).
    public var weightBytes: Int
}

/// The planner's verdict for one plan.
public struct MemoryReport: Equatable, Sendable, Codable {
    /// Peak SRAM bytes of the step.
    public var peak: Int
    /// The allocation at which the peak is reached.
    public var peakAt: String
    /// Live bytes per kind at the peak.
    public var peakBreakdown: [String: Int]
    /// Feature memory: the peak of activations kept for backward (saved maps, BN x̂, pooled
    /// features, ReLU6 masks) — what dense training must store per layer and sparse training avoids.
    public var featurePeak: Int
    /// Per-unit figures.
    public var units: [UnitMemory]
    /// The options used.
    public var options: MemoryOptions
    /// The first allocation over the budget the plan was checked against, if any.
    public var overflow: MemoryOverflow? = nil

    /// Whether the plan fits `budget`.
    public func fits(_ budget: Int) -> Bool { peak <= budget }
}

/// Computes `MemoryReport`s.
public enum MemoryPlanner {
    /// Plans one training step of `plan` on `arch` for `height`×`width` inputs.
    /// - Parameter candidateChannels: unit → how many input channels may be updated over the run
    ///   (counts writable weights under flash placement): k for static policies, all for dynamic
    ///   ones. Units absent here default to the plan's channel count.
    /// - Parameter budget: the report's `overflow` names the first allocation past it.
    public static func plan(_ arch: Architecture, plan: UpdatePlan, height: Int, width: Int,
                            options: MemoryOptions = MemoryOptions(), candidateChannels: [Int: Int] = [:], budget: Int = .max) -> MemoryReport {
        let a = options.activationBytes, g = options.gradientBytes, batch = options.batch
        let one = arch.geometries(batch: 1, height: height, width: width)
        let geos = arch.geometries(batch: batch, height: height, width: width)
        let arena = MemoryArena(budget: budget)
        let features = Accumulator()
        func alloc(_ bytes: Int, _ kind: BufferKind, _ label: String) -> Int {
            let h = arena.allocate(bytes, kind, label)
            if kind == .saved || kind == .mask { features.add(h, bytes) }
            return h
        }
        func free(_ h: Int) { arena.free(h); features.remove(h) }
        var rows = arch.units.map { UnitMemory(name: $0.name, outputBytes: 0, savedBytes: 0, maskBytes: 0, gradientBytes: 0, weightBytes: 0) }

        let first = plan.firstTrainableUnit(arch)
        let startBlock = plan.startBlock(arch)
        let startUnit = startBlock < arch.blocks.count ? arch.blocks[startBlock].units.lowerBound : arch.units.count

        // 1. Writable weights.
        var weightHandles: [Int] = []
        if options.placement == .flash {
            for (u, spec) in arch.units.enumerated() {
                var bytes = 0
                if plan.dense {
                    bytes = spec.weightShape.reduce(1, *) * options.weightBytes + 2 * spec.outChannels * options.biasBytes
                } else {
                    if let chans = plan.weightChannels[u] {
                        let cand = candidateChannels[u] ?? chans.count
                        bytes += (spec.isDepthwise ? 1 : spec.outChannels) * cand * spec.kernel * spec.kernel * options.weightBytes
                    }
                    if plan.biasUnits.contains(u) { bytes += spec.outChannels * options.biasBytes }
                }
                if bytes > 0 {
                    rows[u].weightBytes = bytes
                    weightHandles.append(alloc(bytes, .weights, "\(spec.name) writable weights"))
                }
            }
            if plan.trainClassifier || plan.dense {
                weightHandles.append(alloc(arch.classes * arch.features * options.weightBytes + arch.classes * options.biasBytes,
                                           .weights, "\(arch.classifierName) writable weights"))
            }
        }

        // 1b. fp32 master weights.
        if options.holdsMasters, let bytes = masterWeightBytes(arch, plan: plan, candidateChannels: candidateChannels) {
            weightHandles.append(alloc(bytes, .weights, "fp32 master weights"))
        }

        // 2. Frozen front, per sample.
        var current: Int
        if startUnit > 0 {
            let storeCount = startUnit < one.count ? one[startUnit].inputCount : one[one.count - 1].outputCount
            let store = alloc(batch * storeCount * a, .prefixStore, "frozen-front output store")
            var cur = alloc(one[0].inputCount * a, .working, "input image")
            for b in 0..<startBlock {
                let block = arch.blocks[b]
                let blockInput = cur
                for u in block.units {
                    let out = alloc(one[u].outputCount * a, .working, "\(arch.units[u].name) output (front)")
                    if !(block.residual && u == block.units.lowerBound) { free(cur) }
                    cur = out
                }
                if block.residual { free(blockInput) }
            }
            free(cur)
            current = store
        } else {
            current = alloc(geos[0].inputCount * a, .working, "input images")
        }

        // 3. Tail forward at batch B.
        var saved: [Int: Int] = [:], masks: [Int: Int] = [:]
        for b in startBlock..<arch.blocks.count {
            let block = arch.blocks[b]
            let blockInput = current
            for u in block.units {
                let spec = arch.units[u], geo = geos[u]
                let plane = geo.batch * geo.inPlane
                if plan.dense {
                    let bytes = geo.inputCount * a + geo.outputCount * a + spec.outChannels * 4
                    saved[u] = alloc(bytes, .saved, "\(spec.name) saved input and BN x̂")
                    rows[u].savedBytes = bytes
                } else if let chans = plan.weightChannels[u] {
                    let bytes = chans.count * plane * a
                    saved[u] = alloc(bytes, .saved, "\(spec.name) saved input channels")
                    rows[u].savedBytes = bytes
                }
                let out = alloc(geo.outputCount * a, .working, "\(spec.name) output")
                rows[u].outputBytes = geo.outputCount * a
                if spec.relu6 && u >= first {
                    let bytes = (geo.outputCount + 7) / 8
                    masks[u] = alloc(bytes, .mask, "\(spec.name) ReLU6 mask")
                    rows[u].maskBytes = bytes
                }
                if !(block.residual && u == block.units.lowerBound) { free(current) }
                current = out
            }
            if block.residual { free(blockInput) }
        }
        let f = arch.features, classes = arch.classes
        let trainsClassifier = plan.trainClassifier || plan.dense
        let pooled = alloc(f * batch * a, trainsClassifier ? .saved : .working, "pooled features")
        free(current)
        let logits = alloc(classes * batch * 4, .working, "logits")
        let dlogits = alloc(classes * batch * g, .activationGradient, "dlogits")
        free(logits)

        // 4. Backward.
        var kept: [Int] = []
        let needFeatureGrad = first < arch.units.count
        let dpooled = needFeatureGrad ? alloc(f * batch * g, .activationGradient, "dpooled") : 0
        if trainsClassifier {
            let h = alloc((classes * f + classes) * g, .parameterGradient, "\(arch.classifierName) gradient")
            if options.fused { free(h) } else { kept.append(h) }
        }
        free(dlogits)
        free(pooled)
        guard needFeatureGrad else {
            kept.forEach(free); weightHandles.forEach(free)
            return report(arena, features, rows, options)
        }
        let last = arch.units.count - 1
        var dy = alloc(geos[last].outputCount * g, .activationGradient, "\(arch.units[last].name) output gradient")
        free(dpooled)
        for b in stride(from: arch.blocks.count - 1, through: startBlock, by: -1) {
            let block = arch.blocks[b]
            var dshort = 0
            if block.residual {
                dshort = alloc(geos[block.units.upperBound - 1].outputCount * g, .activationGradient, "\(block.name) shortcut gradient")
            }
            for u in block.units.reversed() where u >= first {
                let spec = arch.units[u], geo = geos[u]
                if let m = masks[u] { free(m) }
                var grads = 0
                if plan.dense {
                    let h = alloc(2 * spec.outChannels * g, .parameterGradient, "\(spec.name) BN gradient")
                    grads += 2 * spec.outChannels * g
                    if options.fused { free(h) } else { kept.append(h) }
                }
                let dx = u > first ? alloc(geo.inputCount * g, .activationGradient, "\(spec.name) input gradient") : 0
                if plan.biasUnits.contains(u) {
                    let h = alloc(spec.outChannels * g, .parameterGradient, "\(spec.name) bias gradient")
                    grads += spec.outChannels * g
                    if options.fused { free(h) } else { kept.append(h) }
                }
                if let s = saved[u] {
                    let k = plan.dense ? spec.inChannels : plan.weightChannels[u]!.count
                    let bytes = (spec.isDepthwise ? k : spec.outChannels * (plan.dense ? spec.inChannels / spec.groups : k)) * spec.kernel * spec.kernel * g
                    let h = alloc(bytes, .parameterGradient, "\(spec.name) weight gradient")
                    grads += bytes
                    if options.fused { free(h) } else { kept.append(h) }
                    free(s)
                }
                rows[u].gradientBytes = grads
                free(dy)
                dy = dx
            }
            if block.residual { free(dshort) }
        }
        free(dy)
        kept.forEach(free)
        weightHandles.forEach(free)
        return report(arena, features, rows, options)
    }

    /// Bytes of the fp32 master copies an int8 device holds for `plan` (nil: none).
    static func masterWeightBytes(_ arch: Architecture, plan: UpdatePlan, candidateChannels: [Int: Int]) -> Int? {
        var values = 0
        for (u, chans) in plan.weightChannels {
            let spec = arch.units[u]
            values += (spec.isDepthwise ? 1 : spec.outChannels) * (candidateChannels[u] ?? chans.count) * spec.kernel * spec.kernel
        }
        if plan.trainClassifier { values += arch.classes * arch.features }
        return values > 0 ? values * 4 : nil
    }

    static func report(_ arena: MemoryArena, _ features: Accumulator, _ rows: [UnitMemory], _ options: MemoryOptions) -> MemoryReport {
        MemoryReport(peak: arena.peak, peakAt: arena.peakAt,
                     peakBreakdown: Dictionary(uniqueKeysWithValues: arena.peakBreakdown.map { ($0.key.rawValue, $0.value) }),
                     featurePeak: features.peak, units: rows, options: options, overflow: arena.overflow)
    }

    /// Tracks the peak of a subset of allocations.
    final class Accumulator {
        var live = 0, peak = 0
        var sizes: [Int: Int] = [:]
        func add(_ h: Int, _ bytes: Int) { sizes[h] = bytes; live += bytes; peak = max(peak, live) }
        func remove(_ h: Int) { if let b = sizes.removeValue(forKey: h) { live -= b } }
    }
}
