import Foundation
import XCTest

/// Real `coordinator` and `node` processes exchanging heartbeats over real sockets.
final class HeartbeatEndToEndTests: XCTestCase {
    func exchange(endpoint: String) throws {
        let (coordinator, _, _) = ProcessHarness.process("coordinator", ["--bind", endpoint, "--idle-exit", "20"])
        try coordinator.run()
        defer { if coordinator.isRunning { coordinator.terminate() }; coordinator.waitUntilExit() }
        let node = try ProcessHarness.run("node", ["--connect", endpoint, "--pings", "3", "--timeout-ms", "10000"])
        XCTAssertEqual(node.status, 0, node.stderr)
        XCTAssertTrue(node.stdout.lowercased().contains("heartbeat 3/3: heartbeat"), node.stdout)
        coordinator.terminate()  // SIGTERM: graceful shutdown
        coordinator.waitUntilExit()
        XCTAssertEqual(coordinator.terminationStatus, 0, "coordinator must exit cleanly on SIGTERM")
    }

    func testOverTcpLoopback() throws {
        try exchange(endpoint: "tcp://127.0.0.1:\(Int.random(in: 20000..<40000))")
    }

    func testOverIpc() throws {
        try exchange(endpoint: "ipc://\(NSTemporaryDirectory())sf-e2e-\(getpid()).sock")
    }

    func testNodeReportsUnreachableCoordinator() throws {
        let node = try ProcessHarness.run("node", ["--connect", "tcp://127.0.0.1:9", "--pings", "1", "--timeout-ms", "200"])
        XCTAssertNotEqual(node.status, 0)
        XCTAssertTrue(node.stderr.contains("did not answer"), node.stderr)
    }

    func testBadEndpointIsRefusedWithFix() throws {
        let c = try ProcessHarness.run("coordinator", ["--bind", "http://x"])
        XCTAssertNotEqual(c.status, 0)
        XCTAssertTrue(c.stderr.contains("must start with tcp://"), c.stderr)
    }
}
