// The fault proxy's loop, run on its own thread: poll the frontend and every upstream DEALER,
// read what arrived, decide each message's faults, queue it in the FaultSchedule, send what is
// due, close idle upstreams, publish the counters. Every socket is non-blocking (timeouts 0), so
// a slow peer costs an undeliverable count, never a stalled proxy.
import Foundation

/// A direction and a connection: the unit in which messages keep their order.
struct ProxyStream: Hashable {
    let direction: ProxyDirection
    let identity: [UInt8]
}

/// The state of one running proxy, owned by its thread.
final class ProxyCore: @unchecked Sendable {
    private struct Upstream {
        let socket: ZmqSocket
        let key: String?
        var lastHeard: Int64
    }

    private let context: ZmqContext
    private let frontend: ZmqSocket
    private let options: FaultProxyOptions
    private let pairs: [String: CurveKeyPair]
    private var upstreams: [[UInt8]: Upstream] = [:]
    private var injector: FaultInjector
    private var schedule = FaultSchedule<ProxyStream, [[UInt8]]>()
    private var counts = ProxyCounters()

    private let lock = NSLock()
    private var published = ProxyCounters()
    private let stopper = LoopStopper()

    /// Messages read from one socket per loop turn before the others get theirs.
    static let burst = 256
    /// Longest poll wait, ms: how quickly `stop()` is noticed.
    static let pollMs = 20.0

    init(context: ZmqContext, frontend: ZmqSocket, options: FaultProxyOptions, pairs: [String: CurveKeyPair]) {
        self.context = context
        self.frontend = frontend
        self.options = options
        self.pairs = pairs
        injector = FaultInjector(plan: options.plan)
    }

    /// Non-blocking sends and receives, high-water marks and the message size cap.
    static func configure(_ s: ZmqSocket, options: FaultProxyOptions) throws {
        try s.setHighWaterMarks(send: options.highWaterMark, receive: options.highWaterMark)
        try s.setSendTimeout(milliseconds: 0)
        try s.setReceiveTimeout(milliseconds: 0)
        if let m = options.maxMessageBytes { try s.setMaxMessageSize(bytes: m) }
    }

    /// The counters as of the last loop turn.
    func snapshot() -> ProxyCounters { lock.withLock { published } }

    /// Asks the loop to end and waits for it; idempotent.
    func stop() { stopper.stop() }

    /// The loop; returns after `stop()` or a libzmq failure of the poll itself.
    func run() {
        defer {
            for u in upstreams.values { u.socket.close() }
            frontend.close()
            upstreams = [:]
            // Whatever still waits will never leave.
            counts.upstream.undeliverable += counts.upstream.waiting
            counts.downstream.undeliverable += counts.downstream.waiting
            counts.upstream.waiting = 0
            counts.downstream.waiting = 0
            _ = schedule.removeAll()
            publish()
            stopper.finished()
        }
        var lastSweep = MonotonicClock.nowMilliseconds()
        while !stopper.isStopping {
            let now = Self.now()
            let wait = schedule.nextTime.map { min(Self.pollMs, max(0, ($0 - now).rounded(.up))) } ?? Self.pollMs
            let identities = Array(upstreams.keys)
            let sockets = [frontend] + identities.map { upstreams[$0]!.socket }
            let ready: [Int]
            do { ready = try ZmqPoller.readable(sockets, milliseconds: Int(wait)) } catch {
                options.log?("fault proxy: poll failed (\(error)); the proxy stops")
                return
            }
            for i in ready {
                if i == 0 { readFrontend() } else { readUpstream(identities[i - 1]) }
            }
            sendDue()
            let ms = MonotonicClock.nowMilliseconds()
            if ms - lastSweep >= 1000 {
                closeIdle(now: ms)
                lastSweep = ms
            }
            publish()
        }
    }

    /// The loop's clock, ms.
    private static func now() -> Double { Double(MonotonicClock.nowMilliseconds()) }

    private func publish() {
        let c = counts
        lock.withLock { published = c }
    }

    /// Reads up to `burst` node messages and queues them upstream.
    private func readFrontend() {
        for _ in 0..<Self.burst {
            guard let m = try? frontend.receiveWithUserID(), m.frames.count >= 2 else { return }
            let frames = m.frames, identity = frames[0]
            let key = m.userID.isEmpty ? nil : m.userID
            guard upstream(for: identity, key: key) else {
                counts.upstream.received += 1
                counts.upstream.undeliverable += 1
                continue
            }
            accept(Array(frames.dropFirst()), stream: ProxyStream(direction: .upstream, identity: identity))
        }
    }

    /// Reads up to `burst` coordinator messages for `identity` and queues them downstream.
    private func readUpstream(_ identity: [UInt8]) {
        guard let u = upstreams[identity] else { return }
        for _ in 0..<Self.burst {
            guard let frames = try? u.socket.receive(), !frames.isEmpty else { return }
            accept(frames, stream: ProxyStream(direction: .downstream, identity: identity))
        }
    }

    /// Counts a message, decides its faults and queues its copies.
    private func accept(_ frames: [[UInt8]], stream: ProxyStream) {
        let d = stream.direction
        let decision = injector.decide(d)
        counts[d].received += 1
        if decision.drop {
            counts[d].dropped += 1
            return
        }
        if decision.duplicated { counts[d].duplicated += decision.copies - 1 }
        if decision.delayMs > 0 { counts[d].delayed += 1 }
        counts[d].waiting += decision.copies
        schedule.add(frames, stream: stream, decision: decision, rates: options.plan.rates(d), now: Self.now())
    }

    /// Sends every message whose time has come.
    private func sendDue() {
        for r in schedule.release(now: Self.now()) {
            let d = r.stream.direction
            counts[d].waiting -= 1
            if r.reordered { counts[d].reordered += 1 }
            do {
                switch d {
                case .upstream:
                    guard let u = upstreams[r.stream.identity] else { throw FaultProxyError("upstream gone") }
                    try u.socket.send(r.payload)
                case .downstream:
                    try frontend.send([r.stream.identity] + r.payload)
                }
                counts[d].forwarded += 1
                counts[d].forwardedBytes += r.payload.reduce(0) { $0 + $1.count }
            } catch {
                counts[d].undeliverable += 1
            }
        }
    }

    /// Makes sure an upstream DEALER exists for `identity` authenticated as `key`; false when none
    /// can be opened (no key pair for `key` under CURVE, or libzmq refused).
    private func upstream(for identity: [UInt8], key: String?) -> Bool {
        let now = MonotonicClock.nowMilliseconds()
        if var u = upstreams[identity], u.key == key {
            u.lastHeard = now
            upstreams[identity] = u
            return true
        }
        // A new routing identity, or one reused by a connection with another key.
        if let old = upstreams.removeValue(forKey: identity) { old.socket.close() }
        var pair: CurveKeyPair?
        if options.curve != nil {
            guard let key, let p = pairs[key] else {
                counts.refusedUnknownKey += 1
                options.log?("fault proxy: no key pair for the authenticated key \(key?.prefix(8) ?? "(none)")…; message not forwarded")
                return false
            }
            pair = p
        }
        do {
            let s = try ZmqSocket(context: context, type: .dealer)
            do {
                try s.setIdentity(identity)
                try Self.configure(s, options: options)
                if let curve = options.curve, let pair { try s.makeCurveClient(serverPublicKey: curve.coordinator.publicKey, keyPair: pair) }
                try s.connect(options.upstream)
            } catch {
                s.close()
                throw error
            }
            upstreams[identity] = Upstream(socket: s, key: key, lastHeard: now)
            counts.connectionsOpened += 1
            return true
        } catch {
            options.log?("fault proxy: cannot open an upstream connection to \(options.upstream): \(error)")
            return false
        }
    }

    /// Closes upstreams whose node has been silent for `idleUpstreamMs`.
    private func closeIdle(now: Int64) {
        for (identity, u) in upstreams where now - u.lastHeard > options.idleUpstreamMs {
            u.socket.close()
            upstreams[identity] = nil
            counts.connectionsClosedIdle += 1
        }
    }
}
