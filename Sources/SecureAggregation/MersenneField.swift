// Arithmetic in the prime field GF(p), p = 2^61 − 1 (a Mersenne prime), where Shamir shares live.
// Reduction uses 2^61 ≡ 1 (mod p); every value is kept in [0, p).

/// An element of GF(2^61 − 1).
public struct FieldElement: Equatable, Hashable, Sendable, CustomStringConvertible {
    /// The modulus 2^61 − 1.
    public static let modulus: UInt64 = (1 << 61) - 1
    /// The value, in [0, p).
    public let value: UInt64

    /// `v` mod p.
    public init(_ v: UInt64) { value = FieldElement.reduce(v) }
    /// Zero.
    public static let zero = FieldElement(0)
    /// One.
    public static let one = FieldElement(1)

    /// `x` mod p for any 64-bit `x`.
    static func reduce(_ x: UInt64) -> UInt64 {
        var r = (x & modulus) + (x >> 61)
        if r >= modulus { r -= modulus }
        return r
    }

    /// a + b.
    public static func + (a: FieldElement, b: FieldElement) -> FieldElement { FieldElement(a.value + b.value) }
    /// a − b.
    public static func - (a: FieldElement, b: FieldElement) -> FieldElement { FieldElement(a.value + modulus - b.value) }
    /// a · b (128-bit product folded twice).
    public static func * (a: FieldElement, b: FieldElement) -> FieldElement {
        let (hi, lo) = a.value.multipliedFullWidth(by: b.value)
        // a·b = hi·2^64 + lo = (hi·8)·2^61 + lo ≡ hi·8 + (lo mod 2^61) + (lo >> 61).
        let folded = (lo & modulus) + (lo >> 61) + (hi << 3)
        return FieldElement(folded)
    }

    /// a^e by squaring.
    public func power(_ e: UInt64) -> FieldElement {
        var result = FieldElement.one, base = self, e = e
        while e > 0 {
            if e & 1 == 1 { result = result * base }
            base = base * base
            e >>= 1
        }
        return result
    }

    /// The multiplicative inverse (Fermat: a^(p−2)); nil for zero.
    public var inverse: FieldElement? { value == 0 ? nil : power(FieldElement.modulus - 2) }

    /// The value in decimal.
    public var description: String { String(value) }
}
