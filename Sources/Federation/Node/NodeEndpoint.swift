// How a node reaches the coordinator over ZeroMQ: one DEALER per connection attempt, CURVE
// client when configured. The routing identity is `name#attempt-nonce`: the nonce keeps a peer
// that connects first with a guessed identity from blocking the node (identity is proven by
// the CURVE key, never by the routing id).
import Foundation
import Transport
import Wire

/// Connectors for `NodeService.run(connect:)`.
public enum NodeEndpoint {
    /// DEALER sockets on `context` to `options.endpoint`.
    public static func zmq(context: ZmqContext, config: FederationConfig, options: NodeOptions) -> NodeConnector {
        { attempt in
            let s = try ZmqSocket(context: context, type: .dealer)
            try s.setIdentity(Array("\(options.name)#\(attempt)-\(String(UInt32.random(in: 0...UInt32.max), radix: 16))".utf8))
            try s.setHighWaterMarks(send: 1000, receive: 1000)
            // A DEALER whose connection is gone (e.g. refused by ZAP) would block sends forever.
            try s.setSendTimeout(milliseconds: 2000)
            try s.setMaxMessageSize(bytes: WireLimits.default.maxMessageBytes)
            if let curve = config.curve {
                guard let pair = options.keyPair else {
                    throw ConfigError.invalid(path: "curve", reason: "the configuration asks for CURVE; give this node its key file with --key-file")
                }
                try s.makeCurveClient(serverPublicKey: curve.serverPublicKey, keyPair: pair)
            }
            try s.connect(options.endpoint)
            return s
        }
    }
}
