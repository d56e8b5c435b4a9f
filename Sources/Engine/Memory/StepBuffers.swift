// The one description of what a device training step holds in SRAM: every buffer, its size in
// device byte widths, and the order in which the step allocates and frees them (llm.c's
// sizes-first style). `SlabAllocator` gives the buffers offsets in one slab; the planner reports
// that layout before anything runs, and the trainers take their buffers from it as they run.
//
// The step, as a device runs it (a = activation bytes, g = gradient bytes):
//  1. Writable weights (flash placement only): the candidate channels of every weight-trained
//     conv, the trained biases and the classifier. Held for the whole step. 1b. An int8 device
//     with `masterWeights` also holds an fp32 copy of the candidate channels of every
//     weight-trained conv and of a trained classifier (in either placement). 1c. A Ditto device
//     (`personalCopy`) holds its personal model: a copy of everything the device can update (the
//     writable weights of section 1, at the same widths), in SRAM in either placement.
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
//  SGD without momentum keeps no optimiser state.
//
// What the slab holds and what it only reserves (the one place this is said):
//  - The tail's buffers (sections 3 and 4, and the front's output store) are real: the trainers
//    compute in them.
//  - The frozen front (section 2) is reserved as the device runs it, at batch 1. The simulator
//    computes it outside the slab (from a `FeatureCache`, or batched by a `ForwardRunner`) and
//    copies the batch's front outputs into the store; the device's per-sample buffers are the
//    same for every sample, so the reservation is exact.
//  - Writable weights, fp32 masters and the personal copy (section 1) are reserved: the values stay in the model's
//    tensors, which the update writes.
//  - Dense training keeps BatchNorm's x̂ and 1/σ outside the slab (its reservation covers them);
//    the dense plan is a baseline for comparison, not a device plan.

/// What a buffer of a step is for; with the architecture it names the buffer.
public enum BufferRole: Hashable, Sendable {
    case writableWeights(unit: Int)
    case classifierWeights
    case masterWeights
    case personalCopy
    case frontStore
    case frontInput
    case frontOutput(unit: Int)
    case inputImages
    case saved(unit: Int)
    case output(unit: Int)
    case mask(unit: Int)
    case pooled
    case logits
    case dlogits
    case dpooled
    case classifierGradient
    case outputGradient
    case shortcutGradient(block: Int)
    case bnGradient(unit: Int)
    case inputGradient(unit: Int)
    case biasGradient(unit: Int)
    case weightGradient(unit: Int)

    /// Whether the slab only reserves this buffer (the simulator keeps its values elsewhere).
    public var isStandIn: Bool {
        switch self {
        case .writableWeights, .classifierWeights, .masterWeights, .personalCopy, .frontInput, .frontOutput: return true
        default: return false
        }
    }

    /// The buffer's name in reports and refusals, e.g. `_blocks.15._project_conv saved input channels`.
    public func label(_ arch: Architecture, dense: Bool = false) -> String {
        func name(_ u: Int) -> String { arch.units[u].name }
        switch self {
        case let .writableWeights(u): return "\(name(u)) writable weights"
        case .classifierWeights: return "\(arch.classifierName) writable weights"
        case .masterWeights: return "fp32 master weights"
        case .personalCopy: return "personal model copy (Ditto)"
        case .frontStore: return "frozen-front output store"
        case .frontInput: return "input image"
        case let .frontOutput(u): return "\(name(u)) output (front)"
        case .inputImages: return "input images"
        case let .saved(u): return dense ? "\(name(u)) saved input and BN x̂" : "\(name(u)) saved input channels"
        case let .output(u): return "\(name(u)) output"
        case let .mask(u): return "\(name(u)) ReLU6 mask"
        case .pooled: return "pooled features"
        case .logits: return "logits"
        case .dlogits: return "dlogits"
        case .dpooled: return "dpooled"
        case .classifierGradient: return "\(arch.classifierName) gradient"
        case .outputGradient: return "\(name(arch.units.count - 1)) output gradient"
        case let .shortcutGradient(b): return "\(arch.blocks[b].name) shortcut gradient"
        case let .bnGradient(u): return "\(name(u)) BN gradient"
        case let .inputGradient(u): return "\(name(u)) input gradient"
        case let .biasGradient(u): return "\(name(u)) bias gradient"
        case let .weightGradient(u): return "\(name(u)) weight gradient"
        }
    }
}

/// One buffer of a step.
public struct StepBuffer: Equatable, Sendable {
    /// What it is for.
    public var role: BufferRole
    /// Its size in device bytes.
    public var bytes: Int
    /// Its kind, for the breakdown.
    public var kind: BufferKind
}

/// The buffers of one step and the order the step allocates and frees them in.
public struct StepBuffers: Sendable {
    /// One step of the schedule.
    public enum Event: Equatable, Sendable {
        /// Allocate `buffers[i]`.
        case allocate(Int)
        /// Free `buffers[i]`.
        case free(Int)
    }

    /// Every buffer, in the order of its allocation.
    public private(set) var buffers: [StepBuffer] = []
    /// The schedule.
    public private(set) var events: [Event] = []
    /// Role → index in `buffers`.
    public private(set) var index: [BufferRole: Int] = [:]
    /// Whether this is the dense plan (names the saved buffers).
    public let dense: Bool

    init(dense: Bool) { self.dense = dense }

    @discardableResult
    mutating func allocate(_ role: BufferRole, _ bytes: Int, _ kind: BufferKind) -> BufferRole {
        precondition(bytes >= 0 && index[role] == nil, "StepBuffers: \(role) allocated twice or with a negative size")
        index[role] = buffers.count
        events.append(.allocate(buffers.count))
        buffers.append(StepBuffer(role: role, bytes: bytes, kind: kind))
        return role
    }

    mutating func free(_ role: BufferRole?) {
        guard let role else { return }
        events.append(.free(index[role]!))
    }

    /// A buffer allocated and freed at once (a fused update's gradient), or kept to the end.
    mutating func transient(_ role: BufferRole, _ bytes: Int, fused: Bool, kept: inout [BufferRole]) {
        allocate(role, bytes, .parameterGradient)
        if fused { free(role) } else { kept.append(role) }
    }

    /// The step of `plan` on `arch` for `height`×`width` inputs at `options.batch`.
    /// - Parameter candidateChannels: unit → how many input channels may be updated over the run
    ///   (counts writable weights under flash placement and fp32 masters): k for static policies,
    ///   all for dynamic ones. Units absent here default to the plan's channel count.
    public static func schedule(_ arch: Architecture, plan: UpdatePlan, height: Int, width: Int, options: MemoryOptions,
                                candidateChannels: [Int: Int] = [:]) -> StepBuffers {
        let a = options.activationBytes, g = options.gradientBytes, batch = options.batch
        let one = arch.geometries(batch: 1, height: height, width: width)
        let geos = arch.geometries(batch: batch, height: height, width: width)
        var s = StepBuffers(dense: plan.dense)
        let first = plan.firstTrainableUnit(arch)
        let startBlock = plan.startBlock(arch)
        let startUnit = startBlock < arch.blocks.count ? arch.blocks[startBlock].units.lowerBound : arch.units.count
        var held: [BufferRole] = []

        // 1. Writable weights.
        if options.placement == .flash {
            for (u, spec) in arch.units.enumerated() {
                let bytes = writableWeightBytes(spec, unit: u, plan: plan, options: options, candidates: candidateChannels)
                if bytes > 0 { held.append(s.allocate(.writableWeights(unit: u), bytes, .weights)) }
            }
            if plan.trainClassifier || plan.dense {
                held.append(s.allocate(.classifierWeights, arch.classes * arch.features * options.weightBytes + arch.classes * options.biasBytes, .weights))
            }
        }
        // 1b. fp32 master weights.
        if options.holdsMasters, let bytes = masterWeightBytes(arch, plan: plan, candidateChannels: candidateChannels) {
            held.append(s.allocate(.masterWeights, bytes, .weights))
        }
        // 1c. Ditto's personal copy of everything the device can update.
        if options.personalCopy, case let bytes = personalCopyBytes(arch, plan: plan, options: options, candidateChannels: candidateChannels), bytes > 0 {
            held.append(s.allocate(.personalCopy, bytes, .weights))
        }

        // 2. Frozen front, per sample.
        var current: BufferRole
        if startUnit > 0 {
            let storeCount = startUnit < one.count ? one[startUnit].inputCount : one[one.count - 1].outputCount
            current = s.allocate(.frontStore, batch * storeCount * a, .prefixStore)
            var cur = s.allocate(.frontInput, one[0].inputCount * a, .working)
            for b in 0..<startBlock {
                let block = arch.blocks[b]
                let blockInput = cur
                for u in block.units {
                    let out = s.allocate(.frontOutput(unit: u), one[u].outputCount * a, .working)
                    if !(block.residual && u == block.units.lowerBound) { s.free(cur) }
                    cur = out
                }
                if block.residual { s.free(blockInput) }
            }
            s.free(cur)
        } else {
            current = s.allocate(.inputImages, geos[0].inputCount * a, .working)
        }

        // 3. Tail forward at batch B.
        for b in startBlock..<arch.blocks.count {
            let block = arch.blocks[b]
            let blockInput = current
            for u in block.units {
                let spec = arch.units[u], geo = geos[u]
                if plan.dense {
                    s.allocate(.saved(unit: u), geo.inputCount * a + geo.outputCount * a + spec.outChannels * 4, .saved)
                } else if let chans = plan.weightChannels[u] {
                    s.allocate(.saved(unit: u), chans.count * geo.batch * geo.inPlane * a, .saved)
                }
                let out = s.allocate(.output(unit: u), geo.outputCount * a, .working)
                if spec.relu6 && u >= first { s.allocate(.mask(unit: u), (geo.outputCount + 7) / 8, .mask) }
                if !(block.residual && u == block.units.lowerBound) { s.free(current) }
                current = out
            }
            if block.residual { s.free(blockInput) }
        }
        let f = arch.features, classes = arch.classes
        let trainsClassifier = plan.trainClassifier || plan.dense
        s.allocate(.pooled, f * batch * a, trainsClassifier ? .saved : .working)
        s.free(current)
        s.allocate(.logits, classes * batch * 4, .working)
        s.allocate(.dlogits, classes * batch * g, .activationGradient)
        s.free(.logits)

        // 4. Backward.
        var kept: [BufferRole] = []
        let needFeatureGrad = first < arch.units.count
        if needFeatureGrad { s.allocate(.dpooled, f * batch * g, .activationGradient) }
        if trainsClassifier { s.transient(.classifierGradient, (classes * f + classes) * g, fused: options.fused, kept: &kept) }
        s.free(.dlogits)
        s.free(.pooled)
        guard needFeatureGrad else {
            kept.forEach { s.free($0) }; held.forEach { s.free($0) }
            return s
        }
        let last = arch.units.count - 1
        var dy: BufferRole? = s.allocate(.outputGradient, geos[last].outputCount * g, .activationGradient)
        s.free(.dpooled)
        for b in stride(from: arch.blocks.count - 1, through: startBlock, by: -1) {
            let block = arch.blocks[b]
            if block.residual {
                s.allocate(.shortcutGradient(block: b), geos[block.units.upperBound - 1].outputCount * g, .activationGradient)
            }
            for u in block.units.reversed() where u >= first {
                let spec = arch.units[u], geo = geos[u]
                if s.index[.mask(unit: u)] != nil { s.free(.mask(unit: u)) }
                if plan.dense { s.transient(.bnGradient(unit: u), 2 * spec.outChannels * g, fused: options.fused, kept: &kept) }
                let dx: BufferRole? = u > first ? s.allocate(.inputGradient(unit: u), geo.inputCount * g, .activationGradient) : nil
                if plan.biasUnits.contains(u) { s.transient(.biasGradient(unit: u), spec.outChannels * g, fused: options.fused, kept: &kept) }
                if s.index[.saved(unit: u)] != nil {
                    s.transient(.weightGradient(unit: u), weightGradientCount(spec, geo: geo, plan: plan, unit: u) * g, fused: options.fused, kept: &kept)
                    s.free(.saved(unit: u))
                }
                s.free(dy)
                dy = dx
            }
            if block.residual { s.free(.shortcutGradient(block: b)) }
        }
        s.free(dy)
        kept.forEach { s.free($0) }
        held.forEach { s.free($0) }
        return s
    }

    /// Values of a unit's weight gradient: [Cout][k][taps], depthwise [k][taps]; dense: the whole weight.
    static func weightGradientCount(_ spec: ConvUnitSpec, geo: ConvGeometry, plan: UpdatePlan, unit u: Int) -> Int {
        let k = plan.dense ? spec.inChannels : plan.weightChannels[u]!.count
        return (spec.isDepthwise ? k : spec.outChannels * (plan.dense ? spec.inChannels / spec.groups : k)) * geo.taps
    }

    /// Writable bytes of one unit under flash placement.
    static func writableWeightBytes(_ spec: ConvUnitSpec, unit u: Int, plan: UpdatePlan, options: MemoryOptions, candidates: [Int: Int]) -> Int {
        if plan.dense { return spec.weightShape.reduce(1, *) * options.weightBytes + 2 * spec.outChannels * options.biasBytes }
        var bytes = 0
        if let chans = plan.weightChannels[u] {
            bytes += (spec.isDepthwise ? 1 : spec.outChannels) * (candidates[u] ?? chans.count) * spec.kernel * spec.kernel * options.weightBytes
        }
        if plan.biasUnits.contains(u) { bytes += spec.outChannels * options.biasBytes }
        return bytes
    }

    /// Bytes of a Ditto device's personal copy for `plan`: the writable weights of every unit it
    /// can update (as under flash placement) and of a trained classifier.
    public static func personalCopyBytes(_ arch: Architecture, plan: UpdatePlan, options: MemoryOptions, candidateChannels: [Int: Int]) -> Int {
        var bytes = 0
        for (u, spec) in arch.units.enumerated() {
            bytes += writableWeightBytes(spec, unit: u, plan: plan, options: options, candidates: candidateChannels)
        }
        if plan.trainClassifier || plan.dense { bytes += arch.classes * arch.features * options.weightBytes + arch.classes * options.biasBytes }
        return bytes
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
}
