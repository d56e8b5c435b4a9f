// One simulated device's local training: its shard, its policy state, its RNG, its coverage, and
// every step run inside an arena of exactly its memory budget. A device with int8 arithmetic
// (an int8 feature cache, or `arithmetic` for images) trains its int8 model with
// `QuantizedTrainer`; `network` is then the real-valued view of that int8 model.

/// Where a device's training batches come from.
public enum TrainingSource {
    /// Frozen-prefix features (the fast path) with the data set's labels and the raw image size.
    case cache(FeatureCache, labels: [UInt8], imageSize: Int)
    /// Images, preprocessed per batch.
    case images(ImageDataset, Preprocessing)

    /// Labels of the underlying data set.
    var labels: [UInt8] {
        switch self {
        case let .cache(_, labels, _): return labels
        case let .images(data, _): return data.labels
        }
    }
}

/// Local training settings of a device.
public struct LocalTrainingConfig: Equatable, Sendable, Codable {
    /// Samples per step.
    public var batch: Int
    /// SGD learning rates per parameter group.
    public var learningRates: LearningRates
    /// The memory model.
    public var memory: MemoryOptions
    /// SRAM budget in bytes (nil: account but do not enforce).
    public var budget: Int?

    /// A configuration; `memory.batch` follows `batch`.
    public init(batch: Int, learningRates: LearningRates, memory: MemoryOptions = MemoryOptions(), budget: Int? = nil) {
        self.batch = batch; self.learningRates = learningRates; self.budget = budget
        self.memory = memory
        self.memory.batch = batch
    }

    /// A configuration with one learning rate for every group.
    public init(batch: Int, learningRate: Float, memory: MemoryOptions = MemoryOptions(), budget: Int? = nil) {
        self.init(batch: batch, learningRates: LearningRates(learningRate), memory: memory, budget: budget)
    }
}

/// What some local steps did.
public struct LocalStats: Equatable, Sendable {
    /// Steps run.
    public var steps: Int
    /// Mean training loss over the steps.
    public var meanLoss: Double
    /// Training accuracy over the steps (before each update).
    public var accuracy: Double
    /// Samples seen.
    public var samples: Int
    /// Highest arena peak of the steps, in device bytes.
    public var peakBytes: Int
}

/// A device: private shard, network, policy and the state that persists across rounds.
public final class DeviceSession {
    /// Device id.
    public let id: Int
    /// Indices of this device's training samples in the data set.
    public let shard: [Int]
    /// The device's current model (for an int8 device: the real values of its int8 model).
    public var network: Network {
        didSet { if !settingView { int8State = nil } }
    }
    var settingView = false
    /// The update policy (its state persists across rounds).
    public var policy: any UpdatePolicy
    /// Channel coverage so far.
    public var coverage: CoverageTracker
    /// Candidate channels per unit that count as writable under flash placement.
    public let candidateChannels: [Int: Int]
    /// Batch-order generator.
    public private(set) var rng: SplitMix64
    /// How the device computes when it trains from images (a cache brings its own).
    public var arithmetic: DeviceArithmetic = .fp32
    /// Seeds the int8 update's stochastic rounding (with the step count).
    private let roundingSeed: UInt64
    /// The int8 model of the last int8 steps (its units from block `fromBlock` on) and the
    /// real-valued view they left in `network`: training continues from it while `network` still
    /// equals the view.
    var int8State: (model: QuantizedNetwork, view: Network, fromBlock: Int)?

    /// Takes `q`, the int8 model of `network` from block `fromBlock` on (`DeviceArithmetic.quantise`
    /// of it, which the caller already made), as the model the next int8 steps start from, so that
    /// they do not quantise `network` again. Ignored when the memory model keeps fp32 masters (the
    /// steps then add them to a fresh quantisation).
    public func adopt(int8Model q: QuantizedNetwork, fromBlock: Int, masterWeights: Bool) {
        guard !masterWeights else { return }
        int8State = (q, network, fromBlock)
    }

    /// The int8 model the device holds after its last int8 steps, while `network` is still their
    /// view (its units from the training source's block on): what the device computes with, as
    /// opposed to `network` quantised afresh (per-row scales of trained rows need not survive a
    /// round trip through real values). Nil otherwise.
    public var heldInt8Model: QuantizedNetwork? {
        guard let state = int8State, state.view == network else { return nil }
        return state.model
    }
    private var order: [Int] = []
    private var cursor = 0

    /// A device over `shard` starting from `network`.
    public init(id: Int, shard: [Int], network: Network, policy: any UpdatePolicy, layout: SparseLayout,
                dynamic: Bool, seed: UInt64) {
        self.id = id
        self.shard = shard
        self.network = network
        self.policy = policy
        coverage = CoverageTracker(layout: layout, arch: network.arch)
        candidateChannels = LayoutSearch.candidates(layout, arch: network.arch, dynamic: dynamic)
        rng = SplitMix64(seed: seed)
        roundingSeed = seed ^ 0x51A7_C0DE_0000_0001
    }

    /// The next `n` sample indices, cycling through the shard in a fresh shuffled order each pass.
    public func nextBatch(_ n: Int) -> [Int] {
        precondition(!shard.isEmpty, "DeviceSession: device \(id) has an empty shard")
        var out: [Int] = []
        while out.count < n {
            if cursor >= order.count {
                order = shard
                order.shuffle(using: &rng)
                cursor = 0
            }
            out.append(order[cursor])
            cursor += 1
        }
        return out
    }

    /// Where the batch order stands: the generator, the current pass's order and the cursor in it.
    /// Saving it and setting it on a fresh session continues the exact same sequence of batches.
    public var batchPosition: BatchPosition {
        get { BatchPosition(rng: rng, order: order, cursor: cursor) }
        set { rng = newValue.rng; order = newValue.order; cursor = newValue.cursor }
    }

    /// What a budget check depends on: the plan's shape (not which channels it picks), the budget, the image size.
    private struct CheckKey: Hashable {
        var shape: PlanShape, budget: Int, size: Int
    }

    /// Budget checks already made → the planner's overflow.
    private var checked: [CheckKey: MemoryOverflow?] = [:]

    /// The planner's first buffer past `budget` for `plan` at `config`'s batch and memory model
    /// (the slab layout the trainer then computes in), nil when it fits. Memory depends on the
    /// counts of the plan's channels, not on which ones, so the verdict is cached by them.
    func overflow(_ plan: UpdatePlan, config: LocalTrainingConfig, height: Int, width: Int, budget: Int) -> MemoryOverflow? {
        let key = CheckKey(shape: PlanShape(plan), budget: budget, size: height)
        if let known = checked[key] { return known }
        let verdict = MemoryPlanner.plan(network.arch, plan: plan, height: height, width: width, options: config.memory,
                                         candidateChannels: candidateChannels, budget: budget).overflow
        checked[key] = verdict
        return verdict
    }

    /// Runs `steps` local SGD steps. A step that would exceed the budget is refused before it
    /// runs — `MemoryOverflow` naming the buffer and the overflow — and leaves the model, the
    /// policy, the batch order and the coverage as they were (the trainer's slab, exactly the
    /// budget, refuses it too).
    @discardableResult
    public func train(steps: Int, config: LocalTrainingConfig, source: TrainingSource, trainer: Trainer) throws -> LocalStats {
        let arithmetic: DeviceArithmetic
        switch source { case let .cache(c, _, _): arithmetic = c.arithmetic; case .images: arithmetic = self.arithmetic }
        precondition(config.memory.precision == arithmetic.precision,
                     "DeviceSession: the memory model is \(config.memory.precision.rawValue) but the device computes in \(arithmetic.precision.rawValue); build its cache (or set its arithmetic) for the same precision")
        if arithmetic.precision == .int8 {
            return try trainInt8(steps: steps, config: config, source: source, arithmetic: arithmetic, trainer: trainer.quantized)
        }
        var tally = StepTally()
        let labels = source.labels
        for _ in 0..<steps {
            let plan = try nextPlan(config: config, source: source)
            let idx = nextBatch(config.batch)
            let y = idx.map { Int32(labels[$0]) }
            let memory = StepMemory(options: config.memory, candidateChannels: candidateChannels, budget: config.budget)
            let result: StepResult
            switch source {
            case let .cache(cache, _, size):
                result = try trainer.step(&network, input: cache.batch(idx), inputBlock: cache.block, labels: y, height: size, width: size,
                                      plan: plan, learningRates: config.learningRates, memory: memory)
            case let .images(data, pre):
                result = try trainer.step(&network, input: pre.batch(data, indices: idx), labels: y, height: pre.size, width: pre.size,
                                      plan: plan, learningRates: config.learningRates, memory: memory)
            }
            observe(result, plan: plan) { ChannelNorms.inputChannelWeightNorms(self.network, unit: $0, channels: $1) }
            tally.add(result)
        }
        return tally.stats(steps: steps, batch: config.batch)
    }

    /// Hands the policy a step's feedback, with the new weight norms of the channels it trained
    /// when it reads them, and records the step's coverage.
    private func observe(_ result: StepResult, plan: UpdatePlan, weightNorms: (Int, [Int32]) -> [Float]) {
        var feedback = result.feedback
        if policy.wantsWeightNorms {
            for (u, chans) in plan.weightChannels where !chans.isEmpty { feedback.channelWeightNorms[u] = weightNorms(u, chans) }
        }
        policy.observe(feedback, plan: plan)
        coverage.record(plan, arch: network.arch)
    }

    /// `steps` steps at `config`'s rates under `schedule`, as steps `from`..<`from + steps` of a
    /// run of `total` (one call per step unless constant); the stats of all of them.
    @discardableResult
    public func train(steps: Int, from: Int, of total: Int, schedule: LearningRateSchedule, config: LocalTrainingConfig,
                      source: TrainingSource, trainer: Trainer) throws -> LocalStats {
        if schedule == .constant { return try train(steps: steps, config: config, source: source, trainer: trainer) }
        var loss = 0.0, accuracy = 0.0, peak = 0
        for t in from..<(from + steps) {
            var c = config
            c.learningRates = schedule.rates(config.learningRates, step: t, of: total)
            let one = try train(steps: 1, config: c, source: source, trainer: trainer)
            loss += one.meanLoss; accuracy += one.accuracy; peak = max(peak, one.peakBytes)
        }
        return LocalStats(steps: steps, meanLoss: loss / Double(max(1, steps)), accuracy: accuracy / Double(max(1, steps)),
                          samples: steps * config.batch, peakBytes: peak)
    }

    /// The int8 model for `network` from block `fromBlock` on: the one the last int8 steps left
    /// while `network` is still their view, else `network` quantised (with fp32 masters of the
    /// updatable weights when the memory model holds them).
    private func int8Model(_ arithmetic: DeviceArithmetic, masters: Bool, fromBlock: Int) -> (QuantizedNetwork, fromBlock: Int) {
        if let state = int8State, state.fromBlock <= fromBlock, state.model.scales == arithmetic.scales, state.view == network,
           !masters || !state.model.masters.isEmpty {
            return (state.model, state.fromBlock)
        }
        var q = arithmetic.quantise(network, fromBlock: fromBlock)
        if masters {
            for u in candidateChannels.keys { q.masters[u] = network.units[u].weight }
            q.masters[q.classifierIndex] = network.classifierWeight
        }
        return (q, fromBlock)
    }

    /// The policy's next plan, checked against the budget: a plan that would not fit throws the
    /// planner's `MemoryOverflow` and leaves the policy as it was.
    private func nextPlan(config: LocalTrainingConfig, source: TrainingSource) throws -> UpdatePlan {
        let before = policy
        let plan = policy.nextPlan()
        guard let budget = config.budget else { return plan }
        let size: Int
        switch source { case let .cache(_, _, s): size = s; case let .images(_, pre): size = pre.size }
        if let overflow = overflow(plan, config: config, height: size, width: size, budget: budget) {
            policy = before
            throw overflow
        }
        return plan
    }

    /// `train` on the int8 device: integer forward, fp32 backward, QAS updates.
    private func trainInt8(steps: Int, config: LocalTrainingConfig, source: TrainingSource, arithmetic: DeviceArithmetic,
                           trainer int8Trainer: QuantizedTrainer) throws -> LocalStats {
        // From a cache the steps never run the units before its block: they are not quantised.
        let sourceBlock: Int
        switch source { case let .cache(c, _, _): sourceBlock = c.block; case .images: sourceBlock = 0 }
        let start = int8Model(arithmetic, masters: config.memory.masterWeights, fromBlock: sourceBlock)
        var q = start.0
        let fromBlock = start.fromBlock
        var touched = Set<Int>(), classifier = false
        defer {
            // The view: the units the steps could change, as the int8 model holds them; every
            // other tensor is still `network`'s (and quantises to the same int8).
            let view = touched.isEmpty && !classifier ? network : q.dequantized(over: network, units: touched, classifier: classifier)
            settingView = true
            network = view
            settingView = false
            int8State = (q, view, fromBlock)
        }
        var tally = StepTally()
        let labels = source.labels
        for _ in 0..<steps {
            let plan = try nextPlan(config: config, source: source)
            touched.formUnion(plan.biasUnits)
            touched.formUnion(plan.weightChannels.keys)
            classifier = classifier || plan.trainClassifier
            let idx = nextBatch(config.batch)
            let y = idx.map { Int32(labels[$0]) }
            let memory = StepMemory(options: config.memory, candidateChannels: candidateChannels, budget: config.budget)
            let rounding = QASRounding(seed: config.memory.masterWeights ? nil : roundingSeed &+ UInt64(coverage.steps) &* 0x2545_F491_4F6C_DD1D)
            let result: StepResult
            switch source {
            case let .cache(cache, _, size):
                result = try int8Trainer.step(&q, input: cache.int8Batch(idx), inputBlock: cache.block, labels: y, height: size, width: size,
                                          plan: plan, learningRates: config.learningRates, rounding: rounding, memory: memory)
            case let .images(data, pre):
                result = try int8Trainer.step(&q, input: q.quantiseInput(pre.batch(data, indices: idx), block: 0), labels: y, height: pre.size,
                                          width: pre.size, plan: plan, learningRates: config.learningRates, rounding: rounding, memory: memory)
            }
            observe(result, plan: plan) { q.inputChannelWeightNorms(unit: $0, channels: $1) }
            tally.add(result)
        }
        return tally.stats(steps: steps, batch: config.batch)
    }
}

/// What a run of steps adds up to.
struct StepTally {
    var loss = 0.0, correct = 0, peak = 0

    /// Adds one step's loss, correct count and slab peak.
    mutating func add(_ r: StepResult) {
        loss += Double(r.loss); correct += r.correct; peak = max(peak, r.peak)
    }

    /// The stats of `steps` steps of `batch` samples.
    func stats(steps: Int, batch: Int) -> LocalStats {
        LocalStats(steps: steps, meanLoss: steps == 0 ? 0 : loss / Double(steps),
                   accuracy: steps == 0 ? 0 : Double(correct) / Double(steps * batch), samples: steps * batch, peakBytes: peak)
    }
}

/// A `DeviceSession`'s position in its batch order (see `DeviceSession.batchPosition`).
public struct BatchPosition: Equatable, Sendable, Codable {
    /// The batch-order generator.
    public var rng: SplitMix64
    /// The current pass's shuffled order of sample indices.
    public var order: [Int]
    /// The next position in `order`.
    public var cursor: Int

    /// A position from its parts.
    public init(rng: SplitMix64, order: [Int], cursor: Int) {
        self.rng = rng; self.order = order; self.cursor = cursor
    }
}
