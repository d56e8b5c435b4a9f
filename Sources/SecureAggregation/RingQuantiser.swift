// Values into the ring Z_{2^b} and back: clip to [−c, c], scale to signed integers of
// `valueBits` bits (|q| ≤ 2^(valueBits−1) − 1) with stochastic rounding (unbiased: E[q] = x·scale),
// store two's complement mod 2^b. The ring is wide enough that the sum of `maxContributors`
// values cannot wrap: b = valueBits + ⌈log2 maxContributors⌉ (n·(2^(v−1) − 1) < 2^(b−1)), so the
// signed sum is read back exactly and dequantised. Untouched coordinates are 0 and stay 0.

/// A quantiser for sums of at most `maxContributors` vectors.
public struct RingQuantiser: Equatable, Sendable {
    /// Clip bound c.
    public let clip: Double
    /// Bits of one quantised value (sign included).
    public let valueBits: Int
    /// Ring width b.
    public let ringBits: Int
    /// Integer units per unit of value: (2^(valueBits−1) − 1) / c.
    public var scale: Double { Double((1 << (valueBits - 1)) - 1) / clip }
    /// The largest error of one dequantised coordinate of a sum of n values: n / scale (each
    /// value rounds by less than one unit).
    public func sumError(contributors n: Int) -> Double { Double(n) / scale }

    /// The quantiser for values in [−clip, clip] and sums of up to `maxContributors`; nil when the
    /// ring would need more than 32 bits (fewer value bits, or fewer contributors, then).
    public init?(clip: Double, valueBits: Int, maxContributors: Int) {
        guard clip > 0, clip.isFinite, (2...31).contains(valueBits), maxContributors >= 1 else { return nil }
        let growth = maxContributors <= 1 ? 0 : 64 - UInt64(maxContributors - 1).leadingZeroBitCount  // ⌈log2 n⌉
        let bits = valueBits + growth
        guard bits <= 32 else { return nil }
        self.clip = clip; self.valueBits = valueBits; ringBits = bits
    }

    /// The ring mask 2^b − 1.
    public var mask: UInt32 { ringBits == 32 ? .max : (1 << UInt32(ringBits)) - 1 }

    /// `values` clipped, scaled and stochastically rounded into the ring.
    public func quantise<G: RandomNumberGenerator>(_ values: [Float], using rng: inout G) -> [UInt32] {
        let limit = Double((1 << (valueBits - 1)) - 1)
        return values.map { v in
            let x = min(max(Double(v).isNaN ? 0 : Double(v), -clip), clip) * scale
            let low = x.rounded(.down)
            let u = Double(rng.next() >> 11) / Double(1 << 53)
            let q = min(max(u < x - low ? low + 1 : low, -limit), limit)
            return UInt32(bitPattern: Int32(q)) & mask
        }
    }

    /// The signed integer that ring element `r` stands for (two's complement in b bits).
    public func signed(_ r: UInt32) -> Int64 {
        let v = Int64(r & mask)
        return v >= Int64(1) << Int64(ringBits - 1) ? v - (Int64(1) << Int64(ringBits)) : v
    }

    /// The dequantised sum of the values whose ring sum is `sum`.
    public func dequantise(_ sum: [UInt32]) -> [Double] { sum.map { Double(signed($0)) / scale } }
}

/// Ring arithmetic on vectors of Z_{2^b} elements.
public enum Ring {
    /// a + b element-wise, mod 2^bits.
    public static func add(_ a: inout [UInt32], _ b: [UInt32], bits: Int) {
        let m: UInt32 = bits == 32 ? .max : (1 << UInt32(bits)) - 1
        for i in a.indices { a[i] = (a[i] &+ b[i]) & m }
    }

    /// a − b element-wise, mod 2^bits.
    public static func subtract(_ a: inout [UInt32], _ b: [UInt32], bits: Int) {
        let m: UInt32 = bits == 32 ? .max : (1 << UInt32(bits)) - 1
        for i in a.indices { a[i] = (a[i] &- b[i]) & m }
    }
}
