// How the learning rates change over a run of T steps, as a factor on every group's rate at
// step t (0-based): constant 1; cosine ½(1 + cos(πt/T)) (to 0 at the end); step 1, then 0.1 from
// half the run and 0.01 from three quarters.
import Foundation

/// A learning-rate schedule over a run.
public enum LearningRateSchedule: String, Sendable, Codable, CaseIterable {
    /// The same rate every step.
    case constant
    /// Cosine decay to 0.
    case cosine
    /// ×0.1 at 50 % and again at 75 % of the run.
    case step

    /// The factor at step `t` of `total`.
    public func factor(step t: Int, of total: Int) -> Float {
        guard total > 0 else { return 1 }
        let x = Double(t) / Double(total)
        switch self {
        case .constant: return 1
        case .cosine: return Float(0.5 * (1 + cos(Double.pi * x)))
        case .step: return x < 0.5 ? 1 : x < 0.75 ? 0.1 : 0.01
        }
    }

    /// `rates` scaled for step `t` of `total`.
    public func rates(_ rates: LearningRates, step t: Int, of total: Int) -> LearningRates {
        let f = factor(step: t, of: total)
        return LearningRates(head: rates.head * f, bias: rates.bias * f, weights: rates.weights * f)
    }
}
