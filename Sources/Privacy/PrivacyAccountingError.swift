// Errors of privacy accounting that a user's settings can cause, each naming the problem and
// the fix.

/// A privacy target that cannot be met, or a setting the accountant cannot use.
public enum PrivacyAccountingError: Error, CustomStringConvertible, Equatable {
    /// The target ε is not reachable with noise multipliers up to `maxNoiseMultiplier`;
    /// `smallestReachable` is the ε at that largest noise.
    case targetUnreachable(target: Double, smallestReachable: Double, maxNoiseMultiplier: Double,
                           samplingRate: Double, steps: Int, delta: Double)
    /// A calibration setting out of range: which one, its value, and what it must be.
    case invalidSetting(name: String, value: Double, requirement: String)

    /// A message naming the problem and how to fix it.
    public var description: String {
        switch self {
        case let .targetUnreachable(target, smallest, maxZ, q, steps, delta):
            return "target ε = \(target) at δ = \(delta) cannot be reached with sampling rate q = \(q) over "
                + "\(steps) rounds: the smallest reachable ε is \(smallest) (at noise multiplier \(maxZ), the "
                + "largest searched). Raise the target ε to at least \(smallest), sample fewer devices per round "
                + "(smaller q), run fewer rounds, or allow a larger maximum noise multiplier."
        case let .invalidSetting(name, value, requirement):
            return "privacy setting \(name) = \(value) is out of range: it must be \(requirement); change it and retry."
        }
    }
}
