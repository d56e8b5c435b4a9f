// Seeded random numbers for the membership-inference tests: SplitMix64 (G. Steele, D. Lea,
// C. Flood, "Fast Splittable Pseudorandom Number Generators", OOPSLA 2014) and Box–Muller normals,
// so every statistical test sees the same draws on every run and platform.

import Foundation

/// A deterministic generator of uniforms and normals.
struct SeededNormal {
    private var state: UInt64

    init(seed: UInt64) { state = seed }

    mutating func nextUInt64() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    /// Uniform in (0, 1).
    mutating func uniform() -> Double { (Double(nextUInt64() >> 11) + 0.5) / 9_007_199_254_740_992 }

    /// Uniform in `range`.
    mutating func uniform(_ range: ClosedRange<Double>) -> Double { range.lowerBound + (range.upperBound - range.lowerBound) * uniform() }

    /// N(mean, sd²) by Box–Muller.
    mutating func normal(mean: Double = 0, sd: Double = 1) -> Double {
        mean + sd * (-2 * log(uniform())).squareRoot() * cos(2 * Double.pi * uniform())
    }

    /// A whole number in 0..<n.
    mutating func int(_ n: Int) -> Int { Int(nextUInt64() % UInt64(n)) }
}
