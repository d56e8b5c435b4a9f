// The offline likelihood-ratio attack (LiRA offline): for each target example, fit a Gaussian to
// its logit-scaled confidence φ under shadow models that did NOT train on it (OUT models), and
// test one-sidedly whether the target model's φ is unusually high for a non-member:
// Λ = Pr[Z < φ_target], Z ~ N(μ_out, σ²_out). Calibrating per example removes the "this example
// is just easy" part of the loss that fools the plain loss-threshold attack.
//
// Reference: N. Carlini, S. Chien, M. Nasr, S. Song, A. Terzis, F. Tramèr, "Membership Inference
// Attacks From First Principles", IEEE S&P 2022 (arXiv:2112.03570): LiRA, its offline variant
// (OUT models only, a one-sided test) and the fixed (global) variance for few shadow models.
//
// Choices, where the paper and its code (tensorflow/privacy, research/mi_lira_2021) differ or
// leave room:
// - The score is −log Pr[Z > φ_target] = −log(1 − Λ), the paper's one-sided test on a log scale
//   (strictly increasing in z = (φ − μ)/σ, so it ranks exactly as Λ does, while keeping resolution
//   for members far in the tail where Λ rounds to 1). The reference code's offline score is the
//   two-sided Gaussian log-density instead.
// - μ_out is the mean of the OUT φ (the Gaussian fit); the reference code uses the median.
// - Per-example σ_out is the sample standard deviation (n − 1; needs ≥ 2 OUT models per example).
//   The global σ_out pools the within-example deviations, Σᵢ Σⱼ (φᵢⱼ − μᵢ)² / Σᵢ (nᵢ − 1), so it
//   measures shadow-to-shadow spread, not spread between examples (the reference code's
//   np.std(dat_out) over all values includes the latter).
// - σ_out is floored at `minimumStandardDeviation`, so identical OUT values do not divide by 0.

/// LiRA offline on per-example true-class confidences.
public struct LiRAOffline: Sendable, Equatable {
    /// How σ_out is estimated.
    public enum Variance: Sendable, Equatable {
        /// One σ per example from its own OUT models (needs ≥ 2 per example).
        case perExample
        /// One σ pooled over all examples (for few shadow models; 1 per example is enough
        /// as long as some example has 2).
        case global
    }

    /// One example's test.
    public struct Score: Sendable, Equatable {
        /// μ_out, the mean φ under the OUT models.
        public var mean: Double
        /// σ_out after the floor.
        public var standardDeviation: Double
        /// z = (φ_target − μ_out)/σ_out.
        public var z: Double
        /// log Pr[Z > φ_target] under the OUT Gaussian: the one-sided log p-value of "non-member".
        public var logPValue: Double
        /// The membership score −logPValue (≥ 0; higher = more likely a member).
        public var membershipScore: Double { -logPValue }
    }

    /// How σ_out is estimated.
    public var variance: Variance
    /// Floor on σ_out, in φ units.
    public var minimumStandardDeviation: Double

    /// An attack with per-example (default) or global variance.
    public init(variance: Variance = .perExample, minimumStandardDeviation: Double = 1e-6) {
        precondition(minimumStandardDeviation > 0 && minimumStandardDeviation.isFinite,
                     "LiRAOffline: minimumStandardDeviation must be positive and finite (got \(minimumStandardDeviation))")
        self.variance = variance
        self.minimumStandardDeviation = minimumStandardDeviation
    }

    /// The tests of each example from true-class probabilities: `target[i]` under the attacked
    /// model, `out[i]` under the OUT shadow models of example i (each converted to φ with
    /// LogitScaledConfidence's clamp).
    public func details(targetConfidences target: [Double], outConfidences out: [[Double]]) -> [Score] {
        details(targetPhi: target.map(LogitScaledConfidence.phi), outPhi: out.map { $0.map(LogitScaledConfidence.phi) })
    }

    /// Membership scores (higher = more likely a member) from true-class probabilities.
    public func scores(targetConfidences target: [Double], outConfidences out: [[Double]]) -> [Double] {
        details(targetConfidences: target, outConfidences: out).map(\.membershipScore)
    }

    /// The tests of each example from logit-scaled confidences φ directly.
    public func details(targetPhi target: [Double], outPhi out: [[Double]]) -> [Score] {
        precondition(target.count == out.count, "LiRAOffline: \(target.count) target values but \(out.count) OUT lists")
        precondition(!target.contains(where: { !$0.isFinite }), "LiRAOffline: target φ must be finite")
        for (i, values) in out.enumerated() {
            precondition(!values.isEmpty, "LiRAOffline: example \(i) has no OUT shadow model")
            precondition(variance == .global || values.count >= 2,
                         "LiRAOffline: example \(i) has \(values.count) OUT model; per-example variance needs ≥ 2 (use .global)")
            precondition(!values.contains(where: { !$0.isFinite }), "LiRAOffline: OUT φ of example \(i) must be finite")
        }
        let means = out.map { $0.reduce(0, +) / Double($0.count) }
        let squares = zip(out, means).map { values, mean in values.reduce(0) { $0 + ($1 - mean) * ($1 - mean) } }
        let sigmas: [Double]
        switch variance {
        case .perExample:
            sigmas = zip(squares, out).map { ($0 / Double($1.count - 1)).squareRoot() }
        case .global:
            let dof = out.reduce(0) { $0 + $1.count - 1 }
            precondition(dof >= 1, "LiRAOffline: a global variance needs some example with ≥ 2 OUT models")
            sigmas = Array(repeating: (squares.reduce(0, +) / Double(dof)).squareRoot(), count: out.count)
        }
        return (0..<target.count).map { i in
            let sigma = Swift.max(sigmas[i], minimumStandardDeviation)
            let z = (target[i] - means[i]) / sigma
            return Score(mean: means[i], standardDeviation: sigma, z: z, logPValue: StandardNormal.logSurvival(z))
        }
    }
}
