import Foundation
import XCTest

/// Real coordinator and node processes running federated rounds over real sockets.
final class FederationEndToEndTests: XCTestCase {
    /// Runs the 4-device fleet (2 nodes × 2 devices) for 3 rounds over `endpoint` and checks the run.
    func runFleet(endpoint: String, corruptRound: Int? = nil) throws -> TestFleet {
        let fleet = try TestFleet("fleet", config: TestFleet.smallConfig())
        let coordinator = try fleet.coordinator(endpoint)
        let a = try fleet.node(endpoint, name: "node-a", devices: ["dev-0", "dev-1"])
        let b = try fleet.node(endpoint, name: "node-b", devices: ["dev-2", "dev-3"],
                               extra: corruptRound.map { ["--corrupt-update-round", "\($0)"] } ?? [])
        XCTAssertEqual(coordinator.wait(), 0, coordinator.stderr)
        XCTAssertEqual(a.wait(timeout: 10), 0, a.stderr)
        XCTAssertEqual(b.wait(timeout: 10), 0, b.stderr)

        let rounds = try fleet.metrics()
        XCTAssertEqual(rounds.count, 3, coordinator.stderr)
        for r in rounds {
            XCTAssertEqual(r["reporting"] as? [String], ["dev-0", "dev-1", "dev-2", "dev-3"], "\(r)")
            XCTAssertEqual(r["skipped"] as? Bool, false)
            XCTAssertGreaterThan(r["bytesUp"] as? Int ?? 0, 0)
            XCTAssertGreaterThan(r["bytesDown"] as? Int ?? 0, 0)
            XCTAssertNotNil(r["personalAfter"] as? [String: Any])
        }
        XCTAssertEqual(rounds.last?["modelVersion"] as? Int, 4)
        let summary = try fleet.summary()
        XCTAssertEqual((summary["personalFinal"] as? [String: Double])?.count, 4, "every device reports its final personalised accuracy")

        // The global model changed only in coordinates some device touched.
        var touched: [String: Set<Int>] = [:]
        for r in rounds { for (name, chans) in r["touchedChannels"] as! [String: [Int]] { touched[name, default: []].formUnion(chans) } }
        let before = try SafeTensorsFile.read(fleet.runFolder + "/model-initial.safetensors")
        let after = try SafeTensorsFile.read(fleet.runFolder + "/model-final.safetensors")
        XCTAssertEqual(Set(before.keys), Set(after.keys))
        var changed = 0, frozen = 0
        for (name, t0) in before {
            let t1 = after[name]!
            // Channel axis: input channels (1) for conv and linear weights, output (0) for biases and depthwise convs.
            let axis = t0.shape.count == 1 || (t0.shape.count == 4 && t0.shape[1] == 1) ? 0 : 1
            let outer = t0.shape[..<axis].reduce(1, *), channels = t0.shape[axis], inner = t0.shape[(axis + 1)...].reduce(1, *)
            for o in 0..<outer {
                for c in 0..<channels {
                    for e in 0..<inner {
                        let j = (o * channels + c) * inner + e
                        if t0.values[j].bitPattern != t1.values[j].bitPattern {
                            changed += 1
                            XCTAssertTrue(touched[name]?.contains(c) ?? false, "\(name)[\(j)] changed in channel \(c), which no update touched")
                        } else if touched[name] == nil {
                            frozen += 1
                        }
                    }
                }
            }
        }
        XCTAssertGreaterThan(changed, 0, "the rounds changed nothing")
        XCTAssertGreaterThan(frozen, 0, "the frozen front must stay bitwise unchanged")
        return fleet
    }

    func testFourDevicesThreeRoundsOverIpc() throws {
        _ = try runFleet(endpoint: "ipc://\(NSTemporaryDirectory())sf-fed-\(getpid()).sock")
    }

    func testFourDevicesThreeRoundsOverTcpLoopback() throws {
        _ = try runFleet(endpoint: "tcp://127.0.0.1:\(Int.random(in: 20000..<40000))")
    }

    func testMalformedUpdateIsAnsweredWithAnErrorAndTheRoundCompletes() throws {
        let fleet = try runFleet(endpoint: "tcp://127.0.0.1:\(Int.random(in: 20000..<40000))", corruptRound: 1)
        let rounds = try fleet.metrics()
        XCTAssertGreaterThanOrEqual(rounds[0]["refusedMessages"] as? Int ?? 0, 1, "the corrupted UPDATE must be refused")
        XCTAssertEqual(rounds[0]["reporting"] as? [String], ["dev-0", "dev-1", "dev-2", "dev-3"], "the round completes with every device")
    }

    func testUnauthorisedCurveKeyIsRefused() throws {
        func keys(_ name: String, in folder: URL) throws -> (path: String, pub: String) {
            let path = folder.appendingPathComponent("\(name).key").path
            let r = try ProcessHarness.run("fleet", ["keys", "--out", path])
            XCTAssertEqual(r.status, 0, r.stderr)
            let text = try String(contentsOfFile: path, encoding: .utf8)
            let pub = text.split(separator: "\n").first { $0.hasPrefix("public ") }!.dropFirst(7)
            return (path, String(pub))
        }
        let scratch = URL(fileURLWithPath: NSTemporaryDirectory()).appendingPathComponent("sf-curve-\(getpid())")
        try FileManager.default.createDirectory(at: scratch, withIntermediateDirectories: true)
        let server = try keys("coordinator", in: scratch), good = try keys("good", in: scratch), bad = try keys("bad", in: scratch)
        let owner = try keys("owner", in: scratch)  // dev-1's real node: listed, never started
        var config = TestFleet.smallConfig(rounds: 1, devices: ["dev-0", "dev-1"])
        config["curve"] = ["serverPublicKey": server.pub,
                           "clients": [["publicKey": good.pub, "node": "good", "devices": ["dev-0"]],
                                       ["publicKey": owner.pub, "node": "owner", "devices": ["dev-1"]]]]
        config["rounds"] = ["count": 1, "deadlineMs": 20000, "joinWaitMs": 4000, "finalWaitMs": 3000]
        let fleet = try TestFleet("curve", config: config)
        let endpoint = "tcp://127.0.0.1:\(Int.random(in: 20000..<40000))"
        let coordinator = try fleet.coordinator(endpoint, extra: ["--key-file", server.path])
        let admitted = try fleet.node(endpoint, name: "good", devices: ["dev-0"], extra: ["--key-file", good.path])
        let intruder = try fleet.node(endpoint, name: "bad", devices: ["dev-1"], extra: ["--key-file", bad.path, "--join-timeout-ms", "2500"])
        XCTAssertNotEqual(intruder.wait(timeout: 20), 0, "a node whose key is not on the allow list must fail")
        XCTAssertTrue(intruder.stderr.contains("probable authentication failure"), intruder.stderr)
        XCTAssertEqual(coordinator.wait(), 0, coordinator.stderr)
        XCTAssertEqual(admitted.wait(timeout: 10), 0, admitted.stderr)
        XCTAssertTrue(coordinator.stderr.contains("not on the allow list"), coordinator.stderr)
        XCTAssertTrue(coordinator.stderr.contains(bad.pub), "the coordinator names the refused key")
        let rounds = try fleet.metrics()
        XCTAssertEqual(rounds.first?["reporting"] as? [String], ["dev-0"], "only the admitted node's device trains")
    }

    func testCoordinatorStopsCleanlyOnSIGTERM() throws {
        var config = TestFleet.smallConfig(rounds: 3)
        config["rounds"] = ["count": 3, "joinWaitMs": 60000]
        let fleet = try TestFleet("sigterm", config: config)
        let coordinator = try fleet.coordinator("ipc://\(NSTemporaryDirectory())sf-term-\(getpid()).sock")
        // Wait until it listens (it is waiting for devices that never come), then stop it.
        let deadline = Date().addingTimeInterval(20)
        while !coordinator.stderr.contains("listening") && Date() < deadline { usleep(50_000) }
        coordinator.process.terminate()
        XCTAssertEqual(coordinator.wait(timeout: 10), 0, "coordinator must exit cleanly on SIGTERM: \(coordinator.stderr)")
        XCTAssertEqual(try fleet.summary()["interrupted"] as? Bool, true)
    }

    func testFleetSurvivesAStalledCoordinator() throws {
        var config = TestFleet.smallConfig(rounds: 5)
        config["deviceDefaults"] = ["localSteps": 30, "batch": 4, "learningRate": 0.05]
        config["rounds"] = ["count": 5, "deadlineMs": 8000, "joinWaitMs": 20000, "finalWaitMs": 5000]
        let fleet = try TestFleet("stall", config: config)
        let endpoint = "ipc://\(NSTemporaryDirectory())sf-stall-\(getpid()).sock"
        let coordinator = try fleet.coordinator(endpoint)
        let a = try fleet.node(endpoint, name: "node-a", devices: ["dev-0", "dev-1"])
        let b = try fleet.node(endpoint, name: "node-b", devices: ["dev-2", "dev-3"])
        let deadline = Date().addingTimeInterval(30)
        while !coordinator.stderr.contains("round=2 sampled") && Date() < deadline { usleep(20_000) }
        // Freeze the coordinator for more than 3 heartbeat intervals: both sides time each other out.
        kill(coordinator.process.processIdentifier, SIGSTOP)
        usleep(2_000_000)
        kill(coordinator.process.processIdentifier, SIGCONT)
        XCTAssertEqual(coordinator.wait(), 0, coordinator.stderr)
        XCTAssertEqual(a.wait(timeout: 10), 0, a.stderr)
        XCTAssertEqual(b.wait(timeout: 10), 0, b.stderr)
        XCTAssertTrue(a.stderr.contains("reconnecting") || b.stderr.contains("reconnecting"), "a node should have noticed the silence")
        let rounds = try fleet.metrics()
        XCTAssertEqual(rounds.count, 5)
        XCTAssertEqual(rounds.last?["reporting"] as? [String], ["dev-0", "dev-1", "dev-2", "dev-3"], coordinator.stderr)
    }

    func testBadEndpointIsRefusedWithFix() throws {
        let c = try ProcessHarness.run("coordinator", ["--config", "x.json", "--bind", "http://x"])
        XCTAssertNotEqual(c.status, 0)
        XCTAssertTrue(c.stderr.contains("must start with tcp://"), c.stderr)
    }

    func testUnknownDeviceIsRefusedWithFix() throws {
        let fleet = try TestFleet("unknown", config: TestFleet.smallConfig())
        let n = try ProcessHarness.run("node", ["run", "--config", fleet.configPath, "--devices", "dev-9", "--connect", "tcp://127.0.0.1:9"])
        XCTAssertNotEqual(n.status, 0)
        XCTAssertTrue(n.stderr.contains("dev-9") && n.stderr.contains("not in the configuration"), n.stderr)
    }
}
