// An in-process stand-in for one ROUTER endpoint and its DEALER peers, with the same
// MessageChannel interface, so protocol logic can be tested deterministically and fast.
// Semantics follow libzmq: a ROUTER prefixes the sender's identity on receive and routes by
// the first frame on send, dropping messages to unknown or full peers; a DEALER's send to a
// full queue fails (with libzmq it would block until SNDTIMEO).
import Foundation

/// One in-memory "bound endpoint": a router and any number of dealers connected to it.
public final class InMemoryNetwork: @unchecked Sendable {
    /// Messages a queue holds before it is full (per peer, per direction).
    public let highWaterMark: Int
    let condition = NSCondition()
    var toRouter: [(identity: [UInt8], frames: [[UInt8]])] = []
    var pendingFrom: [[UInt8]: Int] = [:]
    var toDealer: [[UInt8]: [[[UInt8]]]] = [:]
    var keys: [[UInt8]: String] = [:]

    /// A network whose queues hold at most `highWaterMark` messages per peer.
    public init(highWaterMark: Int = 1000) {
        precondition(highWaterMark >= 1, "InMemoryNetwork: high-water mark must be at least 1")
        self.highWaterMark = highWaterMark
    }

    /// The router end (the coordinator's side).
    public func router() -> InMemoryRouter { InMemoryRouter(network: self) }

    /// A dealer connected with routing `identity` (a node's side); identities must be unique
    /// among connected dealers. `key` stands for the CURVE public key ZAP authenticated: the
    /// router reports it with every message of this dealer (nil: unauthenticated).
    public func dealer(identity: [UInt8], key: String? = nil) -> InMemoryDealer {
        condition.lock()
        defer { condition.unlock() }
        precondition(toDealer[identity] == nil, "InMemoryNetwork: identity \(identity) is already connected")
        toDealer[identity] = []
        keys[identity] = key
        return InMemoryDealer(network: self, identity: identity)
    }

    /// Whether a dealer with `identity` is connected now.
    public func isConnected(_ identity: [UInt8]) -> Bool {
        condition.lock()
        defer { condition.unlock() }
        return toDealer[identity] != nil
    }

    /// Waits until `ready()` holds or the timeout passes; called with the lock held.
    func wait(timeoutMilliseconds: Int, until ready: () -> Bool) -> Bool {
        if ready() { return true }
        if timeoutMilliseconds == 0 { return false }
        let deadline =
            timeoutMilliseconds < 0
            ? Date.distantFuture : Date(timeIntervalSinceNow: Double(timeoutMilliseconds) / 1000)
        while !ready() {
            if !condition.wait(until: deadline) { return ready() }
        }
        return true
    }
}

/// The router end of an `InMemoryNetwork`.
public final class InMemoryRouter: MessageChannel {
    private let network: InMemoryNetwork

    init(network: InMemoryNetwork) { self.network = network }

    /// Routes `[identity, frames...]` to that dealer; silently dropped if unknown or full.
    public func send(_ frames: [[UInt8]]) throws {
        precondition(frames.count >= 2, "InMemoryRouter.send: needs an identity frame and at least one more")
        network.condition.lock()
        defer { network.condition.unlock() }
        let identity = frames[0]
        guard let queue = network.toDealer[identity], queue.count < network.highWaterMark else { return }
        network.toDealer[identity]!.append(Array(frames.dropFirst()))
        network.condition.broadcast()
    }

    /// The next message as `[identity, frames...]`, or nil after the timeout.
    public func receive(timeoutMilliseconds: Int) throws -> [[UInt8]]? {
        try receiveAuthenticated(timeoutMilliseconds: timeoutMilliseconds)?.frames
    }

    /// The next message with the sending dealer's key, or nil after the timeout.
    public func receiveAuthenticated(timeoutMilliseconds: Int) throws -> InboundMessage? {
        network.condition.lock()
        defer { network.condition.unlock() }
        guard network.wait(timeoutMilliseconds: timeoutMilliseconds, until: { !network.toRouter.isEmpty }) else {
            return nil
        }
        let (identity, frames) = network.toRouter.removeFirst()
        network.pendingFrom[identity, default: 1] -= 1
        network.condition.broadcast()
        return InboundMessage(frames: [identity] + frames, peerKey: network.keys[identity])
    }

    /// The router end stays open as long as the network lives.
    public func close() {}

    /// Whether a message is waiting (after up to `milliseconds`).
    public func poll(milliseconds: Int) throws -> Bool {
        network.condition.lock()
        defer { network.condition.unlock() }
        return network.wait(timeoutMilliseconds: milliseconds, until: { !network.toRouter.isEmpty })
    }
}

/// A dealer end of an `InMemoryNetwork`.
public final class InMemoryDealer: MessageChannel {
    private let network: InMemoryNetwork
    /// The routing identity the router sees.
    public let identity: [UInt8]
    private var closed = false

    init(network: InMemoryNetwork, identity: [UInt8]) {
        self.network = network
        self.identity = identity
    }

    /// Queues `frames` for the router; throws `queueFull` at the high-water mark.
    public func send(_ frames: [[UInt8]]) throws {
        precondition(!frames.isEmpty, "InMemoryDealer.send: a message needs at least one frame")
        network.condition.lock()
        defer { network.condition.unlock() }
        guard !closed else { throw TransportError.closed }
        guard network.pendingFrom[identity, default: 0] < network.highWaterMark else {
            throw TransportError.queueFull(peer: "router")
        }
        network.pendingFrom[identity, default: 0] += 1
        network.toRouter.append((identity, frames))
        network.condition.broadcast()
    }

    /// The next message from the router, or nil after the timeout.
    public func receive(timeoutMilliseconds: Int) throws -> [[UInt8]]? {
        network.condition.lock()
        defer { network.condition.unlock() }
        guard !closed else { throw TransportError.closed }
        guard
            network.wait(
                timeoutMilliseconds: timeoutMilliseconds, until: { !(network.toDealer[identity]?.isEmpty ?? true) })
        else { return nil }
        return network.toDealer[identity]!.removeFirst()
    }

    /// Whether a message is waiting (after up to `milliseconds`).
    public func poll(milliseconds: Int) throws -> Bool {
        network.condition.lock()
        defer { network.condition.unlock() }
        return network.wait(
            timeoutMilliseconds: milliseconds, until: { !(network.toDealer[identity]?.isEmpty ?? true) })
    }

    /// Disconnects: the router's messages to this identity are dropped from now on.
    public func close() {
        network.condition.lock()
        defer { network.condition.unlock() }
        closed = true
        network.toDealer[identity] = nil
        network.condition.broadcast()
    }
}
