// Little-endian packed binary writing and bounds-checked reading, for tensor payloads.

/// Appends little-endian values to a byte buffer.
public struct ByteWriter {
    /// Bytes written so far.
    public private(set) var bytes: [UInt8] = []

    /// An empty writer, reserving `capacity` bytes.
    public init(capacity: Int = 0) { bytes.reserveCapacity(capacity) }

    /// Appends raw bytes.
    public mutating func write(bytes more: [UInt8]) { bytes.append(contentsOf: more) }

    /// Appends an unsigned 8-bit value.
    public mutating func write(_ v: UInt8) { bytes.append(v) }

    /// Appends a little-endian unsigned 16-bit value.
    public mutating func write(_ v: UInt16) { withUnsafeBytes(of: v.littleEndian) { bytes.append(contentsOf: $0) } }

    /// Appends a little-endian unsigned 32-bit value.
    public mutating func write(_ v: UInt32) { withUnsafeBytes(of: v.littleEndian) { bytes.append(contentsOf: $0) } }

    /// Appends a little-endian unsigned 64-bit value.
    public mutating func write(_ v: UInt64) { withUnsafeBytes(of: v.littleEndian) { bytes.append(contentsOf: $0) } }

    /// Appends a little-endian IEEE-754 binary32 value.
    public mutating func write(_ v: Float) { write(v.bitPattern) }
}

/// Reads little-endian values from a byte buffer, refusing to read past its end.
public struct ByteReader {
    private let bytes: [UInt8]
    /// Offset of the next unread byte.
    public private(set) var offset: Int = 0

    /// A reader over `bytes`, starting at the first byte.
    public init(_ bytes: [UInt8]) { self.bytes = bytes }

    /// Bytes not yet read.
    public var remaining: Int { bytes.count - offset }

    private mutating func take(_ n: Int, _ field: String) throws -> ArraySlice<UInt8> {
        guard n >= 0 else { throw WireError.invalid(field: field, reason: "negative length \(n)") }
        guard remaining >= n else { throw WireError.truncated(field: field, needed: n - remaining) }
        defer { offset += n }
        return bytes[offset..<offset + n]
    }

    /// Reads `n` raw bytes; fails without allocating if fewer remain.
    public mutating func readBytes(_ n: Int, field: String) throws -> [UInt8] { Array(try take(n, field)) }

    /// Reads an unsigned 8-bit value.
    public mutating func readUInt8(field: String) throws -> UInt8 { try take(1, field).first! }

    /// Reads a little-endian unsigned 16-bit value.
    public mutating func readUInt16(field: String) throws -> UInt16 {
        let s = try take(2, field)
        return UInt16(s[s.startIndex]) | UInt16(s[s.startIndex + 1]) << 8
    }

    /// Reads a little-endian unsigned 32-bit value.
    public mutating func readUInt32(field: String) throws -> UInt32 {
        let s = try take(4, field)
        var v: UInt32 = 0
        for i in 0..<4 { v |= UInt32(s[s.startIndex + i]) << (8 * UInt32(i)) }
        return v
    }

    /// Reads a little-endian unsigned 64-bit value.
    public mutating func readUInt64(field: String) throws -> UInt64 {
        let s = try take(8, field)
        var v: UInt64 = 0
        for i in 0..<8 { v |= UInt64(s[s.startIndex + i]) << (8 * UInt64(i)) }
        return v
    }

    /// Reads a little-endian IEEE-754 binary32 value.
    public mutating func readFloat(field: String) throws -> Float { Float(bitPattern: try readUInt32(field: field)) }
}
