import Foundation
import XCTest

/// SIGTERM to the coordinator mid-run: the round in progress finishes with every device, is
/// checkpointed, and the run stops; `--resume` (nodes restarted with their `--state-dir`) then
/// ends with a final model bitwise equal to that of an uninterrupted run.
final class CoordinatorSignalEndToEndTests: XCTestCase {
    static let rounds = 8

    /// Starts a coordinator and two nodes (with state folders under the fleet's folder); returns them.
    func start(_ fleet: TestFleet, _ endpoint: String, resume: Bool, slowB: [String] = []) throws -> (RunningProcess, RunningProcess, RunningProcess) {
        let c = try fleet.coordinator(endpoint, extra: resume ? ["--resume"] : [])
        let a = try fleet.node(endpoint, name: "node-a", devices: ["dev-0", "dev-1"],
                               extra: ["--state-dir", fleet.folder.appendingPathComponent("state-a").path])
        let b = try fleet.node(endpoint, name: "node-b", devices: ["dev-2", "dev-3"],
                               extra: ["--state-dir", fleet.folder.appendingPathComponent("state-b").path] + slowB)
        return (c, a, b)
    }

    /// The final model of an uninterrupted run.
    func referenceModel() throws -> Data {
        let reference = try TestFleet("signal-ref", config: TestFleet.smallConfig(rounds: Self.rounds))
        let refEndpoint = "tcp://127.0.0.1:\(Int.random(in: 20000..<40000))"
        let (rc, ra, rb) = try start(reference, refEndpoint, resume: false)
        XCTAssertEqual(rc.wait(), 0, rc.stderr)
        XCTAssertEqual(ra.wait(timeout: 15), 0, ra.stderr)
        XCTAssertEqual(rb.wait(timeout: 15), 0, rb.stderr)
        return try Data(contentsOf: URL(fileURLWithPath: reference.runFolder + "/model-final.safetensors"))
    }

    /// Waits until node `a` has trained a round-2 task (the coordinator is then collecting round 2).
    func waitForRound2(_ c: RunningProcess, _ a: RunningProcess) {
        let deadline = Date().addingTimeInterval(60)
        func trained() -> Bool { a.stderr.split(separator: "\n").contains { $0.contains("round=2") && $0.contains("trained") } }
        while c.process.isRunning && Date() < deadline && !trained() { usleep(2_000) }
    }

    /// Resumes `fleet` (coordinator --resume, nodes on their state folders) to the end; returns the nodes' logs.
    func resume(_ fleet: TestFleet, _ endpoint: String) throws -> String {
        let (c2, a2, b2) = try start(fleet, endpoint, resume: true)
        XCTAssertEqual(c2.wait(), 0, c2.stderr)
        XCTAssertEqual(a2.wait(timeout: 15), 0, a2.stderr)
        XCTAssertEqual(b2.wait(timeout: 15), 0, b2.stderr)
        XCTAssertTrue(c2.stderr.contains("resuming from checkpoint"), c2.stderr)
        XCTAssertTrue(a2.stderr.contains("device state restored"), a2.stderr)
        XCTAssertEqual(try fleet.metrics().map { $0["round"] as? Int }, Array(1...Self.rounds))
        return a2.stderr + b2.stderr
    }

    func testSecondSigtermAbandonsTheRoundAndResumeReplaysItBitwiseEqual() throws {
        let ref = try referenceModel()
        let fleet = try TestFleet("signal2", config: TestFleet.smallConfig(rounds: Self.rounds))
        let endpoint = "tcp://127.0.0.1:\(Int.random(in: 20000..<40000))"
        // node-b is slow in round 2: it holds its trained updates for 60 s (the deadline is 20 s),
        // so round 2 is open for certain when the signals land.
        let (c, a, b) = try start(fleet, endpoint, resume: false, slowB: ["--slow-at-round", "2:60000"])
        let deadline = Date().addingTimeInterval(60)
        while c.process.isRunning && Date() < deadline && !b.stderr.contains("fault injection: holding the update") { usleep(2_000) }
        XCTAssertTrue(b.stderr.contains("fault injection: holding the update"), b.stderr)
        kill(c.process.processIdentifier, SIGTERM)
        usleep(100_000)
        kill(c.process.processIdentifier, SIGTERM)
        XCTAssertEqual(c.wait(), 0, c.stderr)
        XCTAssertEqual(a.wait(timeout: 15), 0, a.stderr)
        kill(b.process.processIdentifier, SIGKILL)  // still holding; its state was saved before the hold
        _ = b.wait(timeout: 15)
        XCTAssertTrue(c.stderr.contains("round abandoned"), c.stderr)
        XCTAssertEqual(try fleet.metrics().count, 1, "round 2 is abandoned, not written")

        // The resumed coordinator repeats round 2; the restarted nodes answer from their saved last update.
        let nodes = try resume(fleet, endpoint)
        XCTAssertTrue(nodes.contains("resending its update"), nodes)
        let got = try Data(contentsOf: URL(fileURLWithPath: fleet.runFolder + "/model-final.safetensors"))
        XCTAssertEqual(ref, got, "the abandoned and replayed round must leave the final model bitwise equal to the uninterrupted run's")
    }

    func testSigtermFinishesTheRoundCheckpointsAndResumesBitwiseEqual() throws {
        let refModel = try referenceModel()

        let fleet = try TestFleet("signal", config: TestFleet.smallConfig(rounds: Self.rounds))
        let endpoint = "tcp://127.0.0.1:\(Int.random(in: 20000..<40000))"
        let (c, a, b) = try start(fleet, endpoint, resume: false)
        // SIGTERM as soon as node-a has trained a round-2 task: the coordinator is collecting round 2.
        waitForRound2(c, a)
        c.process.terminate()
        XCTAssertEqual(c.wait(), 0, c.stderr)
        XCTAssertEqual(a.wait(timeout: 15), 0, a.stderr)
        XCTAssertEqual(b.wait(timeout: 15), 0, b.stderr)
        XCTAssertTrue(c.stderr.contains("round=2 [Federation] signal: round finished and checkpointed"), c.stderr)
        let partial = try fleet.metrics()
        XCTAssertEqual(partial.count, 2, "round 2 finishes, no round 3 starts")
        for r in partial {
            XCTAssertEqual(r["reporting"] as? [String], ["dev-0", "dev-1", "dev-2", "dev-3"], "the signalled round must finish, not aggregate a part: \(r)")
        }
        XCTAssertEqual(try fleet.summary()["interrupted"] as? Bool, true)

        _ = try resume(fleet, endpoint)
        let ref = refModel
        let got = try Data(contentsOf: URL(fileURLWithPath: fleet.runFolder + "/model-final.safetensors"))
        XCTAssertEqual(ref, got, "stopped by SIGTERM and resumed (nodes restored from --state-dir), the final model must be bitwise equal to the uninterrupted run's")
    }
}
