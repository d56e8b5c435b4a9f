// Issue 11's attacks, each against the real coordinator and real nodes in process (over the
// in-memory transport, where keys stand for what CURVE + ZAP authenticated). Every test checks
// that the attack was refused, that the honest devices still reported, that the final model is
// bitwise equal to a run without the attacker, and that the run ended with its summary.json.
@testable import Federation
import Foundation
import Transport
import Wire
import XCTest

final class HostilePeerTests: XCTestCase {
    /// Runs the fleet with `rogue` playing the rogue node (listed key, device dev-9), then
    /// checks the four guarantees; returns the fleet and the rogue for further checks.
    @discardableResult
    func attack(_ name: String, config: FederationConfig = InProcessFleet.config(), honestEqualsControl: Bool = true,
                rogue setUp: (InProcessFleet) throws -> RawPeer, answer: @escaping (RawPeer, WireMessage) throws -> [WireMessage],
                file: StaticString = #filePath, line: UInt = #line) throws -> (InProcessFleet, RawPeer) {
        let fleet = try InProcessFleet(name, config: config)
        fleet.startCoordinator()
        let rogue = try setUp(fleet)
        let served = rogue.serveInBackground(answer: answer)
        try fleet.startHonestNodes()
        let summary = try fleet.wait(file: file, line: line)
        _ = served.wait(timeout: .now() + 10)
        XCTAssertEqual(summary.rounds, config.rounds.count, file: file, line: line)
        XCTAssertEqual(try fleet.writtenSummary().rounds, config.rounds.count, "summary.json is written", file: file, line: line)
        for m in try fleet.metrics() {
            XCTAssertEqual(Set(m.reporting).intersection(["dev-0", "dev-1", "dev-2"]), ["dev-0", "dev-1", "dev-2"],
                           "round \(m.round): every honest device reported", file: file, line: line)
            XCTAssertFalse(m.reporting.contains(InProcessFleet.rogueDevice), "round \(m.round): the attack was not aggregated", file: file, line: line)
        }
        if honestEqualsControl {
            XCTAssertTrue(fleet.model == (try InProcessFleet.control(config)), "final model bitwise equal to the run without the attacker", file: file, line: line)
        }
        return (fleet, rogue)
    }

    /// The rogue node: joins with its own listed key as itself.
    func rogueNode(_ fleet: InProcessFleet) throws -> RawPeer {
        let p = RawPeer(fleet, identity: "rogue#0", key: InProcessFleet.key("rogue"))
        try p.join(node: "rogue", devices: [InProcessFleet.rogueDevice])
        return p
    }

    /// Answers every TASK with `update(task)`.
    func onTask(_ update: @escaping (RawPeer, PBTask) -> WireMessage) -> (RawPeer, WireMessage) throws -> [WireMessage] {
        { peer, m in
            guard case let .task(t) = m else { return [] }
            return [update(peer, t)]
        }
    }

    func codes(_ p: RawPeer) -> [PBErrorCode] { p.errors.map(\.code) }

    /// The rogue declines every TASK with an ERROR (so rounds need not wait for the deadline).
    let decline = InProcessFleet.decline

    func testHugeFiniteDeltaIsRefusedByTheNormBound() throws {
        let (_, rogue) = try attack("huge", rogue: rogueNode, answer: onTask { p, t in p.update(for: t, value: 1e30) })
        XCTAssertTrue(codes(rogue).contains(.outOfRange), "\(codes(rogue))")
        XCTAssertTrue(rogue.errors.contains { $0.message.contains("maxUpdateNorm") }, "the refusal names the bound")
    }

    func testClaimedSampleCountNeverWeighsAnUpdate() throws {
        // delta = target − w with a claimed weight of 2³¹: the attacker's weights would be the model.
        let (_, rogue) = try attack("count", rogue: rogueNode, answer: onTask { p, t in
            p.update(for: t, value: 0, sampleCount: 1 << 31) { base, _ in base.map { 50 - $0 } }
        })
        XCTAssertTrue(codes(rogue).contains(.outOfRange), "\(codes(rogue))")
    }

    func testOverflowingDeltasInTwoRoundsNeverReachTheModel() throws {
        let (fleet, rogue) = try attack("overflow", rogue: rogueNode, answer: onTask { p, t in p.update(for: t, value: 3e38) })
        XCTAssertEqual(codes(rogue).filter { $0 == .outOfRange }.count, 2, "refused in both rounds")
        XCTAssertTrue(fleet.model.allSatisfy { $0.allSatisfy(\.isFinite) })
    }

    func testNonFiniteAndOutOfRangeMetricsAreRefusedAndTheSummaryIsWritten() throws {
        let (fleet, rogue) = try attack("metrics", rogue: rogueNode, answer: { p, m in
            var bad = PBMetrics()
            bad.deviceID = InProcessFleet.rogueDevice
            switch m {
            case let .task(t):
                bad.round = t.round
                bad.values = [MetricKey.personalAfter: .infinity, MetricKey.personalBefore: 7]
                return [.metrics(bad)] + (try self.decline(p, m))
            case .metrics:  // the final evaluation request
                bad.values = [MetricKey.personalFinal: .nan]
                return [.metrics(bad)]
            default: return []
            }
        })
        XCTAssertGreaterThanOrEqual(codes(rogue).filter { $0 == .outOfRange }.count, 3, "\(codes(rogue))")
        let s = try fleet.writtenSummary()
        XCTAssertNil(s.personalFinal[InProcessFleet.rogueDevice], "nothing of a refused METRICS is recorded")
        XCTAssertEqual(Set(s.personalFinal.keys), ["dev-0", "dev-1", "dev-2"])
    }

    func testAnUpdateInAnotherEncodingThanTheTasksIsRefused() throws {
        let (_, rogue) = try attack("encoding", rogue: rogueNode, answer: onTask { p, t in p.update(for: t, value: 0.001, encoding: .f16) })
        XCTAssertTrue(rogue.errors.contains { $0.code == .malformed && $0.message.contains("TASK asked for") }, "\(rogue.errors.map(\.message))")
    }

    func testANodeNameSquatterIsForbiddenWithOrWithoutAListedKey() throws {
        var squatters: [RawPeer] = []
        try attack("squat", rogue: { fleet in
            // Before the honest node-a starts: its name, with the rogue's listed key and with no key.
            for (i, key) in [InProcessFleet.key("rogue"), nil].enumerated() {
                let p = RawPeer(fleet, identity: "node-a#\(i + 10)", key: key)
                try p.join(node: "node-a", devices: ["dev-0", "dev-1"])
                XCTAssertTrue(try p.read(until: { _ in !p.errors.isEmpty }), "refused before node-a starts")
                squatters.append(p)
            }
            return try self.rogueNode(fleet)
        }, answer: decline)
        for p in squatters {
            XCTAssertEqual(codes(p), [.forbidden], "\(p.errors.map(\.message))")
        }
    }

    func testAListedKeyCannotClaimADeviceItDoesNotHold() throws {
        var claimer: RawPeer!
        try attack("claim", rogue: { fleet in
            claimer = RawPeer(fleet, identity: "rogue#1", key: InProcessFleet.key("rogue"))
            try claimer.join(node: "rogue", devices: ["dev-0"])  // node-a's device, before node-a starts
            XCTAssertTrue(try claimer.read(until: { _ in !claimer.errors.isEmpty }), "refused before node-a starts")
            return try self.rogueNode(fleet)
        }, answer: decline)
        XCTAssertEqual(codes(claimer), [.forbidden])
        let message = claimer.errors.first?.message ?? ""
        XCTAssertTrue(message.contains("does not hold device 'dev-0'"), message)
    }

    func testAJoinFloodIsRefusedWithBoundedReplies() throws {
        let (fleet, rogue) = try attack("flood", rogue: { fleet in
            let p = try self.rogueNode(fleet)
            var j = PBJoin()
            j.nodeName = "rogue"
            j.devices = (0..<4096).map { var d = PBDeviceInfo(); d.deviceID = "d\($0)"; d.shardSize = 1; d.memoryBudgetBytes = 1; return d }
            j.heartbeatIntervalMs = 100
            let frames = try p.codec.encode(.join(j))
            for _ in 0..<200 { try p.dealer.send(frames) }
            return p
        }, answer: decline)
        let tooLarge = codes(rogue).filter { $0 == .tooLarge }.count
        XCTAssertGreaterThan(tooLarge, 0)
        XCTAssertLessThanOrEqual(tooLarge, fleet.service.limits.maxRepliesPerPeer, "replies to one peer are bounded")
    }

    func testAnUnjoinedConnectionIsToldNotJoined() throws {
        var stranger: RawPeer!
        try attack("notjoined", rogue: { fleet in
            stranger = RawPeer(fleet, identity: "stranger#0", key: InProcessFleet.key("rogue"))
            var h = PBHeartbeat()
            h.intervalMs = 100
            // Heartbeat every second, as a live peer would, until the coordinator (which may still
            // be starting) answers: a fixed single send raced its start.
            var answered = false
            for _ in 0..<30 where !answered {
                try stranger.send(.heartbeat(h))
                answered = try stranger.read(until: { _ in !stranger.errors.isEmpty }, seconds: 1)
            }
            XCTAssertTrue(answered, "no answer to an unjoined connection within 30 s")
            return try self.rogueNode(fleet)
        }, answer: decline)
        XCTAssertFalse(codes(stranger).isEmpty)
        XCTAssertEqual(Set(codes(stranger)), [.notJoined])
    }

    func testARestartedNodeReclaimsItsDevicesWithItsOwnKey() throws {
        // node-b's first connection joins (with a long heartbeat interval, so it is not reaped);
        // node-b restarts on a new connection with the same key: it gets its device back, and
        // the old connection gets no task.
        let fleet = try InProcessFleet("reclaim")
        fleet.startCoordinator()
        let old = RawPeer(fleet, identity: "node-b#old", key: InProcessFleet.key("node-b"))
        try old.join(node: "node-b", devices: ["dev-2"], heartbeatMs: 60_000)
        XCTAssertTrue(try old.read(until: { $0.contains { if case .model = $0 { return true } else { return false } } }), "the first connection is admitted (MODEL)")
        let restarted = RawPeer(fleet, identity: "node-b#new", key: InProcessFleet.key("node-b"))
        try restarted.join(node: "node-b", devices: ["dev-2"])
        var tasks = Locked<[String]>([])
        let servedNew = restarted.serveInBackground { p, m in
            if case let .task(t) = m { tasks.withLock { $0.append(t.deviceID) } }
            return try self.decline(p, m)
        }
        let rogue = try rogueNode(fleet)
        let served = rogue.serveInBackground(answer: decline)
        try fleet.startNode("node-a", devices: ["dev-0", "dev-1"])
        _ = try fleet.wait()
        _ = served.wait(timeout: .now() + 10)
        _ = servedNew.wait(timeout: .now() + 10)
        XCTAssertEqual(codes(restarted), [], "the restarted node was admitted: \(restarted.errors.map(\.message))")
        XCTAssertEqual(tasks.withLock { $0 }, ["dev-2", "dev-2"], "the restarted node got dev-2's tasks")
        XCTAssertFalse(try old.read(milliseconds: 20).contains { if case .task = $0 { return true } else { return false } },
                       "the retired connection gets no task")
        _ = tasks
    }

    func testWithoutCurveTheSummarySaysIdentityIsNotAuthenticated() throws {
        let config = InProcessFleet.config(curve: false, rounds: 1)
        let fleet = try InProcessFleet("plain", config: config)
        fleet.startCoordinator()
        for n in InProcessFleet.honestNodes + [("rogue", [InProcessFleet.rogueDevice])] {
            try fleet.startNode(n.name, devices: n.devices, key: .some(nil))
        }
        let s = try fleet.wait()
        XCTAssertEqual(s.identityAuthenticated, false)
        XCTAssertEqual(try fleet.writtenSummary().identityAuthenticated, false)
    }
}
