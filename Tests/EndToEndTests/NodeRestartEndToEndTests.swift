import Foundation
import XCTest

/// A node is SIGKILLed mid-round: the round completes without it, and the node, restarted with
/// the same `--state-dir`, restores its devices' state, rejoins and reports again.
final class NodeRestartEndToEndTests: XCTestCase {
    /// 4 devices on 2 nodes, 4 rounds, a 3 s deadline and 2 updates enough to aggregate.
    static func config() -> [String: Any] {
        var c = TestFleet.smallConfig(rounds: 4)
        c["rounds"] = ["count": 4, "deadlineMs": 3000, "minUpdates": 2, "joinWaitMs": 20000, "finalWaitMs": 2000]
        return c
    }

    func testKilledNodeMissesItsRoundThenRejoinsWithItsSavedState() throws {
        let fleet = try TestFleet("node-restart", config: Self.config())
        let endpoint = "tcp://127.0.0.1:\(Int.random(in: 20000..<40000))"
        let stateA = fleet.folder.appendingPathComponent("state-a").path
        let stateB = fleet.folder.appendingPathComponent("state-b").path
        let coordinator = try fleet.coordinator(endpoint)
        let a = try fleet.node(endpoint, name: "node-a", devices: ["dev-0", "dev-1"], extra: ["--state-dir", stateA])
        let b = try fleet.node(endpoint, name: "node-b", devices: ["dev-2", "dev-3"], extra: ["--state-dir", stateB, "--crash-at-round", "2"])

        // node-b kills itself (SIGKILL) on round 2's first TASK; restart it at once with the same state.
        b.wait(timeout: 60)
        XCTAssertEqual(b.process.terminationReason, .uncaughtSignal, b.stderr)
        XCTAssertEqual(b.process.terminationStatus, SIGKILL)
        XCTAssertTrue(b.stderr.contains("fault injection: node SIGKILL at round 2"), b.stderr)
        for id in ["dev-2", "dev-3"] {
            XCTAssertTrue(FileManager.default.fileExists(atPath: stateB + "/device-\(id).json"), "no saved state for \(id)")
        }
        let b2 = try fleet.node(endpoint, name: "node-b", devices: ["dev-2", "dev-3"], extra: ["--state-dir", stateB])

        XCTAssertEqual(coordinator.wait(timeout: 60), 0, coordinator.stderr)
        XCTAssertEqual(a.wait(timeout: 15), 0, a.stderr)
        XCTAssertEqual(b2.wait(timeout: 15), 0, b2.stderr)
        XCTAssertEqual(b2.stderr.components(separatedBy: "device state restored").count - 1, 2, b2.stderr)

        let rounds = try fleet.metrics()
        XCTAssertEqual(rounds.map { $0["round"] as? Int }, [1, 2, 3, 4], coordinator.stderr)
        XCTAssertEqual(rounds[0]["reporting"] as? [String], ["dev-0", "dev-1", "dev-2", "dev-3"], "\(rounds[0])")
        // Round 2 completes without the dead node: its devices failed or were never sampled.
        XCTAssertEqual(rounds[1]["skipped"] as? Bool, false, "\(rounds[1])")
        XCTAssertEqual(rounds[1]["reporting"] as? [String], ["dev-0", "dev-1"], "\(rounds[1])")
        let failed = Set((rounds[1]["failed"] as? [String: String] ?? [:]).keys)
        let sampled = Set(rounds[1]["sampled"] as? [String] ?? [])
        for id in ["dev-2", "dev-3"] { XCTAssertTrue(failed.contains(id) || !sampled.contains(id), "\(id) in round 2: \(rounds[1])") }
        // The restarted node rejoined: its devices report again in a later round.
        let later = rounds[2...].compactMap { $0["reporting"] as? [String] }
        XCTAssertTrue(later.contains { $0.contains("dev-2") && $0.contains("dev-3") }, "\(rounds[2...])")
        XCTAssertEqual((try fleet.summary()["personalFinal"] as? [String: Double])?.count, 4)
    }
}
