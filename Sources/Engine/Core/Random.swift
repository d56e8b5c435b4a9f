// Deterministic, seedable random numbers (SplitMix64), identical on every platform.

/// A small, fast, seedable generator; every random choice in SparseFleet flows from one.
public struct SplitMix64: RandomNumberGenerator, Sendable, Equatable, Codable {
    /// The full generator state; saving it saves the stream position.
    public var state: UInt64

    /// A generator whose stream is fixed by `seed`.
    public init(seed: UInt64) { state = seed }

    /// The next 64 random bits.
    public mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    /// A uniform Float in `range`, from 24 random bits.
    public mutating func nextFloat(in range: ClosedRange<Float> = 0...1) -> Float {
        let unit = Float(next() >> 40) / Float(1 << 24)
        return range.lowerBound + unit * (range.upperBound - range.lowerBound)
    }
}
