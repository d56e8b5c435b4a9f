// The command lines `fleet run` starts and `fleet plan` prints, and the run folder layout.
@testable import FleetKit
import Federation
import XCTest

final class LaunchCommandsTests: XCTestCase {
    /// Five devices on two nodes, CURVE on.
    let twoNodes = """
        name: t
        groups:
          - {name: g, count: 5, budget: 64KB}
        curve: on
        nodes: {count: 2}
        """

    func testCommandLinesCarryConfigEndpointsDevicesKeysAndFaults() throws {
        let t = try TopologyParser.parse(twoNodes + "\nfaults: {corruptNode: 2, corruptRound: 3}")
        let folder = RunFolder(path: "/runs/t-1")
        let c = LaunchCommands(plan: FleetPlan(t), folder: folder, binDir: "/bin", bind: "tcp://0.0.0.0:5555",
                               connect: "tcp://10.1.2.3:5555", curve: true, corruptNode: 2, corruptRound: 3)
        XCTAssertEqual(c.coordinator.executable, "/bin/coordinator")
        XCTAssertEqual(c.coordinator.arguments, ["--config", "/runs/t-1/config.json", "--bind", "tcp://0.0.0.0:5555",
                                                 "--run-dir", "/runs/t-1/coordinator", "--log-level", "info",
                                                 "--key-file", "/runs/t-1/keys/coordinator.key"])
        XCTAssertEqual(c.nodes.map(\.name), ["node-1", "node-2"])
        XCTAssertEqual(c.nodes[0].executable, "/bin/node")
        let a0 = c.nodes[0].arguments, a1 = c.nodes[1].arguments
        XCTAssertEqual(a0[0], "run")
        XCTAssertEqual(a0[a0.firstIndex(of: "--devices")! + 1], "g-00,g-02,g-04")
        XCTAssertEqual(a1[a1.firstIndex(of: "--devices")! + 1], "g-01,g-03")
        XCTAssertEqual(a0[a0.firstIndex(of: "--connect")! + 1], "tcp://10.1.2.3:5555")
        XCTAssertEqual(a1[a1.firstIndex(of: "--key-file")! + 1], "/runs/t-1/keys/node-2.key")
        XCTAssertFalse(a0.contains("--corrupt-update-round"))
        XCTAssertEqual(a1[a1.firstIndex(of: "--corrupt-update-round")! + 1], "3")
    }

    func testShellLinesQuoteOnlyWhenNeeded() {
        let c = ProcessCommand(name: "x", executable: "/b/node", arguments: ["run", "--config", "/a b/c.json", "it's"])
        XCTAssertEqual(c.shellLine, "/b/node run --config '/a b/c.json' 'it'\\''s'")
    }

    func testKeysAreWrittenPrivateAndMatchTheConfiguration() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("fleet-keys-\(getpid())").path
        let folder = RunFolder(path: dir)
        try folder.create()
        let plan = FleetPlan(try TopologyParser.parse(twoNodes))
        let curve = try folder.writeKeys(plan: plan)
        XCTAssertEqual(curve.clientPublicKeys.count, 2)
        // The allow list binds each key to its node's name and exactly its devices.
        XCTAssertEqual(curve.clients.map(\.node), ["node-1", "node-2"])
        XCTAssertEqual(curve.clients.map(\.devices), plan.nodeDevices)
        var config = plan.config
        config.curve = curve
        XCTAssertNoThrow(try config.validate())
        for path in [folder.coordinatorKey, folder.nodeKey("node-1"), folder.nodeKey("node-2")] {
            let mode = try FileManager.default.attributesOfItem(atPath: path)[.posixPermissions] as? Int
            XCTAssertEqual(mode, 0o600, path)
        }
        XCTAssertEqual(try KeyFile.load(path: folder.coordinatorKey).publicKey, curve.serverPublicKey)
        XCTAssertEqual(try KeyFile.load(path: folder.nodeKey("node-2")).publicKey, curve.clientPublicKeys[1])
        try? FileManager.default.removeItem(atPath: dir)
    }

    func testRunFolderNameIsTopologyAndUTCTimestamp() {
        let f = RunFolder.fresh(parent: "runs", name: "quickstart", date: Date(timeIntervalSince1970: 0))
        XCTAssertEqual(f.path, "runs/quickstart-19700101-000000")
        XCTAssertEqual(f.metrics, "runs/quickstart-19700101-000000/coordinator/metrics.jsonl")
        XCTAssertEqual(f.checkpoint, "runs/quickstart-19700101-000000/coordinator/checkpoint.safetensors")
    }

    func testAFolderWithoutConfigAndTopologyIsNotResumable() {
        XCTAssertThrowsError(try Launcher.checkResumable(RunFolder(path: "/nonexistent/run"), binDir: "/nonexistent/bin")) { e in
            XCTAssertTrue("\(e)".contains("is not a run folder"), "\(e)")
        }
        XCTAssertFalse(Launcher.supportsResume(coordinator: "/nonexistent/bin/coordinator"))
    }
}
