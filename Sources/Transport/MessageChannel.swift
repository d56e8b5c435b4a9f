// The interface protocol logic talks to: a multipart message pipe. ZmqSocket implements it
// over libzmq; InMemoryNetwork implements it in process, for deterministic tests.

/// A socket-like endpoint that sends and receives whole multipart messages.
/// A ROUTER-like channel prefixes received messages with the sender's identity and routes
/// sent messages by their first frame; a DEALER-like one sends and receives bare frames.
public protocol MessageChannel: AnyObject {
    /// Sends one multipart message (at least one frame).
    func send(_ frames: [[UInt8]]) throws
    /// Receives one multipart message, waiting up to `timeoutMilliseconds` (-1: forever,
    /// 0: do not wait); nil when none arrived in time.
    func receive(timeoutMilliseconds: Int) throws -> [[UInt8]]?
    /// Waits up to `milliseconds` for an inbound message without taking it; true when one is ready.
    func poll(milliseconds: Int) throws -> Bool
    /// Like `receive`, with the sender's authenticated public key (Z85) when the transport
    /// authenticates peers (CURVE with the ZAP allow list), nil otherwise.
    func receiveAuthenticated(timeoutMilliseconds: Int) throws -> InboundMessage?
    /// Closes the channel; further sends fail.
    func close()
}

/// One received multipart message and who sent it.
public struct InboundMessage: Sendable {
    /// The frames (a ROUTER-like channel puts the routing identity first).
    public var frames: [[UInt8]]
    /// The sender's authenticated CURVE public key (Z85), or nil when unauthenticated.
    public var peerKey: String?

    /// A message from `peerKey`.
    public init(frames: [[UInt8]], peerKey: String?) { self.frames = frames; self.peerKey = peerKey }
}

extension MessageChannel {
    /// Unauthenticated transports: the frames, no key.
    public func receiveAuthenticated(timeoutMilliseconds: Int) throws -> InboundMessage? {
        try receive(timeoutMilliseconds: timeoutMilliseconds).map { InboundMessage(frames: $0, peerKey: nil) }
    }
}

/// Failures of a transport that are not libzmq errors.
public enum TransportError: Error, Equatable, CustomStringConvertible {
    /// The peer's queue is at its high-water mark; the message was not sent.
    case queueFull(peer: String)
    /// The channel was closed.
    case closed

    /// What went wrong and what to do.
    public var description: String {
        switch self {
        case let .queueFull(peer):
            return "queue to \(peer) is full (high-water mark reached); the peer is too slow, retry later"
        case .closed: return "the channel is closed"
        }
    }
}

extension ZmqSocket: MessageChannel {
    /// Receives one message if one arrives within `timeoutMilliseconds`; nil otherwise.
    public func receive(timeoutMilliseconds: Int) throws -> [[UInt8]]? {
        guard try poll(milliseconds: timeoutMilliseconds) else { return nil }
        return try receive()
    }

    /// Receives one message with the ZAP handler's User-Id for its connection (the client's
    /// CURVE public key, see ZapAuthenticator); nil key on a socket without ZAP.
    public func receiveAuthenticated(timeoutMilliseconds: Int) throws -> InboundMessage? {
        guard try poll(milliseconds: timeoutMilliseconds) else { return nil }
        let (frames, user) = try receiveWithUserID()
        return InboundMessage(frames: frames, peerKey: user.isEmpty ? nil : user)
    }
}
