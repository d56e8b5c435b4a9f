// The end of a run: a node that reconnected just before the end still hears BYE.
@testable import Federation
import Foundation
import Transport
import Wire
import XCTest

final class FarewellTests: XCTestCase {
    func testTheFarewellWaitsForTheDevicesOfTheEndAndTheRecentlyLostOnly() {
        var f = Farewell(reason: "run complete", live: ["a", "b"], recentlyLost: ["c": 9_000, "old": 1_000], heartbeatMs: 500, now: 10_000)
        XCTAssertEqual(f.waitingFor, ["a", "b", "c"], "a device lost 9 s before the end is long gone; one lost 1 s before may be reconnecting")
        XCTAssertEqual(f.deadline, 10_000 + Farewell.waitMilliseconds(heartbeatMs: 500))
        XCTAssertFalse(f.isOver(at: 10_001))
        f.said(bye: ["a", "c"])
        XCTAssertFalse(f.isOver(at: 10_002))
        f.said(bye: ["b"])
        XCTAssertTrue(f.isOver(at: 10_003), "everyone said BYE back")
        XCTAssertTrue(Farewell(reason: "", live: ["a"], recentlyLost: [:], heartbeatMs: 500, now: 0).isOver(at: 4_500), "bounded")
    }

    func testANodeThatMissedTheByeAndJoinsAgainIsToldBye() throws {
        let fleet = try InProcessFleet("farewell")
        fleet.startCoordinator()
        let key = InProcessFleet.key("node-b")
        let first = RawPeer(fleet, identity: "node-b#0", key: key)
        try first.join(node: "node-b", devices: ["dev-2"])
        try fleet.startNode("node-a", devices: ["dev-0", "dev-1"])
        try fleet.startNode("rogue", devices: [InProcessFleet.rogueDevice])
        // The old connection hears the BYE but the node never reads it (it was reconnecting).
        try first.serve(answerBye: false) { m in try InProcessFleet.decline(first, m) }
        first.dealer.close()
        let second = RawPeer(fleet, identity: "node-b#1", key: key)
        try second.join(node: "node-b", devices: ["dev-2"])
        var heardBye = false
        try second.read(until: { seen in
            heardBye = seen.contains { if case .bye = $0 { return true } else { return false } }
            return heardBye
        }, seconds: 10)
        XCTAssertTrue(heardBye, "the JOIN after the end is answered with BYE, not silence")
        try second.sayBye()
        let summary = try fleet.wait()
        XCTAssertEqual(summary.rounds, 2)
    }
}
