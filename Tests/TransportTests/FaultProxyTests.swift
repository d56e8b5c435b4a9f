// The fault proxy with real sockets: a ROUTER (the coordinator's side) and DEALERs (nodes)
// through it, plain and with CURVE + ZAP (the far side sees each node's own key as User-Id);
// pass-through, drop everything, duplicate everything, reorder without loss, and the poller.
import Foundation
import XCTest

@testable import Transport

final class FaultProxyTests: XCTestCase {
    /// Waits (up to a generous bound, never asserted as a time) until `condition` holds.
    func eventually(_ what: String, _ condition: () throws -> Bool) rethrows {
        let until = Date().addingTimeInterval(15)
        while Date() < until {
            if try condition() { return }
            usleep(5_000)
        }
        XCTFail("timed out waiting for \(what)")
    }

    /// A plain ROUTER on loopback (the coordinator's side).
    func router(_ context: ZmqContext) throws -> ZmqSocket {
        let r = try ZmqSocket(context: context, type: .router)
        try r.bind("tcp://127.0.0.1:*")
        return r
    }

    /// A DEALER connected to `endpoint` with routing identity `identity`.
    func dealer(_ context: ZmqContext, _ endpoint: String, _ identity: String, curve: (String, CurveKeyPair)? = nil) throws -> ZmqSocket {
        let d = try ZmqSocket(context: context, type: .dealer)
        try d.setIdentity(Array(identity.utf8))
        if let (server, pair) = curve { try d.makeCurveClient(serverPublicKey: server, keyPair: pair) }
        try d.connect(endpoint)
        return d
    }

    /// `n` messages from `r`, each within the receive wait.
    func receive(_ r: ZmqSocket, _ n: Int) throws -> [[[UInt8]]] {
        try (0..<n).map { i in try XCTUnwrap(try r.receive(timeoutMilliseconds: 10_000), "message \(i) of \(n)") }
    }

    func message(_ i: Int) -> [[UInt8]] { [Array("m".utf8), withUnsafeBytes(of: UInt32(i).littleEndian, Array.init)] }

    func index(_ frames: [[UInt8]]) -> Int { Int(frames.last!.withUnsafeBytes { $0.loadUnaligned(as: UInt32.self) }) }

    func testPassThroughKeepsIdentitiesOrderAndRepliesRouteBack() throws {
        let context = try ZmqContext()
        let coordinator = try router(context)
        let proxy = try FaultProxy(options: FaultProxyOptions(bind: "tcp://127.0.0.1:*", upstream: coordinator.lastEndpoint, plan: .passThrough()))
        defer { proxy.stop() }
        let a = try dealer(context, proxy.endpoint, "node-a#0"), b = try dealer(context, proxy.endpoint, "node-b#0")
        for i in 0..<20 { try a.send(message(i)) }
        try b.send([Array("from b".utf8), Array(repeating: 7, count: 200_000)])
        let got = try receive(coordinator, 21)
        let fromA = got.filter { $0[0] == Array("node-a#0".utf8) }
        XCTAssertEqual(fromA.map { index(Array($0.dropFirst())) }, Array(0..<20), "one connection per node, in order")
        let fromB = try XCTUnwrap(got.first { $0[0] == Array("node-b#0".utf8) })
        XCTAssertEqual(fromB[2].count, 200_000)

        try coordinator.send([Array("node-b#0".utf8), Array("reply".utf8)])
        try coordinator.send([Array("node-a#0".utf8), Array("hello a".utf8)])
        XCTAssertEqual(try a.receive(timeoutMilliseconds: 10_000), [Array("hello a".utf8)])
        XCTAssertEqual(try b.receive(timeoutMilliseconds: 10_000), [Array("reply".utf8)])
        try eventually("counters") { proxy.counters.downstream.forwarded == 2 }
        let c = proxy.counters
        XCTAssertEqual(c.upstream.received, 21)
        XCTAssertEqual(c.upstream.forwarded, 21)
        XCTAssertEqual(c.connectionsOpened, 2)
        XCTAssertEqual(c.total.dropped + c.total.duplicated + c.total.reordered + c.total.delayed, 0)
        XCTAssertTrue(c.upstream.balanced && c.downstream.balanced, "\(c)")
    }

    func testDropOneDropsEverything() throws {
        let context = try ZmqContext()
        let coordinator = try router(context)
        let plan = FaultPlan(seed: 3, upstream: FaultRates(dropProbability: 1), downstream: .none)
        let proxy = try FaultProxy(options: FaultProxyOptions(bind: "tcp://127.0.0.1:*", upstream: coordinator.lastEndpoint, plan: plan))
        defer { proxy.stop() }
        let a = try dealer(context, proxy.endpoint, "node-a#0")
        for i in 0..<50 { try a.send(message(i)) }
        try eventually("50 messages read") { proxy.counters.upstream.received == 50 }
        let c = proxy.counters.upstream
        XCTAssertEqual(c.dropped, 50)
        XCTAssertEqual(c.forwarded, 0)
        XCTAssertTrue(c.balanced)
        XCTAssertNil(try coordinator.receive(timeoutMilliseconds: 50), "nothing was forwarded")
    }

    func testDuplicateOneDoublesEveryMessage() throws {
        let context = try ZmqContext()
        let coordinator = try router(context)
        let plan = FaultPlan(seed: 4, both: FaultRates(duplicateProbability: 1))
        let proxy = try FaultProxy(options: FaultProxyOptions(bind: "tcp://127.0.0.1:*", upstream: coordinator.lastEndpoint, plan: plan))
        defer { proxy.stop() }
        let a = try dealer(context, proxy.endpoint, "node-a#0")
        for i in 0..<30 { try a.send(message(i)) }
        let got = try receive(coordinator, 60)
        XCTAssertEqual(got.map { index(Array($0.dropFirst())) }, (0..<30).flatMap { [$0, $0] }, "each copy right after its original")
        try coordinator.send([Array("node-a#0".utf8), Array("once".utf8)])
        XCTAssertEqual(try receive(a, 2), [[Array("once".utf8)], [Array("once".utf8)]])
        try eventually("counters") { proxy.counters.downstream.forwarded == 2 }
        let c = proxy.counters
        XCTAssertEqual(c.upstream.duplicated, 30)
        XCTAssertEqual(c.upstream.forwarded, 60)
        XCTAssertEqual(c.downstream.duplicated, 1)
        XCTAssertTrue(c.upstream.balanced && c.downstream.balanced)
    }

    func testReorderChangesTheOrderButLosesNothing() throws {
        let context = try ZmqContext()
        let coordinator = try router(context)
        let plan = FaultPlan(seed: 11, both: FaultRates(reorderProbability: 0.4, reorderDepth: 2, reorderMaxHoldMs: 1000))
        let proxy = try FaultProxy(options: FaultProxyOptions(bind: "tcp://127.0.0.1:*", upstream: coordinator.lastEndpoint, plan: plan))
        defer { proxy.stop() }
        let a = try dealer(context, proxy.endpoint, "node-a#0")
        for i in 0..<100 { try a.send(message(i)) }
        let order = try receive(coordinator, 100).map { index(Array($0.dropFirst())) }
        XCTAssertEqual(order.sorted(), Array(0..<100), "every message arrives once")
        XCTAssertNotEqual(order, Array(0..<100), "some were overtaken")
        try eventually("counters") { proxy.counters.upstream.forwarded == 100 }
        let c = proxy.counters.upstream
        XCTAssertGreaterThan(c.reordered, 0)
        XCTAssertEqual(c.dropped + c.duplicated, 0)
        XCTAssertTrue(c.balanced)
    }

    func testDelayedMessagesStillArriveInOrder() throws {
        let context = try ZmqContext()
        let coordinator = try router(context)
        let plan = FaultPlan(seed: 12, both: FaultRates(latencyMs: 5, jitterMs: 20))
        let proxy = try FaultProxy(options: FaultProxyOptions(bind: "tcp://127.0.0.1:*", upstream: coordinator.lastEndpoint, plan: plan))
        defer { proxy.stop() }
        let a = try dealer(context, proxy.endpoint, "node-a#0")
        for i in 0..<40 { try a.send(message(i)) }
        XCTAssertEqual(try receive(coordinator, 40).map { index(Array($0.dropFirst())) }, Array(0..<40))
        XCTAssertEqual(proxy.counters.upstream.delayed, 40)
    }

    func testCurveTerminatesAndEachNodeReachesTheCoordinatorWithItsOwnKey() throws {
        let server = try Curve.keypair(), nodeA = try Curve.keypair(), nodeB = try Curve.keypair(), stranger = try Curve.keypair()
        // The coordinator: its own context, CURVE server, ZAP admitting the two nodes.
        let coordinatorContext = try ZmqContext()
        let zap = try ZapAuthenticator(context: coordinatorContext, allowedClientKeys: [nodeA.publicKey, nodeB.publicKey])
        defer { zap.stop() }
        let coordinator = try ZmqSocket(context: coordinatorContext, type: .router)
        try coordinator.makeCurveServer(secretKey: server.secretKey)
        try coordinator.bind("tcp://127.0.0.1:*")

        var options = FaultProxyOptions(bind: "tcp://127.0.0.1:*", upstream: coordinator.lastEndpoint,
                                        plan: FaultPlan(seed: 1, both: FaultRates(duplicateProbability: 1)))
        options.curve = FaultProxyCurve(coordinator: server, nodes: [nodeA, nodeB])
        let proxy = try FaultProxy(options: options)
        defer { proxy.stop() }

        // Nodes: CURVE clients of the coordinator's public key, connected to the proxy.
        let nodes = try ZmqContext()
        let a = try dealer(nodes, proxy.endpoint, "node-a#0", curve: (server.publicKey, nodeA))
        let b = try dealer(nodes, proxy.endpoint, "node-b#0", curve: (server.publicKey, nodeB))
        let intruder = try dealer(nodes, proxy.endpoint, "node-a#1", curve: (server.publicKey, stranger))
        try intruder.setSendTimeout(milliseconds: 100)
        try? intruder.send([Array("let me in".utf8)])
        try a.send([Array("from a".utf8)])
        try b.send([Array("from b".utf8)])

        var seen: [String: [String]] = [:]
        for _ in 0..<4 {
            let m = try XCTUnwrap(try coordinator.receiveAuthenticated(timeoutMilliseconds: 10_000))
            seen[String(decoding: m.frames[0], as: UTF8.self), default: []].append(m.peerKey ?? "(none)")
            XCTAssertNotEqual(m.frames[1], Array("let me in".utf8))
        }
        XCTAssertEqual(seen["node-a#0"], [nodeA.publicKey, nodeA.publicKey], "the coordinator sees node a's own key")
        XCTAssertEqual(seen["node-b#0"], [nodeB.publicKey, nodeB.publicKey])
        XCTAssertNil(seen["node-a#1"])

        try coordinator.send([Array("node-b#0".utf8), Array("hello b".utf8)])
        XCTAssertEqual(try b.receive(timeoutMilliseconds: 10_000), [Array("hello b".utf8)])
        XCTAssertEqual(zap.refusedCount, 0, "only the proxy meets the stranger")
        XCTAssertEqual(proxy.counters.connectionsOpened, 2)
    }

    func testBadOptionsAreRefusedWithTheFix() {
        XCTAssertThrowsError(try FaultProxy(options: FaultProxyOptions(bind: "tcp://127.0.0.1", upstream: "tcp://127.0.0.1:1", plan: .passThrough()))) {
            XCTAssertTrue("\($0)".contains("host and port"), "\($0)")
        }
        XCTAssertThrowsError(try FaultProxy(options: FaultProxyOptions(bind: "tcp://127.0.0.1:*", upstream: "tcp://127.0.0.1:1",
                                                                       plan: FaultPlan(seed: 0, both: FaultRates(dropProbability: 2))))) {
            XCTAssertTrue("\($0)".contains("dropProbability"), "\($0)")
        }
    }

    func testPollerReportsTheReadySockets() throws {
        let context = try ZmqContext()
        let r1 = try router(context), r2 = try router(context)
        let d = try dealer(context, r2.lastEndpoint, "x")
        XCTAssertEqual(try ZmqPoller.readable([r1, r2], milliseconds: 0), [])
        try d.send([Array("ping".utf8)])
        var ready: [Int] = []
        try eventually("r2 readable") {
            ready = try ZmqPoller.readable([r1, r2], milliseconds: 100)
            return !ready.isEmpty
        }
        XCTAssertEqual(ready, [1])
        XCTAssertEqual(try ZmqPoller.readable([], milliseconds: 0), [])
    }
}
