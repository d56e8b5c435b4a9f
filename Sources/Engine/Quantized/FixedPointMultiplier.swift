// Requantisation as an MCU does it: a real multiplier M > 0 stored as a Q31 mantissa and a power
// of two (TFLite Micro / CMSIS-NN), applied to an int32 accumulator with integer operations only:
//   apply(x) = round(x · m · 2^shift / 2^31), one 64-bit product and one rounding shift.

/// A positive real multiplier in fixed point.
public struct FixedPointMultiplier: Equatable, Sendable, Codable {
    /// The Q31 mantissa, in [2^30, 2^31).
    public var multiplier: Int32
    /// Power of two: positive shifts left before the multiply, negative shifts right after it.
    public var shift: Int

    /// The fixed-point form of `real` (> 0). Zero gives a multiplier that maps everything to 0.
    public init(_ real: Double) {
        precondition(real >= 0 && real.isFinite, "FixedPointMultiplier: \(real) is not a finite non-negative multiplier")
        guard real > 0 else { multiplier = 0; shift = 0; return }
        var e = 0
        var m = real
        while m >= 1 { m /= 2; e += 1 }
        while m < 0.5 { m *= 2; e -= 1 }
        var q = (m * Double(1 << 31)).rounded()
        if q == Double(1 << 31) { q /= 2; e += 1 }
        multiplier = Int32(q)
        shift = e
    }

    /// The real value this multiplier stands for.
    public var real: Double { Double(multiplier) / Double(1 << 31) * pow2(shift) }

    /// `x · M` rounded to nearest, ties away from zero, saturating: one 32×32→64-bit multiply
    /// and one rounding shift (CMSIS-NN's 64-bit requantisation; Cortex-M's SMLAL).
    @inline(__always)
    public func apply(_ x: Int32) -> Int32 {
        let p = Int64(x) * Int64(multiplier)
        let r = 31 - shift
        var v: Int64
        if r <= 0 {
            let limit = Int64(Int32.max) >> min(-r, 62)
            v = p > limit ? Int64(Int32.max) : p < -limit ? Int64(Int32.min) : p << -r
        } else if r >= 63 {
            v = 0
        } else {
            let half = Int64(1) << (r - 1)
            v = p >= 0 ? (p + half) >> r : -((-p + half) >> r)
        }
        return Int32(max(Int64(Int32.min), min(Int64(Int32.max), v)))
    }

    /// x / 2^e rounded to nearest, ties away from zero.
    @inline(__always)
    static func roundingDivideByPOT(_ x: Int32, _ e: Int) -> Int32 {
        guard e > 0 else { return x }
        let half = Int32(1) << Int32(e - 1)
        return x >= 0 ? (x + half) >> Int32(e) : -((-x + half) >> Int32(e))
    }

    /// Byte offsets of `multiplier` (int32) and `shift` (int64) in the struct, for the C
    /// requantisation kernel that reads an array of multipliers in place.
    static let mantissaOffset: Int = MemoryLayout<FixedPointMultiplier>.offset(of: \FixedPointMultiplier.multiplier)!
    static let shiftOffset: Int = {
        precondition(MemoryLayout<Int>.size == 8, "FixedPointMultiplier: the C requantisation reads the shift as int64")
        return MemoryLayout<FixedPointMultiplier>.offset(of: \FixedPointMultiplier.shift)!
    }()

    private func pow2(_ e: Int) -> Double { e >= 0 ? Double(1 << e) : 1 / Double(1 << -e) }
}
