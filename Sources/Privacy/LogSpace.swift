// Log-space arithmetic for the accountant: log-sum-exp of two terms, log binomial coefficients
// (real order, so fractional orders work), and log erfc that stays finite far into the tail.

import Foundation

/// Numerically stable helpers; every quantity of the accountant lives in log space.
enum LogSpace {
    /// log(exp(x) + exp(y)) without overflow; -∞ is the log of zero.
    static func add(_ x: Double, _ y: Double) -> Double {
        let a = Swift.min(x, y), b = Swift.max(x, y)
        if a == -.infinity { return b }
        return log1p(exp(a - b)) + b
    }

    /// log Γ(x), the log of |Γ(x)| for negative non-integer x (as scipy's gammaln).
    static func logGamma(_ x: Double) -> Double {
        var sign: Int32 = 0
        return lgamma_r(x, &sign)
    }

    /// log |C(n, k)| = log Γ(n+1) − log Γ(k+1) − log Γ(n−k+1), for real n (generalised binomial).
    static func logBinomial(_ n: Double, _ k: Double) -> Double {
        logGamma(n + 1) - logGamma(k + 1) - logGamma(n - k + 1)
    }

    /// Past this argument erfc(x) leaves the normal range of Double, so the asymptotic series is used.
    static let erfcTailStart = 25.0

    /// log erfc(x), accurate for large x where erfc(x) underflows: there it is
    /// −x² − log(x√π) + log(1 − 1/(2x²) + 3/(4x⁴) − …) (the asymptotic series of erfcx).
    static func logErfc(_ x: Double) -> Double {
        if x < erfcTailStart { return log(erfc(x)) }
        let inverseTwoX2 = 1 / (2 * x * x)
        // erfcx(x)·x√π = Σ (−1)^n (2n−1)!! / (2x²)^n; at x ≥ 25 six terms are below 1e-20.
        var term = 1.0, sum = 1.0
        for n in 1...6 {
            term *= -Double(2 * n - 1) * inverseTwoX2
            sum += term
        }
        return -x * x - log(x) - 0.5 * log(Double.pi) + log(sum)
    }
}
