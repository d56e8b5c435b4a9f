// The typed reasons a message is refused, each mapped to the ERROR code the peer receives
// (PROTOCOL.md §7). Thrown by decoders, encoders, schema validation and the coordinator's admission checks.

/// Why a message (incoming or outgoing) was refused.
public enum WireError: Error, Equatable, Sendable, CustomStringConvertible {
    /// The input ended `needed` bytes before the field `field` was complete.
    case truncated(field: String, needed: Int)
    /// A field holds a value outside what the protocol allows.
    case invalid(field: String, reason: String)
    /// The envelope names a protocol version this peer does not speak.
    case unsupportedVersion(got: UInt16, supported: UInt16)
    /// A size or count is over its configured limit.
    case tooLarge(field: String, size: Int, limit: Int)
    /// A tensor is unknown, repeated, or its values contradict the model schema.
    case schemaMismatch(tensor: String, reason: String)
    /// Channel indices are out of range, unsorted, duplicated, or of an impossible count.
    case badChannels(tensor: String, reason: String)
    /// A value (or INT8 scale) is NaN or infinite.
    case nonFinite(tensor: String, index: Int)
    /// The payload checksum in the header does not match the tensor frames.
    case checksumMismatch(expected: UInt32, actual: UInt32)
    /// A second update for a (device, round) already accepted.
    case duplicate(deviceID: String, round: UInt64)
    /// An update or patch for a closed round or too old a model version.
    case stale(deviceID: String, reason: String)
    /// A device id the sender never declared in its JOIN.
    case unknownDevice(deviceID: String)
    /// A valid message that is not allowed in the current state or direction.
    case unexpected(kind: MessageKind, reason: String)
    /// A message other than JOIN from a connection that has not joined.
    case notJoined(kind: MessageKind)
    /// The sender's authenticated key may not serve this node name or device.
    case forbidden(reason: String)
    /// A finite value outside its allowed range (an update's L2 norm, an accuracy).
    case outOfRange(field: String, reason: String)

    /// The ERROR code the peer receives for this refusal.
    public var code: PBErrorCode {
        switch self {
        case .truncated, .invalid: return .malformed
        case .unsupportedVersion: return .unsupportedVersion
        case .tooLarge: return .tooLarge
        case .schemaMismatch: return .schemaMismatch
        case .badChannels: return .badChannels
        case .nonFinite: return .nonFinite
        case .checksumMismatch: return .checksumMismatch
        case .duplicate: return .duplicate
        case .stale: return .stale
        case .unknownDevice: return .unknownDevice
        case .unexpected: return .unexpectedMessage
        case .notJoined: return .notJoined
        case .forbidden: return .forbidden
        case .outOfRange: return .outOfRange
        }
    }

    /// A sentence naming the problem and, where the sender can act, the fix.
    public var description: String {
        switch self {
        case let .truncated(field, needed):
            return "truncated input: \(needed) more bytes needed for \(field); the sender must send whole frames"
        case let .invalid(field, reason):
            return "invalid \(field): \(reason)"
        case let .unsupportedVersion(got, supported):
            return
                "protocol version \(got) not supported; this peer speaks SPFL version \(supported); run the same SparseFleet release on both ends"
        case let .tooLarge(field, size, limit):
            return "\(field) is \(size), over the limit of \(limit); send less or raise the receiver's WireLimits"
        case let .schemaMismatch(tensor, reason):
            return "tensor '\(tensor)' does not match the model schema: \(reason)"
        case let .badChannels(tensor, reason):
            return
                "tensor '\(tensor)' has bad channel indices: \(reason); indices must be strictly ascending and below the channel count"
        case let .nonFinite(tensor, index):
            return "tensor '\(tensor)' value \(index) is NaN or infinite; the device diverged: lower the learning rate"
        case let .checksumMismatch(expected, actual):
            return
                "payload checksum mismatch: header says \(hex(expected)), frames give \(hex(actual)); the tensor frames were altered or mis-encoded"
        case let .duplicate(deviceID, round):
            return "duplicate update from device '\(deviceID)' for round \(round); the first one was kept"
        case let .stale(deviceID, reason):
            return
                "stale message for device '\(deviceID)': \(reason); fetch the current model and wait for the next task"
        case let .unknownDevice(deviceID):
            return "unknown device '\(deviceID)'; declare it in this connection's JOIN first"
        case let .unexpected(kind, reason):
            return "unexpected \(kind) message: \(reason)"
        case let .notJoined(kind):
            return "\(kind) from a connection that has not joined; send JOIN first (after a coordinator restart, JOIN again)"
        case let .forbidden(reason):
            return "forbidden: \(reason); the coordinator's allow list binds each CURVE key to one node name and its devices (fleet keys writes it)"
        case let .outOfRange(field, reason):
            return "\(field) out of range: \(reason)"
        }
    }
}

/// `0x%08x` formatting without Foundation.
private func hex(_ v: UInt32) -> String {
    let s = String(v, radix: 16)
    return "0x" + String(repeating: "0", count: max(0, 8 - s.count)) + s
}
