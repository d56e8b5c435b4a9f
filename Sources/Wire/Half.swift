// IEEE-754 binary16 <-> binary32 conversion done on bit patterns, so it is identical on every
// platform (Swift's Float16 is missing on macOS/x86-64). Rounding: to nearest, ties to even.

/// Bit-exact half-precision conversion for the F16 value encoding.
public enum Half {
    /// The binary16 bit pattern nearest to `value`; ±infinity when it overflows, NaN stays NaN.
    public static func bits(from value: Float) -> UInt16 {
        let x = value.bitPattern
        let sign = UInt16(truncatingIfNeeded: (x >> 16) & 0x8000)
        let exponent = Int((x >> 23) & 0xFF)
        var mantissa = x & 0x7F_FFFF
        if exponent == 0xFF {  // infinity or NaN (keep NaN quiet and non-zero)
            return sign | 0x7C00 | (mantissa != 0 ? 0x0200 | UInt16(truncatingIfNeeded: mantissa >> 13) : 0)
        }
        let e = exponent - 127 + 15
        if e >= 0x1F { return sign | 0x7C00 }  // overflow
        if e <= 0 {  // subnormal half, or zero
            if e < -10 { return sign }
            mantissa |= 0x80_0000
            let shift = UInt32(14 - e)
            var h = mantissa >> shift
            let rest = mantissa & ((1 << shift) - 1)
            let halfway = UInt32(1) << (shift - 1)
            if rest > halfway || (rest == halfway && (h & 1) == 1) { h += 1 }
            return sign | UInt16(truncatingIfNeeded: h)
        }
        var h = UInt32(e) << 10 | (mantissa >> 13)
        let rest = mantissa & 0x1FFF
        if rest > 0x1000 || (rest == 0x1000 && (h & 1) == 1) { h += 1 }  // a carry may reach infinity
        return sign | UInt16(truncatingIfNeeded: h)
    }

    /// The exact binary32 value of a binary16 bit pattern.
    public static func float(fromBits h: UInt16) -> Float {
        let sign = UInt32(h & 0x8000) << 16
        let exponent = UInt32((h >> 10) & 0x1F)
        let mantissa = UInt32(h & 0x3FF)
        if exponent == 0 {
            let magnitude = Float(mantissa) * 0x1p-24
            return sign != 0 ? -magnitude : magnitude
        }
        if exponent == 0x1F { return Float(bitPattern: sign | 0x7F80_0000 | (mantissa << 13)) }
        return Float(bitPattern: sign | (exponent + 112) << 23 | mantissa << 13)
    }

    /// Whether a binary16 bit pattern is NaN or infinite.
    public static func isNonFinite(_ h: UInt16) -> Bool { (h & 0x7C00) == 0x7C00 }
}
