// Turning a refusal into the ERROR reply the peer receives (PROTOCOL.md §7), and deciding
// when not to reply at all (to an ERROR, or to something that is not SparseFleet).

/// The outcome of decoding an incoming message on behalf of a peer.
public enum Inbound: Equatable, Sendable {
    /// A valid message.
    case message(WireMessage)
    /// A refused message, and the frames of the ERROR to send back (nil: send nothing).
    case refused(WireError, reply: [[UInt8]]?)
}

/// Builds ERROR replies.
public enum ErrorReply {
    /// The ERROR message for `error`, with the context that is known. Text and ids are cut to
    /// the default limits so that the reply itself is always valid.
    public static func message(for error: WireError, refusedKind: MessageKind?, deviceID: String = "",
                               round: UInt64 = 0) -> WireMessage {
        let limits = WireLimits.default
        var e = PBError()
        e.code = error.code
        e.message = clip(error.description, to: limits.maxTextBytes)
        e.refusedKind = UInt32(refusedKind?.rawValue ?? 0)
        e.deviceID = clip(deviceID, to: limits.maxIdentifierBytes)
        e.round = round
        e.peerVersion = UInt32(ProtocolID.version)
        return .error(e)
    }

    /// The frames of `message(for:...)`; encoding an ERROR built this way cannot fail.
    public static func frames(for error: WireError, refusedKind: MessageKind?, deviceID: String = "",
                              round: UInt64 = 0) -> [[UInt8]] {
        let m = message(for: error, refusedKind: refusedKind, deviceID: deviceID, round: round)
        do {
            return try WireCodec().encode(m)
        } catch {
            preconditionFailure("ErrorReply: a clipped ERROR failed to encode: \(error)")
        }
    }

    /// Whether a refused message deserves a reply: its frame 0 is a SparseFleet envelope (any
    /// version) whose kind is not ERROR.
    public static func shouldReply(to frames: [[UInt8]]) -> Bool {
        guard let first = frames.first, first.count == Envelope.size, Array(first[0..<4]) == ProtocolID.magic else { return false }
        return first[6] != MessageKind.error.rawValue
    }

    /// The refused message's kind, when its envelope names a known one.
    static func refusedKind(of frames: [[UInt8]]) -> MessageKind? {
        guard let first = frames.first, first.count == Envelope.size else { return nil }
        return MessageKind(rawValue: first[6])
    }

    /// `s` cut to at most `bytes` UTF-8 bytes on a character boundary.
    static func clip(_ s: String, to bytes: Int) -> String {
        guard s.utf8.count > bytes else { return s }
        var out = ""
        for ch in s {
            if out.utf8.count + String(ch).utf8.count > bytes { break }
            out.append(ch)
        }
        return out
    }
}

extension WireCodec {
    /// Decodes `frames`, or returns the refusal together with the ERROR reply PROTOCOL.md §7
    /// requires (nil when the refused message was an ERROR or not SparseFleet at all).
    public func inbound(_ frames: [[UInt8]], schema: ModelSchema? = nil) -> Inbound {
        do {
            return .message(try decode(frames, schema: schema))
        } catch let error as WireError {
            let reply = ErrorReply.shouldReply(to: frames)
                ? ErrorReply.frames(for: error, refusedKind: ErrorReply.refusedKind(of: frames)) : nil
            return .refused(error, reply: reply)
        } catch {
            preconditionFailure("WireCodec.decode threw a non-WireError: \(error)")
        }
    }
}
