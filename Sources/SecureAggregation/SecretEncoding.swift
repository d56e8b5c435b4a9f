// A 32-byte secret (a seed or an X25519 private key) as field elements for Shamir sharing: five
// little-endian chunks of at most 7 bytes (56 bits < 61), so every chunk is a field element and
// decoding is exact.

/// Bytes ↔ field elements.
public enum SecretEncoding {
    /// Bytes per chunk.
    static let chunk = 7

    /// `bytes` as ⌈count/7⌉ field elements.
    public static func elements(_ bytes: [UInt8]) -> [FieldElement] {
        stride(from: 0, to: bytes.count, by: chunk).map { start in
            var v: UInt64 = 0
            for (i, b) in bytes[start..<min(start + chunk, bytes.count)].enumerated() { v |= UInt64(b) << (8 * UInt64(i)) }
            return FieldElement(v)
        }
    }

    /// The `count` bytes that `elements` encode; nil when an element is too large for its chunk
    /// (a reconstruction from inconsistent shares).
    public static func bytes(_ elements: [FieldElement], count: Int) -> [UInt8]? {
        guard elements.count == (count + chunk - 1) / chunk else { return nil }
        var out: [UInt8] = []
        out.reserveCapacity(count)
        for (i, e) in elements.enumerated() {
            let width = min(chunk, count - i * chunk)
            guard e.value >> (8 * UInt64(width)) == 0 else { return nil }
            for j in 0..<width { out.append(UInt8((e.value >> (8 * UInt64(j))) & 0xFF)) }
        }
        return out
    }
}
