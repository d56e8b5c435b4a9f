// 64-bit words as little-endian bytes and back: nonces, associated data, commitments and the
// encoding of shares all use it.

/// Little-endian byte order for 64-bit words.
public enum LittleEndian {
    /// The 8 bytes of each of `words`, least significant first.
    public static func bytes(_ words: UInt64...) -> [UInt8] { bytes(words) }

    /// The 8 bytes of each of `words`, least significant first.
    public static func bytes(_ words: [UInt64]) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(8 * words.count)
        for v in words { withUnsafeBytes(of: v.littleEndian) { out.append(contentsOf: $0) } }
        return out
    }

    /// The word of the 8 bytes at `offset`, nil when they run past the end.
    public static func word(_ bytes: [UInt8], at offset: Int) -> UInt64? {
        guard offset >= 0, offset + 8 <= bytes.count else { return nil }
        var v: UInt64 = 0
        for i in 0..<8 { v |= UInt64(bytes[offset + i]) << (8 * UInt64(i)) }
        return v
    }
}
