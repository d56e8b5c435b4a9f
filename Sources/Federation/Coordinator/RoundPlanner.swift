// The pure part of opening a round: which live devices are sampled, and what each one's TASK
// says. A function of (round, live devices, configuration, model version, assignments) only, so
// a resumed coordinator samples exactly what an uninterrupted one would.
import Engine
import Wire

/// One round's sample and tasks.
public struct RoundPlan: Equatable, Sendable {
    /// The round.
    public var round: UInt64
    /// The model version every task starts from.
    public var modelVersion: UInt64
    /// Sampled devices, sorted.
    public var sampled: [String]
    /// One TASK per sampled device, by device id.
    public var tasks: [String: PBTask]
}

/// Sampling and TASK contents.
public enum RoundPlanner {
    /// The devices round `round` samples from `live`: ⌈fraction · live⌉ rounded, at least one,
    /// drawn with SplitMix64(seed ^ round·φ) (the round number is the whole sampling state).
    /// With `privacy.sampling: poisson`, every live device joins independently with probability
    /// q instead (so that amplification by sampling holds; a round may be empty).
    public static func sample(round: UInt64, live: [String], config: FederationConfig) -> [String] {
        guard !live.isEmpty else { return [] }
        var rng = SplitMix64(seed: config.seed ^ (round &* 0x9E37_79B9_7F4A_7C15))
        if config.privacy.enabled && config.privacy.sampling == .poisson {
            let q = config.privacy.samplingRate(config)
            return live.sorted().filter { _ in Double(rng.next() >> 11) / 9_007_199_254_740_992 < q }
        }
        let k = cohortSize(live: live.count, config: config)
        return Array(live.sorted().shuffled(using: &rng).prefix(k)).sorted()
    }

    /// How many of `live` devices a fixed-size round samples: fraction · live, rounded, at least one.
    public static func cohortSize(live: Int, config: FederationConfig) -> Int {
        min(live, max(1, Int((config.rounds.sampleFraction * Double(live)).rounded())))
    }

    /// The plan of round `round`: its sample and every sampled device's TASK.
    public static func plan(round: UInt64, live: [String], config: FederationConfig, modelVersion: UInt64,
                            assignments: (_ sampled: [String]) -> [String: [PBChannelAssignment]] = { _ in [:] }) -> RoundPlan {
        let sampled = sample(round: round, live: live, config: config)
        let dealt = assignments(sampled)
        var tasks: [String: PBTask] = [:]
        for id in sampled {
            guard let d = config.device(id) else { continue }
            tasks[id] = task(round: round, device: d, config: config, modelVersion: modelVersion, assignments: dealt[id] ?? [])
        }
        return RoundPlan(round: round, modelVersion: modelVersion, sampled: sampled.filter { tasks[$0] != nil }, tasks: tasks)
    }

    /// The rates `device` trains with in `round` (1-based): its group's rates × the round
    /// schedule's factor (`rounds.lrSchedule`).
    public static func learningRates(round: UInt64, device d: ResolvedDevice, config: FederationConfig) -> LearningRates {
        config.rounds.rates(d.learningRate, round: round)
    }

    /// The TASK of `device` in `round`.
    public static func task(round: UInt64, device d: ResolvedDevice, config: FederationConfig, modelVersion: UInt64,
                            assignments: [PBChannelAssignment]) -> PBTask {
        var t = PBTask()
        t.round = round
        t.deviceID = d.id
        t.modelVersion = modelVersion
        t.localSteps = UInt32(d.localSteps)
        let rates = learningRates(round: round, device: d, config: config)
        t.learningRate = rates.weights
        if !rates.isUniform {
            var r = PBLearningRates()
            r.head = rates.head; r.bias = rates.bias; r.weights = rates.weights
            t.learningRates = r
        }
        t.batchSize = UInt32(d.batch)
        var p = PBPolicy()
        p.name = d.policy.rawValue
        t.policy = p
        t.deltaEncoding = config.encoding.encoding.pb
        t.deadlineMs = UInt64(config.rounds.deadlineMs)
        t.seed = config.seed &+ round
        t.assignments = assignments
        return t
    }
}
