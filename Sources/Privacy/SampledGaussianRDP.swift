// The Rényi DP of one step of the Poisson-subsampled Gaussian mechanism at one order
// (Mironov, Talwar, Zhang 2019, §3): RDP(α) = log A_α / (α − 1) with
// A_α = E_{x∼N(0,z²)} [((1 − q) + q·e^{(2x − 1)/(2z²)})^α].
// Integer α: the exact binomial expansion. Fractional α: the two-sided series of §3.3, cut after
// 1,000 terms. Both follow dp-accounting's rdp_privacy_accountant.py term for term. Like
// dp-accounting, the fractional series sums the absolute values of the generalised binomial
// terms (log |C(α, i)|), so at fractional orders it is an upper bound on the true divergence,
// a few per cent above it at small α (conservative: ε is never under-reported).

import Foundation

/// The RDP of one step of the sampled Gaussian mechanism (sampling rate q, noise multiplier z).
public enum SampledGaussianRDP {
    /// The fractional series gives up after this many terms (dp-accounting's `_MAX_STEPS_LOG_A_FRAC`).
    public static let maxFractionalTerms = 1000

    /// RDP at `order` of one step with sampling rate `q` and noise multiplier `z`
    /// (the noise standard deviation over the L2 sensitivity, the clipping norm).
    ///
    /// q = 0 gives 0; z = 0 gives +∞; q = 1 gives the plain Gaussian α/(2z²). An order whose
    /// fractional series does not converge gives +∞, which drops it from the ε minimisation
    /// exactly as dp-accounting does.
    public static func rdp(samplingRate q: Double, noiseMultiplier z: Double, order alpha: Double) -> Double {
        precondition(q >= 0 && q <= 1, "sampling rate q must be in [0, 1]; got \(q)")
        precondition(z >= 0 && z.isFinite, "noise multiplier z must be finite and ≥ 0; got \(z)")
        precondition(alpha > 1, "RDP order must be > 1; got \(alpha)")
        if q == 0 { return 0 }
        if alpha.isInfinite || z == 0 { return .infinity }
        if q == 1 { return alpha / (2 * z * z) }
        return logA(q: q, sigma: z, alpha: alpha) / (alpha - 1)
    }

    /// log A_α, by the integer or the fractional expansion (0 < q < 1).
    static func logA(q: Double, sigma: Double, alpha: Double) -> Double {
        if alpha == alpha.rounded(), alpha < Double(Int.max) {
            return logAInteger(q: q, sigma: sigma, alpha: Int(alpha))
        }
        return logAFractional(q: q, sigma: sigma, alpha: alpha)
    }

    /// log A_α for integer α: log Σ_{i=0}^{α} C(α,i) q^i (1−q)^{α−i} e^{(i²−i)/(2σ²)}.
    static func logAInteger(q: Double, sigma: Double, alpha: Int) -> Double {
        var logA = -Double.infinity
        let logQ = log(q), log1mq = log1p(-q)
        let twoSigma2 = 2 * (sigma * sigma)
        for i in 0...alpha {
            let di = Double(i)
            let logCoef = LogSpace.logBinomial(Double(alpha), di) + di * logQ + Double(alpha - i) * log1mq
            logA = LogSpace.add(logA, logCoef + Double(i * i - i) / twoSigma2)
        }
        return logA
    }

    /// log A_α for fractional α: A_α = A₀ + A₁, the integrals over (−∞, z₀] and [z₀, ∞) with
    /// z₀ = σ² log(1/q − 1) + 1/2, each a binomial series weighted by Gaussian tails (erfc).
    /// Stops when both terms decrease and lie 30 nats below the total; +∞ when they never do
    /// within `maxFractionalTerms`. Terms enter with |C(α, i)|, as in dp-accounting: an upper bound.
    static func logAFractional(q: Double, sigma: Double, alpha: Double) -> Double {
        var logA0 = -Double.infinity, logA1 = -Double.infinity
        let z0 = sigma * sigma * log(1 / q - 1) + 0.5
        let logQ = log(q), log1mq = log1p(-q)
        let twoSigma2 = 2 * (sigma * sigma)
        let sqrt2Sigma = 2.0.squareRoot() * sigma
        let logHalf = log(0.5)
        var lastS0 = -Double.infinity, lastS1 = -Double.infinity
        for i in 0..<maxFractionalTerms {
            let di = Double(i)
            let logCoef = LogSpace.logBinomial(alpha, di)
            let j = alpha - di

            let logT0 = logCoef + di * logQ + j * log1mq
            let logT1 = logCoef + j * logQ + di * log1mq

            let logE0 = logHalf + LogSpace.logErfc((di - z0) / sqrt2Sigma)
            let logE1 = logHalf + LogSpace.logErfc((z0 - j) / sqrt2Sigma)

            let logS0 = logT0 + (di * di - di) / twoSigma2 + logE0
            let logS1 = logT1 + (j * j - j) / twoSigma2 + logE1

            logA0 = LogSpace.add(logA0, logS0)
            logA1 = LogSpace.add(logA1, logS1)
            let total = LogSpace.add(logA0, logA1)

            if logS0 < lastS0, logS1 < lastS1, Swift.max(logS0, logS1) < total - 30 {
                return total
            }
            lastS0 = logS0
            lastS1 = logS1
        }
        return .infinity
    }
}
