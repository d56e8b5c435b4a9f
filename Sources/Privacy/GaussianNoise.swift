// Seeded Gaussian noise for the DP mechanisms: N(0, σ²) by the Box–Muller transform over
// SplitMix64, so that a DP run is bitwise reproducible from its seed. (A simulator's noise;
// a deployment would draw it from a cryptographically secure generator.)
import Engine
import Foundation

/// A stream of N(0, σ²) samples.
public struct GaussianNoise: Sendable {
    private var rng: SplitMix64
    private var spare: Double?
    /// The standard deviation σ.
    public let sigma: Double

    /// Noise with standard deviation `sigma` from `seed`.
    public init(sigma: Double, seed: UInt64) {
        precondition(sigma >= 0 && sigma.isFinite, "GaussianNoise: sigma must be finite and ≥ 0")
        self.sigma = sigma
        rng = SplitMix64(seed: seed)
    }

    /// The next sample.
    public mutating func next() -> Double {
        if let s = spare { spare = nil; return s * sigma }
        // Two uniforms in (0, 1]: 53 random bits each, never 0 (log(0) would be -∞).
        let u1 = (Double(rng.next() >> 11) + 1) / 9_007_199_254_740_992
        let u2 = Double(rng.next() >> 11) / 9_007_199_254_740_992
        let r = (-2 * log(u1)).squareRoot()
        spare = r * sin(2 * .pi * u2)
        return r * cos(2 * .pi * u2) * sigma
    }

    /// Adds one sample to every value of `values`.
    public mutating func add(to values: inout [Float]) {
        guard sigma > 0 else { return }
        for j in values.indices { values[j] += Float(next()) }
    }
}

