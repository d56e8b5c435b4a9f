// `fleet run` with `network.proxy: on`: a tiny CURVE fleet (tiny net, synthetic data, 4 devices
// on 2 nodes, 4 rounds) through the fault proxy, which really drops and duplicates messages.
// The run must complete, the proxy's counts must be in network.json and summary.json, and the
// coordinator's refusals of duplicate UPDATEs must be explained by the duplicates it counted.
import Foundation
import XCTest

final class FleetProxyEndToEndTests: XCTestCase {
    static let topology = """
        # Tiny through the fault proxy: real drops, duplicates and reordering between nodes and coordinator.
        name: tiny-proxy
        seed: 3
        dataset: {name: synthetic, syntheticCount: 400}
        preprocessing: {resolution: 16}
        model: {name: tiny, weights: none}
        groups:
          - {name: small, count: 4, budget: 64KB, policy: dgsu, localSteps: 3, batch: 2, lr: 0.05, mflops: 20}
        partition: {kind: iid}
        rounds: {count: 4, deadline: 2s, joinWait: 20s, finalWait: 3s}
        curve: on
        nodes: {count: 2}
        network: {proxy: on, latencyMs: 2, jitterMs: 3, dropProbability: 0.05, duplicateProbability: 0.4, reorderProbability: 0.05}
        heartbeatMs: 200

        """

    func json(_ url: URL) throws -> [String: Any] {
        try XCTUnwrap(JSONSerialization.jsonObject(with: Data(contentsOf: url)) as? [String: Any], url.path)
    }

    func testATinyFleetCompletesThroughTheFaultProxy() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("fleet-proxy-e2e-\(getpid())-\(UUID().uuidString.prefix(6))")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        let file = dir.appendingPathComponent("tiny-proxy.yaml")
        try Self.topology.write(to: file, atomically: true, encoding: .utf8)
        let runs = dir.appendingPathComponent("runs")
        let r = try ProcessHarness.run("fleet", ["run", file.path, "--runs", runs.path], timeout: 120)
        XCTAssertEqual(r.status, 0, r.stdout + r.stderr)
        XCTAssertTrue(r.stdout.contains("nodes connect to the fault proxy"), r.stdout)
        XCTAssertTrue(r.stdout.contains("real wire"), r.stdout)
        let names = try FileManager.default.contentsOfDirectory(atPath: runs.path)
        let folder = runs.appendingPathComponent(try XCTUnwrap(names.first))

        let summary = try json(folder.appendingPathComponent("summary.json"))
        XCTAssertEqual((summary["rounds"] as? [String: Any])?["completed"] as? Int, 4, "every round completes despite the faults")
        XCTAssertEqual(summary["interrupted"] as? Bool, false)
        let wire = try XCTUnwrap(summary["realWire"] as? [String: Any], "summary.json has the proxy's counters")
        let network = try json(folder.appendingPathComponent("network.json"))
        XCTAssertEqual(network["schema"] as? String, "sparsefleet.network/1")
        let counters = try XCTUnwrap(network["counters"] as? [String: Any])
        XCTAssertEqual(NSDictionary(dictionary: counters), NSDictionary(dictionary: wire), "network.json and summary.json agree")

        var total: [String: Int] = [:]
        for direction in ["upstream", "downstream"] {
            let c = try XCTUnwrap(counters[direction] as? [String: Int], direction)
            XCTAssertGreaterThan(c["received"] ?? 0, 0, direction)
            XCTAssertEqual(c["received"]! - c["dropped"]! + c["duplicated"]!, c["forwarded"]! + c["undeliverable"]! + c["waiting"]!,
                           "\(direction) counts add up: \(c)")
            XCTAssertEqual(c["waiting"], 0, "nothing waits once the proxy stopped")
            for (k, v) in c { total[k, default: 0] += v }
        }
        XCTAssertGreaterThan(total["dropped"] ?? 0, 0, "the proxy really dropped messages")
        XCTAssertGreaterThan(total["duplicated"] ?? 0, 0, "the proxy really duplicated messages")
        XCTAssertGreaterThanOrEqual(counters["connectionsOpened"] as? Int ?? 0, 2, "one upstream connection per node at least")

        // The coordinator refused the second copies: each DUPLICATE needs a duplicated UPDATE (or a
        // duplicated TASK answered again from a node's cache), so there are no more than the proxy made.
        let log = try String(contentsOf: folder.appendingPathComponent("logs/coordinator.log"), encoding: .utf8)
        let duplicateRefusals = log.components(separatedBy: "duplicate update from device").count - 1
        XCTAssertGreaterThan(duplicateRefusals, 0, "duplicated UPDATEs are refused as DUPLICATE")
        XCTAssertLessThanOrEqual(duplicateRefusals, total["duplicated"] ?? 0)
        let refused = try XCTUnwrap(summary["refusedMessages"] as? Int)
        XCTAssertGreaterThanOrEqual(refused, duplicateRefusals)
        // Lost TASKs and UPDATEs make stragglers; with nothing dropped there could be none.
        let failures = (summary["failures"] as? [String: Int] ?? [:]).values.reduce(0, +)
        if failures > 0 { XCTAssertGreaterThan(total["dropped"] ?? 0, 0) }
    }
}
