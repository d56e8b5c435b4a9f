// Single-device fine-tuning: one device, one policy, a data set, a budget. Used by `node finetune`
// and by the results table in BENCHMARKS.md.
import Foundation

/// Everything a fine-tuning run needs.
public struct FineTuneConfig: Sendable, Codable, Equatable {
    public var model: ModelName = .efficientNetLite0
    public var weights: String? = nil
    public var pretrained = true
    public var dataset: DatasetName = .fashionMNIST
    public var dataDirectory: String? = nil
    public var resolution = 64
    public var trainSamples = 24_000
    public var validationSamples = 2_000
    public var testSamples = 10_000
    public var policy: PolicyKind = .dgsu
    public var policyOptions = PolicyOptions()
    public var budget = 256 * 1024
    public var memory = MemoryOptions()
    public var search = LayoutSearchOptions()
    public var epochs = 1.0
    /// Samples per step. The device memory model is per step at this batch; 1 is an MCU's usual case.
    public var batch = 1
    public var learningRate: Float = 0.05
    /// Learning rates to try on the validation slice (short runs) before the real run; empty: use `learningRate`.
    public var learningRateGrid: [Float] = []
    /// Per-group rates (classifier, conv biases, conv weights); nil: `learningRate` for all three.
    public var learningRates: LearningRates? = nil
    /// Per-group grids tried on the validation slice, every combination (a group without a grid
    /// keeps its rate); all empty: `learningRateGrid`, or no search.
    public var headGrid: [Float] = [], biasGrid: [Float] = [], weightsGrid: [Float] = []
    /// How the rates change over the run.
    public var schedule: LearningRateSchedule = .constant
    /// Schedules to try on the validation slice (with every rate candidate); empty: `schedule`.
    public var scheduleGrid: [LearningRateSchedule] = []
    /// Fraction of an epoch each grid candidate trains for.
    public var gridEpochs = 0.25
    public var seed: UInt64 = 0
    public var useCache = true

    /// Defaults: EfficientNet-Lite0 on Fashion-MNIST at 64×64, DGSU within 256 KB.
    public init() {}
}

/// The outcome of a fine-tuning run.
public struct FineTuneResult: Sendable, Codable, Equatable {
    public var policy: String
    public var model: String
    public var seed: UInt64
    /// The conv weights' rate (the only rate when the three are equal).
    public var learningRate: Float
    /// The rates per group the run used.
    public var learningRates: LearningRates
    /// The schedule the run used.
    public var schedule: LearningRateSchedule = .constant
    public var steps: Int
    public var testAccuracy: Double
    public var testLoss: Double
    public var validationAccuracy: Double
    /// Conv weights updated per step, as a fraction of all conv weights.
    public var convWeightsPerStep: Double
    /// Conv weights updated at least once over the run.
    public var convWeightsOverRun: Double
    /// Fraction of update-layer channels trained at least once.
    public var channelCoverage: Double
    /// Per update layer: name → coverage.
    public var coveragePerLayer: [String: Double]
    /// Planned peak SRAM (bytes) of a step under the run's memory options.
    public var plannedPeak: Int
    /// Highest peak measured by the arena.
    public var measuredPeak: Int
    /// Feature (activation) memory of a step, and of dense training at the same batch.
    public var featureMemory: Int
    public var denseFeatureMemory: Int
    /// Milliseconds per training step (wall).
    public var msPerStep: Double
    /// The layout trained.
    public var layout: SparseLayout
}

/// Runs fine-tuning experiments.
public final class FineTuner {
    /// Where progress lines go.
    public var log: (String) -> Void

    private var datasets: [String: (ImageDataset, ImageDataset, Int)] = [:]
    private var caches: [String: FeatureCache] = [:]

    /// A tuner printing progress through `log`. Data sets and frozen-front caches are kept and
    /// reused across runs of the same tuner (seeds and policies share them).
    public init(log: @escaping (String) -> Void = { print($0) }) { self.log = log }

    /// The run's training pool (validation slice first, then training samples), test set and
    /// validation count.
    func data(_ config: FineTuneConfig) throws -> (ImageDataset, ImageDataset, Int) {
        let key = "\(config.dataset.rawValue)|\(config.dataDirectory ?? "")|\(config.trainSamples)|\(config.validationSamples)|\(config.testSamples)"
        if let d = datasets[key] { return d }
        let fullTrain = try DatasetZoo.load(config.dataset, split: .train, directory: config.dataDirectory, seed: 0)
        let fullTest = try DatasetZoo.load(config.dataset, split: .test, directory: config.dataDirectory, seed: 0)
        var order = Array(0..<fullTrain.count)
        var rng = SplitMix64(seed: 0x5EED)
        order.shuffle(using: &rng)
        let valCount = min(config.validationSamples, fullTrain.count / 5)
        // Keep only the samples this run uses: the validation slice first, then the training samples.
        let d = (fullTrain.subset(Array(order.prefix(valCount + config.trainSamples))),
                 fullTest.subset(Array(0..<min(config.testSamples, fullTest.count))), valCount)
        datasets[key] = d
        return d
    }

    func cache(_ key: String, _ net: Network, _ data: ImageDataset, _ pre: Preprocessing, _ block: Int, _ arithmetic: DeviceArithmetic) -> FeatureCache {
        if let c = caches[key] { return c }
        let c = FeatureCache(net: net, data: data, preprocessing: pre, block: block, arithmetic: arithmetic)
        caches[key] = c
        return c
    }

    /// Loads data, fits the layout to the budget, optionally tunes the learning rate on a held-out
    /// slice of the training set, trains and evaluates on the test set.
    public func run(_ config: FineTuneConfig) throws -> FineTuneResult {
        let (train, test, valCount) = try data(config)
        let validation = Array(0..<valCount)
        let trainIdx = Array(valCount..<train.count)
        let testIdx = Array(0..<test.count)
        guard !trainIdx.isEmpty else { throw PartitionError.impossible("no training samples left after the validation slice") }

        let pre = Preprocessing.imageNet(size: config.resolution)
        var base = try ModelZoo.network(config.model, classes: train.classes, weights: config.weights, pretrained: config.pretrained, seed: config.seed)
        let arch = base.arch
        let dense = config.policy == .dense
        if !dense { base = base.folded() }
        var search = config.search
        search.dynamic = PolicyFactory.isDynamic(config.policy)
        let layout: SparseLayout
        switch config.policy {
        case .dense: layout = SparseLayout()
        case .head: layout = SparseLayout()
        default: layout = try LayoutSearch.fit(arch, budget: config.budget, height: config.resolution, width: config.resolution,
                                               memory: MemoryOptions(precision: config.memory.precision, placement: config.memory.placement,
                                                                     fused: config.memory.fused, batch: config.batch),
                                               options: search)
        }
        var memory = config.memory
        memory.batch = config.batch
        if dense && memory.precision == .int8 {
            // Dense training runs BatchNorm in training mode, which is not an int8 device operation.
            memory.precision = .fp32
            log("dense trains in fp32 (BatchNorm in training mode has no int8 form); its memory is counted in fp32")
        }
        // The int8 device is calibrated on its own training images (never validation or test).
        let arithmetic = memory.precision == .int8
            ? DeviceArithmetic.int8(calibrating: base, data: train.subset(Array(trainIdx.prefix(DeviceArithmetic.calibrationSamples))), preprocessing: pre)
            : .fp32
        let plan0 = PolicyFactory.make(config.policy, layout: layout, network: base, seed: config.seed).representative
        let report = MemoryPlanner.plan(arch, plan: plan0, height: config.resolution, width: config.resolution, options: memory,
                                        candidateChannels: LayoutSearch.candidates(layout, arch: arch, dynamic: search.dynamic))
        guard report.peak <= config.budget else {
            throw MemoryOverflow(budget: config.budget, needed: report.peak, at: report.peakAt)
        }
        let densePlan = MemoryPlanner.plan(arch, plan: .denseAll(arch), height: config.resolution, width: config.resolution, options: memory)
        log("plan: \(config.policy.rawValue) on \(arch.name) \(config.resolution)x\(config.resolution), bias units \(layout.biasUnits.count), "
            + "weight layers \(layout.weightChannels.count) [\(layout.weightChannels.sorted { $0.key < $1.key }.map { "\(arch.units[$0.key].name):\($0.value)/\(arch.units[$0.key].inChannels)" }.joined(separator: ", "))], "
            + "peak \(ByteSize.format(report.peak)) of \(ByteSize.format(config.budget)) at \(report.peakAt)")

        // Frozen-prefix caches (the front never trains under a sparse layout).
        let startBlock = dense ? 0 : plan0.startBlock(arch)
        let t0 = Date()
        let frontKey = "\(config.model.rawValue)|\(config.weights ?? "")|\(config.pretrained ? 0 : config.seed)|\(config.resolution)|\(startBlock)|\(memory.precision.rawValue)"
        let cacheTrain = (config.useCache && !dense) ? cache(frontKey + "|train", base, train, pre, startBlock, arithmetic) : nil
        let cacheTest = (config.useCache && !dense) ? cache(frontKey + "|test", base, test, pre, startBlock, arithmetic) : nil
        if cacheTrain != nil { log(String(format: "frozen-front features at block %d for %d + %d samples ready in %.1f s", startBlock, train.count, test.count, Date().timeIntervalSince(t0))) }
        let trainSource: TrainingSource = cacheTrain.map { .cache($0, labels: train.labels, imageSize: config.resolution) } ?? .images(train, pre)

        func evaluate(_ net: Network, onTest: Bool, indices: [Int]) -> Evaluation {
            let evalNet = net  // unfolded (dense) networks run BatchNorm with running statistics at inference
            if onTest, let c = cacheTest { return Evaluator.evaluate(evalNet, cache: c, labels: test.labels, indices: indices, size: config.resolution) }
            if !onTest, let c = cacheTrain { return Evaluator.evaluate(evalNet, cache: c, labels: train.labels, indices: indices, size: config.resolution) }
            if arithmetic.precision == .int8 { return Evaluator.evaluate(arithmetic.quantise(evalNet), data: onTest ? test : train, indices: indices, preprocessing: pre) }
            return Evaluator.evaluate(evalNet, data: onTest ? test : train, indices: indices, preprocessing: pre)
        }
        func session(_ lr: Float) -> DeviceSession {
            let s = DeviceSession(id: 0, shard: trainIdx, network: base, policy: PolicyFactory.make(config.policy, layout: layout, network: base, seed: config.seed, options: config.policyOptions),
                                  layout: layout, dynamic: search.dynamic, seed: config.seed)
            s.arithmetic = arithmetic
            return s
        }
        let stepsPerEpoch = max(1, trainIdx.count / config.batch)
        let trainer = Trainer()

        /// `steps` steps of `s` at `rates` under `schedule` (one call per step unless constant),
        /// from step `from` of a run of `total`.
        func run(_ s: DeviceSession, steps: Int, from: Int, total: Int, rates: LearningRates, schedule: LearningRateSchedule) throws -> LocalStats {
            try s.train(steps: steps, from: from, of: total, schedule: schedule,
                        config: LocalTrainingConfig(batch: config.batch, learningRates: rates, memory: memory, budget: config.budget),
                        source: trainSource, trainer: trainer)
        }

        // Learning-rate (and schedule) selection on the validation slice, never on the test set.
        var lr = config.learningRates ?? LearningRates(config.learningRate)
        var schedule = config.schedule
        var valAcc = 0.0
        let rateCandidates = config.learningRateCandidates.isEmpty ? [lr] : config.learningRateCandidates
        let scheduleCandidates = config.scheduleGrid.isEmpty ? [schedule] : config.scheduleGrid
        if !config.learningRateCandidates.isEmpty || !config.scheduleGrid.isEmpty {
            var best = -1.0
            let steps = max(1, Int(Double(stepsPerEpoch) * config.gridEpochs))
            for candidate in rateCandidates {
                for sched in scheduleCandidates {
                    let s = session(candidate.weights)
                    try run(s, steps: steps, from: 0, total: steps, rates: candidate, schedule: sched)
                    let acc = evaluate(s.network, onTest: false, indices: validation).accuracy
                    log(String(format: "  lr %@, %@: validation accuracy %.2f %% after %d steps", "\(candidate)", sched.rawValue, acc * 100, steps))
                    if acc > best { best = acc; lr = candidate; schedule = sched }
                }
            }
            log("chose lr \(lr), schedule \(schedule.rawValue)")
        }

        let s = session(lr.weights)
        let total = max(1, Int(Double(stepsPerEpoch) * config.epochs))
        var measuredPeak = 0
        let chunk = max(1, total / 10)
        var done = 0
        let start = Date()
        while done < total {
            let n = min(chunk, total - done)
            let stats = try run(s, steps: n, from: done, total: total, rates: lr, schedule: schedule)
            measuredPeak = max(measuredPeak, stats.peakBytes)
            done += n
            let elapsed = Date().timeIntervalSince(start)
            log(String(format: "step %d/%d  loss %.4f  train acc %.1f %%  coverage %.1f %%  %.2f ms/step  eta %.0f s",
                       done, total, stats.meanLoss, stats.accuracy * 100, s.coverage.overall * 100,
                       elapsed * 1000 / Double(done), elapsed / Double(done) * Double(total - done)))
        }
        let msPerStep = Date().timeIntervalSince(start) * 1000 / Double(total)
        valAcc = validation.isEmpty ? 0 : evaluate(s.network, onTest: false, indices: validation).accuracy
        let testEval = evaluate(s.network, onTest: true, indices: testIdx)
        let perLayer = Dictionary(uniqueKeysWithValues: s.coverage.perUnit.map { (arch.units[$0.key].name, $0.value) })
        return FineTuneResult(policy: config.policy.rawValue, model: arch.name, seed: config.seed, learningRate: lr.weights, learningRates: lr, schedule: schedule, steps: total,
                              testAccuracy: testEval.accuracy, testLoss: testEval.loss, validationAccuracy: valAcc,
                              convWeightsPerStep: s.coverage.convWeightsPerStep(arch: arch),
                              convWeightsOverRun: s.coverage.convWeightsEverUpdated(arch: arch),
                              channelCoverage: s.coverage.overall, coveragePerLayer: perLayer,
                              plannedPeak: report.peak, measuredPeak: measuredPeak,
                              featureMemory: report.featurePeak, denseFeatureMemory: densePlan.featurePeak,
                              msPerStep: msPerStep, layout: layout)
    }
}

extension UpdatePolicy {
    /// A plan with the policy's layers and budget, for memory planning (does not advance state).
    public var representative: UpdatePlan {
        var copy = self
        return copy.nextPlan()
    }
}

extension FineTuneConfig {
    /// The learning rates the validation search tries: every combination of the per-group
    /// grids (a group without one keeps its rate), else the uniform `learningRateGrid`; empty:
    /// no search.
    public var learningRateCandidates: [LearningRates] {
        let config = self
        let base = config.learningRates ?? LearningRates(config.learningRate)
        if config.headGrid.isEmpty && config.biasGrid.isEmpty && config.weightsGrid.isEmpty {
            return config.learningRateGrid.map { LearningRates($0) }
        }
        var out: [LearningRates] = []
        for h in config.headGrid.isEmpty ? [base.head] : config.headGrid {
            for b in config.biasGrid.isEmpty ? [base.bias] : config.biasGrid {
                for w in config.weightsGrid.isEmpty ? [base.weights] : config.weightsGrid { out.append(LearningRates(head: h, bias: b, weights: w)) }
            }
        }
        return out
    }
}
