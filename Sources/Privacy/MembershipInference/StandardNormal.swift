// The upper tail of the standard normal in log space, Pr[Z > z] for Z ~ N(0, 1), finite and
// accurate over the whole real line: erfc for the upper half (with LogSpace's asymptotic series
// where erfc underflows) and log1p of the small lower tail for the lower half.
//
// Reference: M. Abramowitz, I. A. Stegun, Handbook of Mathematical Functions (1964), 26.2.29 and
// 7.1.23: Pr[Z > z] = erfc(z/√2)/2 and the asymptotic expansion of erfc.

import Foundation

/// Tail probabilities of N(0, 1).
public enum StandardNormal {
    /// log Pr[Z > z]: 0 at z = −∞, log ½ at 0, about −z²/2 − log(z√(2π)) for large z, −∞ at +∞.
    public static func logSurvival(_ z: Double) -> Double {
        precondition(!z.isNaN, "StandardNormal.logSurvival: z must not be NaN")
        if z == .infinity { return -.infinity }
        if z >= 0 { return LogSpace.logErfc(z / 2.0.squareRoot()) - log(2.0) }
        // Pr[Z > z] = 1 − Pr[Z > −z], the subtracted tail being small and accurate.
        return log1p(-0.5 * erfc(-z / 2.0.squareRoot()))
    }
}
