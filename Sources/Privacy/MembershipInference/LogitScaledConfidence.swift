// The logit-scaled confidence φ(p) = log(p/(1 − p)) of the true class, the statistic LiRA models
// as Gaussian: a model's softmax confidence p is far from normal (piled up near 1), its logit is
// close to normal across shadow models.
//
// Reference: N. Carlini et al., "Membership Inference Attacks From First Principles", IEEE S&P
// 2022 (arXiv:2112.03570), the logit scaling of the confidence in LiRA.
//
// Numerics: p is clamped to [1e-12, 1 − 1e-12], so φ ∈ [−27.63, 27.63] stays finite for
// confidences that rounded to 0 or 1; the clamp is far below what Float logits resolve. As
// 1 − 1e-12 has no exact Double (the nearest is 1 − 1.00009e-12), the clamp is applied to φ,
// at ±log((1 − 1e-12)/1e-12): the same as clamping p in exact arithmetic, and symmetric.

import Foundation

/// φ = log(p/(1 − p)) of a true-class probability.
public enum LogitScaledConfidence {
    /// The clamp applied to p before the logit: p ∈ [clamp, 1 − clamp].
    public static let clamp = 1e-12

    /// The largest |φ|: φ(1 − clamp) = −φ(clamp) = log((1 − 1e-12)/1e-12) ≈ 27.631.
    public static let maximum = log1p(-clamp) - log(clamp)

    /// φ(p) for a probability p ∈ [0, 1] (p clamped to [1e-12, 1 − 1e-12], i.e. φ to ±`maximum`).
    public static func phi(_ probability: Double) -> Double {
        precondition(probability >= 0 && probability <= 1, "LogitScaledConfidence: probability must lie in 0...1 (got \(probability))")
        let raw = log(probability) - log1p(-probability)  // ±∞ at 1 and 0
        return Swift.min(Swift.max(raw, -maximum), maximum)
    }
}
