// One simulated device's local training: its shard, its policy state, its RNG, its coverage, and
// every step run inside an arena of exactly its memory budget.

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
    /// The device's current model.
    public var network: Network
    /// The update policy (its state persists across rounds).
    public var policy: any UpdatePolicy
    /// Channel coverage so far.
    public var coverage: CoverageTracker
    /// Candidate channels per unit that count as writable under flash placement.
    public let candidateChannels: [Int: Int]
    /// Batch-order generator.
    public private(set) var rng: SplitMix64
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

    /// What a step's memory depends on: the plan's shape, not which channels it picks.
    private struct PlanShape: Hashable {
        var channelCounts: [Int: Int], biasUnits: Set<Int>, classifier: Bool, dense: Bool, budget: Int, size: Int
    }

    /// Budget checks already made, by plan shape → the planner's overflow.
    private var checked: [PlanShape: MemoryOverflow?] = [:]

    /// The planner's first allocation past `budget` for `plan` at `config`'s batch and memory
    /// model (its peak equals the arena's: `MemoryTests`), nil when it fits. Memory depends on
    /// the counts of the plan's channels, not on which ones, so the verdict is cached by them.
    func overflow(_ plan: UpdatePlan, config: LocalTrainingConfig, height: Int, width: Int, budget: Int) -> MemoryOverflow? {
        let key = PlanShape(channelCounts: plan.weightChannels.mapValues(\.count), biasUnits: plan.biasUnits, classifier: plan.trainClassifier,
                            dense: plan.dense, budget: budget, size: height)
        if let known = checked[key] { return known }
        let verdict = MemoryPlanner.plan(network.arch, plan: plan, height: height, width: width, options: config.memory,
                                         candidateChannels: candidateChannels, budget: budget).overflow
        checked[key] = verdict
        return verdict
    }

    /// Runs `steps` local SGD steps. A step that would exceed the budget is refused before it
    /// runs — `MemoryOverflow` naming the buffer and the overflow — and leaves the model, the
    /// policy, the batch order and the coverage as they were (the arena still checks every
    /// step it runs).
    @discardableResult
    public func train(steps: Int, config: LocalTrainingConfig, source: TrainingSource, trainer: Trainer) throws -> LocalStats {
        var lossSum = 0.0, correct = 0, peak = 0
        let labels = source.labels
        for _ in 0..<steps {
            let before = policy
            let plan = policy.nextPlan()
            if let budget = config.budget {
                let size: Int
                switch source { case let .cache(_, _, s): size = s; case let .images(_, pre): size = pre.size }
                if let overflow = overflow(plan, config: config, height: size, width: size, budget: budget) {
                    policy = before
                    throw overflow
                }
            }
            let idx = nextBatch(config.batch)
            let y = idx.map { Int32(labels[$0]) }
            let arena = MemoryArena(budget: config.budget ?? .max)
            let memory = StepMemory(arena: arena, options: config.memory, candidateChannels: candidateChannels)
            let result: StepResult
            switch source {
            case let .cache(cache, _, size):
                result = trainer.step(&network, input: cache.batch(idx), inputBlock: cache.block, labels: y, height: size, width: size,
                                      plan: plan, learningRates: config.learningRates, memory: memory)
            case let .images(data, pre):
                result = trainer.step(&network, input: pre.batch(data, indices: idx), labels: y, height: pre.size, width: pre.size,
                                      plan: plan, learningRates: config.learningRates, memory: memory)
            }
            if let overflow = arena.overflow { throw overflow }
            var feedback = result.feedback
            for (u, chans) in plan.weightChannels where !chans.isEmpty {
                feedback.channelWeightNorms[u] = ChannelNorms.inputChannelWeightNorms(network, unit: u, channels: chans)
            }
            policy.observe(feedback, plan: plan)
            coverage.record(plan, arch: network.arch)
            lossSum += Double(result.loss)
            correct += result.correct
            peak = max(peak, arena.peak)
        }
        return LocalStats(steps: steps, meanLoss: steps == 0 ? 0 : lossSum / Double(steps),
                          accuracy: steps == 0 ? 0 : Double(correct) / Double(steps * config.batch),
                          samples: steps * config.batch, peakBytes: peak)
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
