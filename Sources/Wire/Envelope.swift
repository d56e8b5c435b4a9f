// The first frame of every SparseFleet message: protocol name, version and message kind.
// Layout (8 bytes): "SPFL" (4) | version u16 LE | kind u8 | flags u8.

/// Protocol identity shared by every message.
public enum ProtocolID {
    /// The 4-byte protocol name that opens every message.
    public static let magic: [UInt8] = Array("SPFL".utf8)
    /// The protocol version this build speaks.
    public static let version: UInt16 = 1
}

/// The kind of a message, carried in its envelope.
public enum MessageKind: UInt8, CaseIterable, Sendable, CustomStringConvertible {
    case join = 1, model = 2, task = 3, update = 4, metrics = 5, heartbeat = 6, bye = 7, error = 8, secAgg = 9

    /// The upper-case name PROTOCOL.md uses, e.g. "UPDATE".
    public var description: String {
        switch self {
        case .join: return "JOIN"
        case .model: return "MODEL"
        case .task: return "TASK"
        case .update: return "UPDATE"
        case .metrics: return "METRICS"
        case .heartbeat: return "HEARTBEAT"
        case .bye: return "BYE"
        case .error: return "ERROR"
        case .secAgg: return "SECAGG"
        }
    }
}

/// The fixed 8-byte header frame of every message.
public struct Envelope: Equatable, Sendable {
    /// The size of every envelope frame in bytes.
    public static let size = 8
    /// Protocol version of the sender.
    public var version: UInt16
    /// What the message is.
    public var kind: MessageKind
    /// Reserved bits; senders set 0, receivers ignore.
    public var flags: UInt8

    /// An envelope of this build's version.
    public init(kind: MessageKind, version: UInt16 = ProtocolID.version, flags: UInt8 = 0) {
        self.kind = kind
        self.version = version
        self.flags = flags
    }

    /// The 8 encoded bytes.
    public func encoded() -> [UInt8] {
        var w = ByteWriter(capacity: 8)
        w.write(bytes: ProtocolID.magic)
        w.write(version)
        w.write(kind.rawValue)
        w.write(flags)
        return w.bytes
    }

    /// Decodes and validates an envelope frame: exact size, magic, version and known kind.
    public static func decode(_ frame: [UInt8]) throws -> Envelope {
        guard frame.count == Envelope.size else {
            throw WireError.invalid(field: "envelope", reason: "must be 8 bytes, got \(frame.count)")
        }
        var r = ByteReader(frame)
        let magic = try r.readBytes(4, field: "envelope.magic")
        guard magic == ProtocolID.magic else {
            throw WireError.invalid(field: "envelope.magic", reason: "not a SparseFleet message")
        }
        let version = try r.readUInt16(field: "envelope.version")
        guard version == ProtocolID.version else {
            throw WireError.unsupportedVersion(got: version, supported: ProtocolID.version)
        }
        let rawKind = try r.readUInt8(field: "envelope.kind")
        guard let kind = MessageKind(rawValue: rawKind) else {
            throw WireError.invalid(field: "envelope.kind", reason: "unknown kind \(rawKind)")
        }
        let flags = try r.readUInt8(field: "envelope.flags")
        return Envelope(kind: kind, version: version, flags: flags)
    }
}
