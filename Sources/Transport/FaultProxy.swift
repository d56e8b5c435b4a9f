// A fault-injecting ZeroMQ proxy between nodes and a coordinator, on its own thread. Nodes
// connect their DEALERs to its ROUTER frontend; for each distinct frontend routing identity it
// opens one DEALER to the coordinator with that same routing identity, so the coordinator still
// sees one connection per node and its replies route back. Whole multipart messages are
// forwarded both ways through a FaultInjector (drop, duplicate, delay, reorder; seeded) and a
// FaultSchedule, and counted (ProxyCounters). It knows nothing of the messages' contents.
//
// With CURVE the proxy terminates it: the frontend is a CURVE server with the coordinator's key
// pair and its own ZAP allow list (the nodes' public keys), and each upstream DEALER is a CURVE
// client with the key pair of the node whose key ZAP authenticated on the frontend, so the
// coordinator still authenticates every node by its own key. It therefore needs every node's
// secret key: it is a test instrument for runs whose keys one operator holds.
import CZmq
import Foundation

/// The proxy's CURVE keys.
public struct FaultProxyCurve: Sendable {
    /// The coordinator's key pair: the frontend serves with it; upstreams expect its public key.
    public var coordinator: CurveKeyPair
    /// Every node's key pair: the frontend admits exactly these public keys and connects upstream
    /// with the pair whose public key the node authenticated with.
    public var nodes: [CurveKeyPair]

    /// Keys for a proxy in front of the coordinator with `coordinator`'s pair.
    public init(coordinator: CurveKeyPair, nodes: [CurveKeyPair]) { self.coordinator = coordinator; self.nodes = nodes }
}

/// How a proxy is set up.
public struct FaultProxyOptions: Sendable {
    /// Endpoint the frontend binds, where nodes connect (e.g. `tcp://127.0.0.1:*`).
    public var bind: String
    /// The coordinator's endpoint, where upstream DEALERs connect.
    public var upstream: String
    /// The faults and their seed.
    public var plan: FaultPlan
    /// CURVE keys; nil for plain tcp/ipc.
    public var curve: FaultProxyCurve?
    /// Queued messages per connection and direction (ZMQ_SNDHWM/RCVHWM).
    public var highWaterMark = 1000
    /// Largest inbound message frame (ZMQ_MAXMSGSIZE); nil: no limit (the coordinator keeps its own).
    public var maxMessageBytes: Int? = nil
    /// An upstream connection whose node sent nothing for this long is closed (a node that
    /// reconnected uses a new routing identity, so its old connection would linger).
    public var idleUpstreamMs: Int64 = 120_000
    /// Receives a line for notable events (an upstream that cannot be opened, an unknown key).
    public var log: (@Sendable (String) -> Void)? = nil

    /// Options for a proxy from `bind` to `upstream` applying `plan`.
    public init(bind: String, upstream: String, plan: FaultPlan, curve: FaultProxyCurve? = nil) {
        self.bind = bind; self.upstream = upstream; self.plan = plan; self.curve = curve
    }
}

/// Why a proxy could not start.
public struct FaultProxyError: Error, Equatable, CustomStringConvertible {
    /// What is wrong and how to fix it.
    public var description: String
    /// An error with its message.
    public init(_ description: String) { self.description = description }
}

/// A running fault proxy. `stop()` (or deinit) ends its thread and closes its sockets.
public final class FaultProxy: @unchecked Sendable {
    /// The frontend's bound endpoint (a `*` port resolved), where nodes connect.
    public let endpoint: String
    /// The coordinator's endpoint, where the upstream connections go.
    public let upstream: String
    private let core: ProxyCore
    private let zap: ZapAuthenticator?

    /// Binds the frontend and starts forwarding on a new thread.
    public init(options: FaultProxyOptions) throws {
        try options.plan.validate()
        for (role, e) in [("bind", options.bind), ("upstream", options.upstream)] {
            if let problem = Endpoint.problem(with: e) { throw FaultProxyError("fault proxy \(role): \(problem)") }
        }
        var pairs: [String: CurveKeyPair] = [:]
        for p in options.curve?.nodes ?? [] {
            guard pairs.updateValue(p, forKey: p.publicKey) == nil else {
                throw FaultProxyError("fault proxy: two nodes share the public key \(p.publicKey.prefix(8))…; give every node its own key pair (`fleet keys`)")
            }
        }
        let context = try ZmqContext()
        var zap: ZapAuthenticator?
        let frontend = try ZmqSocket(context: context, type: .router)
        do {
            try frontend.setOption(ZMQ_ROUTER_MANDATORY, Int32(1))  // an unroutable reply is counted, not lost silently
            try ProxyCore.configure(frontend, options: options)
            if let curve = options.curve {
                zap = try ZapAuthenticator(context: context, allowedClientKeys: Set(pairs.keys))
                try frontend.makeCurveServer(secretKey: curve.coordinator.secretKey)
            }
            try frontend.bind(options.bind)
        } catch {
            frontend.close()
            zap?.stop()
            throw error
        }
        endpoint = frontend.lastEndpoint
        upstream = options.upstream
        self.zap = zap
        let core = ProxyCore(context: context, frontend: frontend, options: options, pairs: pairs)
        self.core = core
        let thread = Thread { core.run() }  // the thread owns the sockets until it finishes
        thread.name = "sparsefleet-fault-proxy"
        thread.start()
    }

    deinit { stop() }

    /// What the proxy has done so far (consistent: one loop iteration's state).
    public var counters: ProxyCounters { core.snapshot() }

    /// Stops forwarding (messages still waiting count as undeliverable), closes every socket and
    /// the ZAP handler; idempotent.
    public func stop() {
        core.stop()
        zap?.stop()
    }
}
