// `fleet plan` across "machines": the coordinator in one network namespace, the nodes in another,
// joined by a veth pair with private 10.213.0.0/24 addresses that exist only inside the two
// namespaces, each started with the exact command line the plan printed. Needs root and
// `ip netns`; skipped otherwise. The namespaces are removed afterwards.
import Foundation
import XCTest

final class FleetPlanNetnsEndToEndTests: XCTestCase {
    let coordinatorNS = "sfc-\(getpid())", nodeNS = "sfn-\(getpid())"
    var started: [Process] = []

    /// Runs `ip` with `args`; returns its status.
    @discardableResult
    func ip(_ args: [String]) -> Int32 {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/usr/sbin/ip")
        p.arguments = args
        p.standardOutput = FileHandle.nullDevice
        p.standardError = FileHandle.nullDevice
        guard (try? p.run()) != nil else { return -1 }
        p.waitUntilExit()
        return p.terminationStatus
    }

    override func tearDown() {
        for p in started where p.isRunning { kill(p.processIdentifier, SIGKILL); p.waitUntilExit() }
        ip(["netns", "del", coordinatorNS])
        ip(["netns", "del", nodeNS])
    }

    func testPlanCommandLinesWorkAcrossNetworkNamespaces() throws {
        guard getuid() == 0, FileManager.default.isExecutableFile(atPath: "/usr/sbin/ip") else {
            throw XCTSkip("needs root and ip netns")
        }
        guard ip(["netns", "add", coordinatorNS]) == 0 else { throw XCTSkip("ip netns add is not permitted here") }
        XCTAssertEqual(ip(["netns", "add", nodeNS]), 0)
        let a = "sfa\(getpid() % 100000)", b = "sfb\(getpid() % 100000)"
        for args in [["link", "add", a, "type", "veth", "peer", "name", b],
                     ["link", "set", a, "netns", coordinatorNS], ["link", "set", b, "netns", nodeNS],
                     ["-n", coordinatorNS, "addr", "add", "10.213.0.1/24", "dev", a], ["-n", nodeNS, "addr", "add", "10.213.0.2/24", "dev", b],
                     ["-n", coordinatorNS, "link", "set", a, "up"], ["-n", nodeNS, "link", "set", b, "up"],
                     ["-n", coordinatorNS, "link", "set", "lo", "up"], ["-n", nodeNS, "link", "set", "lo", "up"]] {
            XCTAssertEqual(ip(args), 0, "ip \(args.joined(separator: " "))")
        }

        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("fleet-netns-\(getpid())")
        let topology = FleetRunEndToEndTests.fixtures.appendingPathComponent("tiny.yaml").path
        let plan = try ProcessHarness.run("fleet", ["plan", topology, "--out", dir.path, "--coordinator-host", "10.213.0.1",
                                                     "--bind-host", "10.213.0.1", "--port", "5599", "--json"])
        XCTAssertEqual(plan.status, 0, plan.stderr)
        struct Command: Decodable { var name: String; var executable: String; var arguments: [String] }
        struct Commands: Decodable { var coordinator: Command; var nodes: [Command] }
        let commands = try JSONDecoder().decode(Commands.self, from: Data(plan.stdout.utf8))
        XCTAssertTrue(commands.coordinator.arguments.contains("tcp://10.213.0.1:5599"))
        XCTAssertTrue(commands.nodes.allSatisfy { $0.arguments.contains("tcp://10.213.0.1:5599") && $0.arguments.contains("--key-file") })

        func start(_ c: Command, in ns: String) throws -> Process {
            let p = Process()
            p.executableURL = URL(fileURLWithPath: "/usr/sbin/ip")
            p.arguments = ["netns", "exec", ns, c.executable] + c.arguments
            let log = dir.appendingPathComponent("\(c.name).log").path
            FileManager.default.createFile(atPath: log, contents: nil)
            p.standardOutput = FileHandle(forWritingAtPath: log)
            p.standardError = FileHandle(forWritingAtPath: log)
            try p.run()
            started.append(p)
            return p
        }
        let coordinator = try start(commands.coordinator, in: coordinatorNS)
        for n in commands.nodes { _ = try start(n, in: nodeNS) }
        let deadline = Date().addingTimeInterval(90)
        while coordinator.isRunning && Date() < deadline { usleep(100_000) }
        let log = (try? String(contentsOf: dir.appendingPathComponent("coordinator.log"), encoding: .utf8)) ?? ""
        XCTAssertFalse(coordinator.isRunning, "coordinator did not finish: \(log)")
        XCTAssertEqual(coordinator.terminationStatus, 0, log)
        let summary = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(contentsOf: dir.appendingPathComponent("coordinator/summary.json"))) as? [String: Any])
        XCTAssertEqual(summary["rounds"] as? Int, 2)
        XCTAssertEqual((summary["personalFinal"] as? [String: Any])?.count, 4, "all four devices in the other namespace took part")
    }
}
