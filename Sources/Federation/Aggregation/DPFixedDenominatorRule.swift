// The DP-FedAvg estimator (McMahan et al. 2018) over sparse updates. Under differential privacy
// the per-coordinate mean is replaced: each device's update is clipped to L2 norm S (on the
// device), the coordinator sums the clipped updates with weight 1 each, adds N(0, z²S²) to
// EVERY candidate coordinate (every coordinate any configured device could touch — noising only
// the touched ones would reveal which were touched), and divides by the FIXED expected cohort
// size qN, not by the per-coordinate count (that count depends on the data and breaks the
// sensitivity bound):  w_j += η_s · (Σ_k Δ_kj + ξ_j) / (qN),  ξ_j ~ N(0, z²S²).
// In local mode the devices noise their own updates, and `noiseMultiplier` here is 0.
import Privacy
import Wire

/// The fixed-denominator DP estimator.
public struct DPFixedDenominatorRule: AggregationRule {
    /// Clip norm S.
    public var clip: Double
    /// Noise multiplier z of the central noise (0 in local mode).
    public var noiseMultiplier: Double
    /// The fixed denominator qN.
    public var expectedCohort: Double
    /// Schema positions of the candidate tensors (every coordinate of them gets noise).
    public var candidates: [Int]
    /// Server learning rate η_s.
    public var serverLearningRate: Float
    /// Seeds the noise; round r draws from a stream derived from (seed, r).
    public var seed: UInt64

    /// `dp-fixed-denominator(z, qN)`.
    public var name: String { "dp-fixed-denominator(z=\(noiseMultiplier), qN=\(expectedCohort))" }

    /// A rule.
    public init(clip: Double, noiseMultiplier: Double, expectedCohort: Double, candidates: [Int], serverLearningRate: Float = 1, seed: UInt64) {
        precondition(expectedCohort > 0, "DPFixedDenominatorRule: the expected cohort qN must be positive")
        self.clip = clip; self.noiseMultiplier = noiseMultiplier; self.expectedCohort = expectedCohort
        self.candidates = candidates.sorted(); self.serverLearningRate = serverLearningRate; self.seed = seed
    }

    /// The noise stream of `round`.
    public func noise(round: UInt64) -> GaussianNoise {
        GaussianNoise(sigma: noiseMultiplier * clip, seed: seed ^ (round &* 0xD1B5_4A32_D192_ED03))
    }

    /// Σ clipped deltas + noise on every candidate coordinate, over qN. Results in device-id order.
    public func aggregate(_ input: AggregationInput) -> AggregationOutcome {
        var sums: [Int: [Float]] = [:]
        for i in candidates { sums[i] = [Float](repeating: 0, count: input.schema.tensors[i].elementCount) }
        for r in input.results.sorted(by: { $0.deviceID < $1.deviceID }) {
            for t in r.delta.tensors {
                guard let i = input.schema.position(of: t.name), sums[i] != nil else { continue }  // admission keeps updates inside the candidates
                TensorSlicing.addScaled(t.values, scale: 1, into: &sums[i]!, spec: input.schema.tensors[i], channels: t.channels)
            }
        }
        var rng = noise(round: input.round)
        var model = input.model
        let scale = serverLearningRate / Float(expectedCohort)
        for i in candidates {
            var s = sums[i]!
            rng.add(to: &s)
            for j in s.indices { model[i][j] += scale * s[j] }
        }
        let tables = CoordinateTable.build(results: input.results, schema: input.schema)
        return AggregationOutcome(model: model, state: input.state, touchedChannels: CoordinateTable.touched(tables, schema: input.schema))
    }
}
