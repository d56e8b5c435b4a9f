// Encoding messages to multipart frames and decoding frames back, with every check of
// PROTOCOL.md applied in both directions: a peer never sends what it would itself refuse.
// Frames here exclude the ROUTER identity frame (strip it before decoding, add it to reply).
import SwiftProtobuf

/// Encodes and decodes SPFL/1 messages as `[[UInt8]]` multipart frames.
public struct WireCodec: Sendable {
    /// The limits enforced in both directions.
    public var limits: WireLimits

    /// A codec enforcing `limits`.
    public init(limits: WireLimits = .default) { self.limits = limits }

    /// The frames of `message`: envelope, protobuf header, tensor frames. `schema` is required
    /// for UPDATE, for a PATCH and for a TASK with assignments; it is checked against.
    public func encode(_ message: WireMessage, schema: ModelSchema? = nil) throws -> [[UInt8]] {
        var frames: [[UInt8]]
        switch message {
        case let .join(j):
            try HeaderRules.join(j, limits: limits)
            frames = [try serialize(j)]
        case let .model(m):
            frames = try encodeModel(m, schema: schema)
        case let .task(t):
            try HeaderRules.task(t, schema: schema, limits: limits)
            frames = [try serialize(t)]
        case let .update(u):
            frames = try encodeUpdate(u, schema: schema)
        case let .metrics(m):
            try HeaderRules.metrics(m, limits: limits)
            frames = [try serialize(m)]
        case let .heartbeat(h):
            try HeaderRules.heartbeat(h)
            frames = [try serialize(h)]
        case let .bye(b):
            try HeaderRules.bye(b, limits: limits)
            frames = [try serialize(b)]
        case let .error(e):
            try HeaderRules.error(e, limits: limits)
            frames = [try serialize(e)]
        case let .secAgg(m):
            try HeaderRules.secAgg(m.header, limits: limits)
            frames = [try serialize(m.header)] + (m.header.phase == .masked ? [RingWords.encode(m.masked)] : [])
            guard m.header.phase == .masked || m.masked.isEmpty, m.header.phase != .masked || m.masked.count == Int(m.header.maskedLength) else {
                throw WireError.invalid(field: "SecAgg.masked_length", reason: "is \(m.header.maskedLength); the message carries \(m.masked.count) masked values")
            }
        }
        frames.insert(Envelope(kind: message.kind).encoded(), at: 0)
        try checkSizes(frames)
        return frames
    }

    /// Decodes and validates one message. `schema` is the model the receiver holds; it is
    /// required for UPDATE, PATCH and TASK-with-assignments. Throws a `WireError` for any
    /// malformed, oversized or inconsistent input, and never allocates more than it received.
    public func decode(_ frames: [[UInt8]], schema: ModelSchema? = nil) throws -> WireMessage {
        guard !frames.isEmpty else { throw WireError.invalid(field: "message", reason: "no frames") }
        try checkSizes(frames)
        let envelope = try Envelope.decode(frames[0])
        guard frames.count >= 2 else {
            throw WireError.invalid(field: "\(envelope.kind) message", reason: "missing the header frame (frame 1)")
        }
        switch envelope.kind {
        case .join:
            try expectFrames(frames, 2, envelope.kind)
            let j = try parse(PBJoin.self, frames[1])
            try HeaderRules.join(j, limits: limits)
            return .join(j)
        case .model:
            return .model(try decodeModel(frames, schema: schema))
        case .task:
            try expectFrames(frames, 2, envelope.kind)
            let t = try parse(PBTask.self, frames[1])
            try HeaderRules.task(t, schema: schema, limits: limits)
            return .task(t)
        case .update:
            return .update(try decodeUpdate(frames, schema: schema))
        case .metrics:
            try expectFrames(frames, 2, envelope.kind)
            let m = try parse(PBMetrics.self, frames[1])
            try HeaderRules.metrics(m, limits: limits)
            return .metrics(m)
        case .heartbeat:
            try expectFrames(frames, 2, envelope.kind)
            let h = try parse(PBHeartbeat.self, frames[1])
            try HeaderRules.heartbeat(h)
            return .heartbeat(h)
        case .bye:
            try expectFrames(frames, 2, envelope.kind)
            let b = try parse(PBBye.self, frames[1])
            try HeaderRules.bye(b, limits: limits)
            return .bye(b)
        case .error:
            try expectFrames(frames, 2, envelope.kind)
            let e = try parse(PBError.self, frames[1])
            try HeaderRules.error(e, limits: limits)
            return .error(e)
        case .secAgg:
            let h = try parse(PBSecAgg.self, frames[1])
            try HeaderRules.secAgg(h, limits: limits)
            guard h.phase == .masked else {
                try expectFrames(frames, 2, envelope.kind)
                return .secAgg(SecAggMessage(header: h))
            }
            try expectFrames(frames, 3, envelope.kind)
            guard frames[2].count == 4 * Int(h.maskedLength) else {
                throw WireError.invalid(field: "SecAgg.masked_length", reason: "is \(h.maskedLength) values; frame 2 holds \(frames[2].count) bytes, not \(4 * Int(h.maskedLength))")
            }
            return .secAgg(SecAggMessage(header: h, masked: RingWords.decode(frames[2])))
        }
    }

    // MARK: - Shared helpers

    /// Refuses too many frames, an oversized header, or an oversized whole message.
    func checkSizes(_ frames: [[UInt8]]) throws {
        try Validate.count(frames.count, field: "frame count", limit: limits.maxFrames)
        if frames.count >= 2 {
            try Validate.count(frames[1].count, field: "header frame bytes", limit: limits.maxHeaderBytes)
        }
        var total = 0
        for f in frames {
            total += f.count
            guard total <= limits.maxMessageBytes else {
                throw WireError.tooLarge(
                    field: "message bytes", size: frames.reduce(0) { $0 + $1.count }, limit: limits.maxMessageBytes)
            }
        }
    }

    /// Refuses a control message with extra or missing frames.
    func expectFrames(_ frames: [[UInt8]], _ n: Int, _ kind: MessageKind) throws {
        guard frames.count == n else {
            throw WireError.invalid(field: "\(kind) message", reason: "has \(frames.count) frames; expected \(n)")
        }
    }

    /// Parses a protobuf header, turning any protobuf failure into MALFORMED.
    func parse<M: SwiftProtobuf.Message>(_ type: M.Type, _ frame: [UInt8]) throws -> M {
        do {
            return try M(serializedBytes: frame)
        } catch {
            throw WireError.invalid(field: "\(M.protoMessageName) header", reason: "not valid protobuf (\(error))")
        }
    }

    /// Serialises a protobuf header, maps in key order so that equal messages give equal bytes.
    func serialize<M: SwiftProtobuf.Message>(_ message: M) throws -> [UInt8] {
        var options = BinaryEncodingOptions()
        options.useDeterministicOrdering = true
        do {
            return try message.serializedBytes(options: options)
        } catch {
            throw WireError.invalid(field: "\(M.protoMessageName) header", reason: "cannot be serialised (\(error))")
        }
    }
}
