import Foundation
import XCTest

/// The coordinator is SIGKILLed mid-run and resumed from its checkpoint: the final model must be
/// bitwise equal to that of an uninterrupted run with the same seed.
final class CoordinatorResumeEndToEndTests: XCTestCase {
    /// 4 devices on 2 nodes, 4 rounds, FedAvgM (so the momentum buffers must survive too).
    static func config() -> [String: Any] {
        var c = TestFleet.smallConfig(rounds: 4)
        c["aggregation"] = ["rule": "mean", "momentum": 0.5]
        return c
    }

    /// Runs the coordinator through `crashes` (each restart with `--resume` kills itself at the
    /// next point), then to the end; returns the fleet and every coordinator's log.
    func run(_ name: String, crashes: [String]) throws -> (TestFleet, [String]) {
        let fleet = try TestFleet(name, config: Self.config())
        let endpoint = "tcp://127.0.0.1:\(Int.random(in: 20000..<40000))"
        var logs: [String] = []
        var coordinator = try fleet.coordinator(endpoint, extra: crashes.first.map { ["--crash-at", $0] } ?? [])
        let a = try fleet.node(endpoint, name: "node-a", devices: ["dev-0", "dev-1"])
        let b = try fleet.node(endpoint, name: "node-b", devices: ["dev-2", "dev-3"])
        // After each kill, restart with --resume and the next crash point (none for the last restart).
        let restarts: [String?] = crashes.isEmpty ? [] : crashes.dropFirst().map(Optional.some) + [nil]
        for next in restarts {
            let status = coordinator.wait(timeout: 90)
            logs.append(coordinator.stderr)
            XCTAssertEqual(coordinator.process.terminationReason, .uncaughtSignal, "the coordinator should have killed itself: \(coordinator.stderr)")
            XCTAssertEqual(status, SIGKILL)
            coordinator = try fleet.coordinator(endpoint, extra: ["--resume"] + (next.map { ["--crash-at", $0] } ?? []))
        }
        XCTAssertEqual(coordinator.wait(timeout: 90), 0, coordinator.stderr)
        logs.append(coordinator.stderr)
        XCTAssertEqual(a.wait(timeout: 15), 0, a.stderr)
        XCTAssertEqual(b.wait(timeout: 15), 0, b.stderr)
        return (fleet, logs)
    }

    func testKilledAtEveryPhaseOfARoundAndResumedIsBitwiseEqualToAnUninterruptedRun() throws {
        let (reference, _) = try run("resume-ref", crashes: [])
        let crashes = ["1:sending", "2:collecting", "3:aggregating", "3:checkpointing", "4:sending"]
        let (resumed, logs) = try run("resume-kill", crashes: crashes)
        XCTAssertEqual(logs.count, crashes.count + 1)
        for (log, point) in zip(logs, crashes) {
            XCTAssertTrue(log.contains("SIGKILL at \(point)"), "no kill at \(point): \(log)")
        }
        XCTAssertTrue(logs[2].contains("resuming from checkpoint") && logs[2].contains("round=1"), logs[2])

        let ref = try Data(contentsOf: URL(fileURLWithPath: reference.runFolder + "/model-final.safetensors"))
        let got = try Data(contentsOf: URL(fileURLWithPath: resumed.runFolder + "/model-final.safetensors"))
        XCTAssertEqual(ref, got, "the resumed run's final model must be bitwise equal to the uninterrupted run's")
        let initial = try Data(contentsOf: URL(fileURLWithPath: resumed.runFolder + "/model-initial.safetensors"))
        XCTAssertNotEqual(initial, got, "the rounds changed nothing")

        // Every round exactly once, in order, with every device, and the same model versions.
        let rounds = try resumed.metrics(), refRounds = try reference.metrics()
        XCTAssertEqual(rounds.map { $0["round"] as? Int }, [1, 2, 3, 4])
        XCTAssertEqual(rounds.map { $0["modelVersion"] as? Int }, refRounds.map { $0["modelVersion"] as? Int })
        XCTAssertEqual(rounds.map { $0["touchedChannels"] as? [String: [Int]] }, refRounds.map { $0["touchedChannels"] as? [String: [Int]] })
        for r in rounds { XCTAssertEqual(r["reporting"] as? [String], ["dev-0", "dev-1", "dev-2", "dev-3"], "\(r)") }
        XCTAssertEqual(try resumed.summary()["modelVersion"] as? Int, 5)
    }

    func testResumeRefusesACheckpointOfAnotherConfiguration() throws {
        var config = Self.config()
        config["rounds"] = ["count": 1, "deadlineMs": 20000, "joinWaitMs": 20000, "finalWaitMs": 3000]
        let fleet = try TestFleet("resume-other", config: config)
        let endpoint = "tcp://127.0.0.1:\(Int.random(in: 20000..<40000))"
        let coordinator = try fleet.coordinator(endpoint)
        let a = try fleet.node(endpoint, name: "node-a", devices: ["dev-0", "dev-1", "dev-2", "dev-3"])
        XCTAssertEqual(coordinator.wait(), 0, coordinator.stderr)
        XCTAssertEqual(a.wait(timeout: 15), 0, a.stderr)
        config["seed"] = 12
        try JSONSerialization.data(withJSONObject: config).write(to: URL(fileURLWithPath: fleet.configPath))
        let r = try ProcessHarness.run("coordinator", ["--config", fleet.configPath, "--bind", endpoint, "--run-dir", fleet.runFolder, "--resume"])
        XCTAssertNotEqual(r.status, 0)
        XCTAssertTrue(r.stderr.contains("different configuration"), r.stderr)
    }

    func testCoordinatedScheduleFleetCompletesWithEveryDevice() throws {
        var config = TestFleet.smallConfig(rounds: 2)
        config["rounds"] = ["count": 2, "deadlineMs": 20000, "joinWaitMs": 20000, "finalWaitMs": 5000, "coordinatedSchedule": true]
        let fleet = try TestFleet("coordinated", config: config)
        let endpoint = "tcp://127.0.0.1:\(Int.random(in: 20000..<40000))"
        let coordinator = try fleet.coordinator(endpoint)
        let a = try fleet.node(endpoint, name: "node-a", devices: ["dev-0", "dev-1"])
        let b = try fleet.node(endpoint, name: "node-b", devices: ["dev-2", "dev-3"])
        XCTAssertEqual(coordinator.wait(), 0, coordinator.stderr)
        XCTAssertEqual(a.wait(timeout: 15), 0, a.stderr)
        XCTAssertEqual(b.wait(timeout: 15), 0, b.stderr)
        for r in try fleet.metrics() { XCTAssertEqual(r["reporting"] as? [String], ["dev-0", "dev-1", "dev-2", "dev-3"], "\(r)") }
    }
}
