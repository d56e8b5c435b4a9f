// The coordinator's side of the transport: the channel it receives on and sends through, and
// whether that channel authenticates peers. `bind` makes the production one (a ZeroMQ ROUTER,
// CURVE server + ZAP allow list when configured, with the per-peer bounds of CoordinatorLimits);
// tests pass an InMemoryRouter.
import Foundation
import Transport
import Wire

/// Per-connection resource bounds of the coordinator (PROTOCOL.md §10).
public struct CoordinatorLimits: Sendable, CustomStringConvertible {
    /// Inbound messages queued per connection (ZMQ_RCVHWM); a peer past it waits (it is its memory, not ours).
    public var queueDepth = 64
    /// Largest inbound message (ZMQ_MAXMSGSIZE): the biggest UPDATE the model allows (every value
    /// in f32 with every channel index), plus the header limit; a larger one drops the connection.
    public var maxMessageBytes: Int
    /// Refusals answered with ERROR per connection per round; after them the connection's
    /// messages are ignored undecoded until the next round.
    public var maxRepliesPerPeer = 64

    /// The bounds for a model with `schema`.
    public init(schema: ModelSchema) {
        let indexBytes = schema.tensors.reduce(0) { $0 + 4 * $1.channelCount + 64 }
        maxMessageBytes = min(WireLimits.default.maxMessageBytes, schema.denseF32Bytes + indexBytes + WireLimits.default.maxHeaderBytes + 64)
    }

    /// Inbound memory one connection can hold at most.
    public var bytesPerPeer: Int { queueDepth * maxMessageBytes }

    /// "64 messages × 1.2 MiB = 77 MiB inbound per connection".
    public var description: String {
        func mib(_ b: Int) -> String { String(format: "%.1f MiB", Double(b) / 1_048_576) }
        return "\(queueDepth) messages × \(mib(maxMessageBytes)) = \(mib(bytesPerPeer)) inbound per connection"
    }
}

/// The channel a coordinator runs on.
public final class CoordinatorEndpoint {
    /// Where messages come from and go to (ROUTER-like: identity frame first).
    public let channel: MessageChannel
    /// The bound address, for logs.
    public let address: String
    /// The ZAP handler, when the channel is a CURVE server.
    let zap: ZapAuthenticator?

    /// An endpoint over `channel` (e.g. an InMemoryRouter).
    public init(channel: MessageChannel, address: String = "in-memory") {
        self.channel = channel; self.address = address; zap = nil
    }

    private init(socket: ZmqSocket, zap: ZapAuthenticator?) {
        channel = socket; address = socket.lastEndpoint; self.zap = zap
    }

    /// Binds a ROUTER on `options.endpoint`; with `config.curve`, a CURVE server whose ZAP
    /// handler admits only the allow list's keys.
    public static func bind(config: FederationConfig, options: CoordinatorOptions, limits: CoordinatorLimits) throws -> CoordinatorEndpoint {
        let context = try ZmqContext()
        let router = try ZmqSocket(context: context, type: .router)
        try router.setHighWaterMarks(send: 1000, receive: limits.queueDepth)
        try router.setMaxMessageSize(bytes: limits.maxMessageBytes)
        var zap: ZapAuthenticator?
        if let curve = config.curve {
            guard let pair = options.keyPair else {
                throw ConfigError.invalid(path: "curve", reason: "the configuration asks for CURVE; give the coordinator its key file with --key-file")
            }
            guard pair.publicKey == curve.serverPublicKey else {
                throw ConfigError.invalid(path: "curve.serverPublicKey", reason: "does not match the coordinator's key file; nodes would never get through")
            }
            zap = try ZapAuthenticator(context: context, allowedClientKeys: Set(curve.clientPublicKeys))
            try router.makeCurveServer(secretKey: pair.secretKey)
        }
        try router.bind(options.endpoint)
        return CoordinatorEndpoint(socket: router, zap: zap)
    }

    /// Closes the channel and stops the ZAP handler.
    public func close() {
        channel.close()
        zap?.stop()
    }
}
