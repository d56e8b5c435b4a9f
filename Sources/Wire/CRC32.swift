// CRC-32 (IEEE 802.3; zlib's crc32): reflected polynomial 0xEDB88320, init and final XOR
// 0xFFFFFFFF. Slicing-by-8 so that a 14 MB model checks in milliseconds in release builds.

/// The payload checksum of PROTOCOL.md §5.4.
public struct CRC32: Sendable {
    /// The running register (pre-inverted state, not yet finalised).
    private var state: UInt32 = 0xFFFF_FFFF

    /// A checksum over no bytes yet.
    public init() {}

    /// Feeds more bytes.
    public mutating func update(_ bytes: [UInt8]) {
        bytes.withUnsafeBufferPointer { update($0) }
    }

    /// Feeds more bytes from a buffer.
    public mutating func update(_ buffer: UnsafeBufferPointer<UInt8>) {
        var crc = state
        var i = 0
        let n = buffer.count
        CRC32.tables.withUnsafeBufferPointer { t in
            while n - i >= 8 {
                let lo = crc ^ (UInt32(buffer[i]) | UInt32(buffer[i + 1]) << 8
                    | UInt32(buffer[i + 2]) << 16 | UInt32(buffer[i + 3]) << 24)
                crc = t[7 * 256 + Int(lo & 0xFF)] ^ t[6 * 256 + Int((lo >> 8) & 0xFF)]
                    ^ t[5 * 256 + Int((lo >> 16) & 0xFF)] ^ t[4 * 256 + Int(lo >> 24)]
                    ^ t[3 * 256 + Int(buffer[i + 4])] ^ t[2 * 256 + Int(buffer[i + 5])]
                    ^ t[1 * 256 + Int(buffer[i + 6])] ^ t[Int(buffer[i + 7])]
                i += 8
            }
            while i < n {
                crc = t[Int((crc ^ UInt32(buffer[i])) & 0xFF)] ^ (crc >> 8)
                i += 1
            }
        }
        state = crc
    }

    /// The finished checksum of everything fed so far.
    public var value: UInt32 { state ^ 0xFFFF_FFFF }

    /// The checksum of the concatenation of `frames`, in order (0 for no frames).
    public static func checksum<S: Sequence>(frames: S) -> UInt32 where S.Element == [UInt8] {
        var c = CRC32()
        for f in frames { c.update(f) }
        return c.value
    }

    /// 8 tables of 256 entries: table 0 is the classic byte table, table k advances k more bytes.
    private static let tables: [UInt32] = {
        var t = [UInt32](repeating: 0, count: 8 * 256)
        for b in 0..<256 {
            var c = UInt32(b)
            for _ in 0..<8 { c = (c & 1) != 0 ? 0xEDB8_8320 ^ (c >> 1) : c >> 1 }
            t[b] = c
        }
        for k in 1..<8 {
            for b in 0..<256 {
                let prev = t[(k - 1) * 256 + b]
                t[k * 256 + b] = t[Int(prev & 0xFF)] ^ (prev >> 8)
            }
        }
        return t
    }()
}
