// LiRA's OUT models for one device group (N. Carlini et al., "Membership Inference Attacks From
// First Principles", IEEE S&P 2022, the offline variant): K replays of the group's own training
// procedure on auxiliary samples that no device trains on or holds as private test, so every
// device's members and non-members are OUT for every shadow.
//
// What a shadow replays (NodeShadows.swift picks the start, the length and the data):
// - the group's policy, fresh (PolicyFactory), its sparse layout, memory model and SRAM budget
//   (the arena enforces it), learning rate and batch, through `DeviceSession.train`: the path a
//   device trains on, from the frozen-front features of the model it starts from;
// - not replayed: a coordinated schedule's channel assignments and DP clipping and noise, which
//   are fleet-level steps a node cannot run alone (shadows train under the group's own policy).
// A shadow trains shared and personal parameters alike, so it is the OUT counterpart of both the
// global and the personalised model. Shadows are value copies of the start model (copy-on-write:
// only the tensors they train are copied); nothing else is touched.
import Engine
import Foundation

/// The K shadow models of one device group.
struct ShadowModels {
    /// The trained shadows.
    let networks: [Network]
    /// The model they started from: before `block` every shadow still equals it.
    let start: Network
    /// How the shadows compute: the group's precision, an int8 deployment calibrated on the
    /// shadows' own samples as a device calibrates on its own.
    let arithmetic: DeviceArithmetic
    /// The first block the group trains (the frozen front ends before it).
    let block: Int
    /// The input preprocessing.
    let preprocessing: Preprocessing

    /// Trains one shadow per entry of `samples` (indices into `aux`), each with its own seed in
    /// `seeds`, for `steps` local steps of `settings`' procedure under `layout` from `start`, task
    /// k at round k + 1's rates of `rounds`.
    /// Throws `MemoryOverflow` if a step exceeds the group's budget (it cannot: same plan).
    init(start: Network, settings: ResolvedDevice, layout: SparseLayout, block: Int, aux: ImageDataset, samples: [[Int]],
         seeds: [UInt64], steps: Int, rounds: RoundConfig = RoundConfig(), preprocessing: Preprocessing) throws {
        precondition(samples.count == seeds.count && !samples.isEmpty, "ShadowModels: one seed per shadow sample")
        // One cache over the union of the samples: the frozen front is the same for every shadow.
        let union = Array(Set(samples.joined())).sorted()
        let position = Dictionary(uniqueKeysWithValues: union.enumerated().map { ($1, $0) })
        let cached = aux.subset(union)
        let arithmetic = DeviceArithmetic.forPrecision(settings.memory.precision, net: start, data: cached, preprocessing: preprocessing)
        let cache = FeatureCache(net: start, data: cached, preprocessing: preprocessing, block: block, arithmetic: arithmetic)
        networks = try zip(samples, seeds).map { sample, seed in
            try Self.train(from: start, settings: settings, layout: layout, cache: cache, labels: cached.labels,
                           samples: sample.map { position[$0]! }, steps: steps, rounds: rounds, seed: seed, size: preprocessing.size)
        }
        self.start = start
        self.arithmetic = arithmetic
        self.block = block
        self.preprocessing = preprocessing
    }

    /// `start` after `steps` local steps of `settings`' procedure on the samples `samples` of
    /// `cache` (features at the group's first trained block): a fresh policy and batch order
    /// from `seed`, the step inside an arena of the group's budget, task k at the rates the
    /// coordinator gives round k + 1 (`rounds.lrSchedule`).
    static func train(from start: Network, settings: ResolvedDevice, layout: SparseLayout, cache: FeatureCache, labels: [UInt8],
                      samples: [Int], steps: Int, rounds: RoundConfig = RoundConfig(), seed: UInt64, size: Int) throws -> Network {
        let policy = PolicyFactory.make(settings.policy, layout: layout, network: start, seed: seed)
        let session = DeviceSession(id: 0, shard: samples, network: start, policy: policy, layout: layout,
                                    dynamic: settings.search.dynamic, seed: seed)
        var config = LocalTrainingConfig(batch: settings.batch, learningRates: settings.learningRate, memory: settings.memory,
                                         budget: settings.budget)
        // Task by task, so that a local schedule restarts as it does on the device.
        let source = TrainingSource.cache(cache, labels: labels, imageSize: size)
        var done = 0, round: UInt64 = 1
        while done < steps {
            let n = min(settings.localSteps, steps - done)
            config.learningRates = rounds.rates(settings.learningRate, round: round)
            round += 1
            try session.train(steps: n, from: 0, of: settings.localSteps, schedule: settings.localSchedule, config: config, source: source, trainer: Trainer())
            done += n
        }
        return session.network
    }

    /// `count` distinct indices of `0..<total` (all of them when `count ≥ total`), drawn with
    /// `seed`, sorted.
    static func sample(_ count: Int, of total: Int, seed: UInt64) -> [Int] {
        var order = Array(0..<total)
        var rng = SplitMix64(seed: seed)
        order.shuffle(using: &rng)
        return Array(order.prefix(count)).sorted()
    }

    /// Whether `net`'s frozen front (every unit before `block`) is bitwise the shadows' own, so
    /// that features `net` cached at `block` are theirs too (so in a fleet whose groups all
    /// freeze at least that front: nothing before it ever trains).
    func sharesFront(with net: Network, arithmetic other: DeviceArithmetic) -> Bool {
        guard other == arithmetic else { return false }
        let blocks = start.arch.blocks
        let end = block < blocks.count ? blocks[block].units.lowerBound : start.arch.units.count
        return net.arch == start.arch && net.units.prefix(end) == start.units.prefix(end)
    }

    /// The true-class probability of every sample of `data` under each shadow, as
    /// [sample][shadow] (LiRAOffline's OUT lists). `cached`: the features of `data` at `block`
    /// from this front (see `sharesFront`), if at hand; else they are computed.
    func confidences(_ data: ImageDataset, cached: FeatureCache? = nil) -> [[Double]] {
        precondition(cached.map { $0.block == block && $0.count == data.count } ?? true, "ShadowModels: the cache is not of these samples at block \(block)")
        precondition(cached.map { $0.arithmetic == arithmetic } ?? true, "ShadowModels: the cache computes differently from the shadows")
        let cache = cached ?? FeatureCache(net: start, data: data, preprocessing: preprocessing, block: block, arithmetic: arithmetic)
        let all = Array(0..<data.count)
        let perShadow = networks.map {
            Evaluator.perExample($0, cache: cache, labels: data.labels, indices: all, size: preprocessing.size).trueClassProbabilities
        }
        return all.map { i in perShadow.map { $0[i] } }
    }
}
