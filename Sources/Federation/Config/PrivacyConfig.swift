// Device-level differential privacy (DP-FedAvg, McMahan et al. 2018): the unit of privacy is one
// device, all of its data. Settings, their defaults and their refusals, and what follows from them
// (δ, the sampling rate q, the noise multiplier z, calibrated to a target ε when asked).
//
//   "privacy": {"mode": "central",        // off | central (trusted coordinator adds the noise) | local (each device)
//                                         //   | distributed (each device a 1/n share, under secureAggregation)
//               "clip": 1.0,              // S: every device's update is clipped to L2 norm S
//               "noiseMultiplier": 1.1,   // z: noise N(0, z²S²); or "targetEpsilon": 8 (z is calibrated)
//               "delta": null,            // null: 1 / N^1.1 for N configured devices
//               "sampling": "poisson",    // poisson (each live device joins with probability q) | fixed
//               "rate": 0.5,              // q for poisson; null: rounds.sampleFraction
//               "maxEpsilon": null}       // stop before a round that would spend more
import Foundation
import Privacy

/// Who adds the noise.
public enum PrivacyMode: String, Codable, Sendable, CaseIterable {
    /// No differential privacy.
    case off
    /// Devices clip; the trusted coordinator noises the sum.
    case central
    /// Devices clip and noise their own update before it leaves them.
    case local
    /// Devices clip and each adds its share N(0, z²S²/n) under secure aggregation: only the
    /// masked sum carries the full noise, which the coordinator never sees without it.
    case distributed
}

/// How a round's cohort is drawn.
public enum SamplingKind: String, Codable, Sendable, CaseIterable {
    /// Every live device joins independently with probability q (amplification by sampling holds; rounds vary in size).
    case poisson
    /// ⌈sampleFraction · live⌉ devices, drawn without replacement (accounted as Poisson with q = k/N: an approximation).
    case fixed
}

/// Differential-privacy settings.
public struct PrivacyConfig: Codable, Equatable, Sendable {
    /// off, central or local.
    public var mode: PrivacyMode = .off
    /// The L2 clip norm S of a device's whole update (shared tensors).
    public var clip: Double = 1
    /// The noise multiplier z (σ = zS); nil when `targetEpsilon` sets it.
    public var noiseMultiplier: Double? = nil
    /// Calibrate z so that the run spends at most this ε.
    public var targetEpsilon: Double? = nil
    /// δ; nil: 1 / N^1.1.
    public var delta: Double? = nil
    /// Cohort sampling.
    public var sampling: SamplingKind = .fixed
    /// Poisson rate q; nil: rounds.sampleFraction.
    public var rate: Double? = nil
    /// Stop before a round that would take ε above this.
    public var maxEpsilon: Double? = nil
    /// Off.
    public init() {}

    /// Whether DP is on.
    public var enabled: Bool { mode != .off }

    /// δ for a population of `n` devices.
    public func resolvedDelta(population n: Int) -> Double { delta ?? 1 / pow(Double(max(n, 1)), 1.1) }

    /// The sampling rate q of the cohort (local DP accounts with q = 1: see PrivacySpend).
    public func samplingRate(_ config: FederationConfig) -> Double {
        switch sampling {
        case .poisson: return rate ?? config.rounds.sampleFraction
        case .fixed:
            let n = config.devices.count
            return Double(RoundPlanner.cohortSize(live: n, config: config)) / Double(max(n, 1))
        }
    }

    /// The expected cohort qN: the fixed denominator of the DP estimator.
    public func expectedCohort(_ config: FederationConfig) -> Double { samplingRate(config) * Double(config.devices.count) }

    /// The noise multiplier: as given, or calibrated to `targetEpsilon` over the configured rounds.
    public func resolvedNoiseMultiplier(_ config: FederationConfig) throws -> Double {
        if let z = noiseMultiplier { return z }
        guard let target = targetEpsilon else { return 0 }
        let q = mode == .local ? 1 : samplingRate(config)
        do {
            return try RDPAccountant().noiseMultiplier(forTargetEpsilon: target, samplingRate: q, steps: config.rounds.count,
                                                       delta: resolvedDelta(population: config.devices.count))
        } catch let e as PrivacyAccountingError {
            throw ConfigError.invalid(path: "privacy.targetEpsilon", reason: e.description)
        }
    }

    /// Every rule of the block; throws naming the key and what is allowed.
    public func validate(_ config: FederationConfig) throws {
        guard enabled else { return }
        func bad(_ key: String, _ reason: String) -> ConfigError { .invalid(path: "privacy.\(key)", reason: reason) }
        guard clip > 0, clip.isFinite else { throw bad("clip", "must be a finite L2 norm > 0, e.g. 1.0") }
        if let z = noiseMultiplier, !(z >= 0 && z.isFinite) { throw bad("noiseMultiplier", "must be finite and ≥ 0 (0: clipping only, ε = ∞)") }
        guard (noiseMultiplier == nil) != (targetEpsilon == nil) else {
            throw bad(noiseMultiplier == nil ? "noiseMultiplier" : "targetEpsilon",
                      noiseMultiplier == nil ? "give noiseMultiplier or targetEpsilon" : "give noiseMultiplier or targetEpsilon, not both (targetEpsilon calibrates z)")
        }
        if let t = targetEpsilon, !(t > 0 && t.isFinite) { throw bad("targetEpsilon", "must be finite and > 0") }
        let n = config.devices.count
        if let d = delta, !(d > 0 && d < 1 / Double(n)) {
            throw bad("delta", "must be in (0, 1/N) = (0, \(1 / Double(n))) for N = \(n) devices (default 1/N^1.1 = \(resolvedDelta(population: n)))")
        }
        if let q = rate, !(q > 0 && q <= 1) { throw bad("rate", "must be in (0, 1]") }
        if rate != nil && sampling != .poisson { throw bad("rate", "is the Poisson rate; set sampling: poisson, or use rounds.sampleFraction") }
        if let m = maxEpsilon, !(m > 0) { throw bad("maxEpsilon", "must be > 0") }
        if config.aggregation.rule != .mean {
            throw ConfigError.invalid(path: "aggregation.rule", reason: "'\(config.aggregation.rule.rawValue)' is refused under differential privacy: its sensitivity to one device is not bounded by the clip norm (and the noise would be added to order statistics); use mean")
        }
        if config.aggregation.momentum != 0 {
            throw ConfigError.invalid(path: "aggregation.momentum", reason: "server momentum is not implemented under differential privacy yet; set it to 0")
        }
        _ = try resolvedNoiseMultiplier(config)
    }
}
