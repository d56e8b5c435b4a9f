// What a DP run has spent: the rounds whose noised aggregate was released, composed by the
// Rényi-DP accountant of the sampled Gaussian mechanism (Sources/Privacy), and the ε they cost.
// A round that would take ε over `privacy.maxEpsilon` is not started.
import Privacy

/// The privacy block of summary.json.
public struct PrivacySummary: Codable, Equatable, Sendable {
    /// off, central or local.
    public var mode: String
    /// Clip norm S.
    public var clip: Double
    /// Noise multiplier z (calibrated when targetEpsilon was given).
    public var noiseMultiplier: Double
    /// Sampling rate q the accountant used.
    public var samplingRate: Double
    /// poisson or fixed.
    public var sampling: String
    /// Whether round sizes vary (Poisson sampling).
    public var variableRoundSize: Bool
    /// δ.
    public var delta: Double
    /// ε spent; nil when no finite ε holds (z = 0).
    public var epsilon: Double?
    /// Rounds charged to the accountant (those whose noised aggregate was released).
    public var rounds: Int
    /// Whether the run stopped before a round that would exceed maxEpsilon.
    public var stoppedAtMaxEpsilon: Bool
    /// What the guarantee covers.
    public var guarantee: String

    /// A summary with every field.
    public init(mode: String, clip: Double, noiseMultiplier: Double, samplingRate: Double, sampling: String, variableRoundSize: Bool,
                delta: Double, epsilon: Double?, rounds: Int, stoppedAtMaxEpsilon: Bool, guarantee: String) {
        self.mode = mode; self.clip = clip; self.noiseMultiplier = noiseMultiplier; self.samplingRate = samplingRate
        self.sampling = sampling; self.variableRoundSize = variableRoundSize; self.delta = delta; self.epsilon = epsilon
        self.rounds = rounds; self.stoppedAtMaxEpsilon = stoppedAtMaxEpsilon; self.guarantee = guarantee
    }
}

/// The privacy spent by the coordinator's run.
public struct PrivacySpend: Sendable {
    /// The settings.
    public let settings: PrivacyConfig
    /// z.
    public let noiseMultiplier: Double
    /// q.
    public let samplingRate: Double
    /// δ.
    public let delta: Double
    private var ledger = PrivacyLedger()

    /// The spend of `config` with noise `z`, after `rounds` already charged (a resumed run).
    public init(config: FederationConfig, noiseMultiplier z: Double, rounds: Int = 0) {
        settings = config.privacy
        noiseMultiplier = z
        // Local DP protects each device against the coordinator itself, which sees who took part:
        // no amplification by sampling is claimed (q = 1).
        samplingRate = config.privacy.mode == .local ? 1 : config.privacy.samplingRate(config)
        delta = config.privacy.resolvedDelta(population: config.devices.count)
        ledger.record(samplingRate: samplingRate, noiseMultiplier: z, steps: rounds)
    }

    /// Rounds charged.
    public var rounds: Int { ledger.rounds }

    /// ε spent so far (0 before any round; ∞ without noise).
    public var epsilon: Double { rounds == 0 ? 0 : ledger.epsilon(delta: delta).epsilon }

    /// ε after one more round.
    public var epsilonAfterNextRound: Double {
        var next = ledger
        next.record(samplingRate: samplingRate, noiseMultiplier: noiseMultiplier)
        return next.epsilon(delta: delta).epsilon
    }

    /// Whether the next round would take ε over maxEpsilon.
    public var nextRoundExceedsBudget: Bool {
        guard let m = settings.maxEpsilon else { return false }
        return epsilonAfterNextRound > m
    }

    /// Charges one released round.
    public mutating func charge() { ledger.record(samplingRate: samplingRate, noiseMultiplier: noiseMultiplier) }

    /// The summary block.
    public func summary(stoppedAtMaxEpsilon: Bool) -> PrivacySummary {
        let e = epsilon
        return PrivacySummary(
            mode: settings.mode.rawValue, clip: settings.clip, noiseMultiplier: noiseMultiplier, samplingRate: samplingRate,
            sampling: settings.sampling.rawValue, variableRoundSize: settings.sampling == .poisson, delta: delta,
            epsilon: e.isFinite ? e : nil, rounds: rounds, stoppedAtMaxEpsilon: stoppedAtMaxEpsilon,
            guarantee: (settings.mode == .local
                ? "device-level (ε, δ)-DP of every update a device sends, for its whole shard, against anyone including the coordinator "
                    + "(each device clips and noises its own update; accounted without amplification by sampling, q = 1). "
                : settings.mode == .distributed
                ? "device-level (ε, δ)-DP of the released global models, for each device's whole shard, against anyone who sees them, "
                    + "the coordinator included: each device adds N(0, z²S²/n) before masking and the coordinator sees only the masked sum, "
                    + "which carries the full noise. Accounted as central DP; this holds while at least t of a round's devices are honest "
                    + "and the round's n devices all report (each dropout removes its noise share from the sum). "
                    + (settings.sampling == .fixed ? "Fixed-size cohorts are accounted as Poisson sampling with q = k/N, an approximation. " : "")
                : "device-level (ε, δ)-DP of the released global models, for each device's whole shard, against anyone who sees them "
                    + "(the coordinator is trusted: it sees the clipped updates). "
                    + (settings.sampling == .fixed ? "Fixed-size cohorts are accounted as Poisson sampling with q = k/N, an approximation. " : ""))
                + "Personal parameters never leave the device and are not released.")
    }
}
