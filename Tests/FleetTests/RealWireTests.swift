// The real-wire side of a topology's network block (`proxy: on`): parsing and refusals, the
// fault plan it gives the proxy, network.json, and the "real wire" line of the summary.
@testable import FleetKit
import Federation
import Transport
import XCTest

final class RealWireTests: XCTestCase {
    let base = """
        # Real wire.
        name: t
        seed: 21
        groups:
          - {name: g, count: 2, budget: 64KB}

        """

    func refusal(_ network: String) -> TopologyError? {
        do {
            _ = try TopologyParser.parse(base + network, file: "t.yaml")
            XCTFail("expected a refusal: \(network)")
        } catch let e as TopologyError {
            return e
        } catch {
            XCTFail("unexpected error \(error)")
        }
        return nil
    }

    func testProxyIsOffByDefaultAndTheRealWireKeysParse() throws {
        let plain = try TopologyParser.parse(base + "network: {dropProbability: 0.2}")
        XCTAssertFalse(plain.network.proxy)
        XCTAssertEqual(plain.network.duplicateProbability, 0)
        let t = try TopologyParser.parse(base + """
            network: {proxy: on, latencyMs: 30, jitterMs: 12, dropProbability: 0.1, duplicateProbability: 0.25, reorderProbability: 0.05}
            """)
        XCTAssertTrue(t.network.proxy)
        XCTAssertEqual(t.network.jitterMs, 12)
        XCTAssertEqual(t.network.duplicateProbability, 0.25)
        XCTAssertEqual(t.network.reorderProbability, 0.05)
        let plan = t.network.faultPlan(seed: t.seed)
        XCTAssertEqual(plan.upstream, plan.downstream, "both directions alike")
        XCTAssertEqual(plan.upstream.dropProbability, 0.1)
        XCTAssertEqual(plan.upstream.duplicateProbability, 0.25)
        XCTAssertEqual(plan.upstream.reorderProbability, 0.05)
        XCTAssertEqual(plan.upstream.latencyMs, 30)
        XCTAssertEqual(plan.upstream.jitterMs, 12)
        XCTAssertEqual(plan, t.network.faultPlan(seed: 21), "seeded from the topology seed")
        XCTAssertNotEqual(plan.seed, t.network.faultPlan(seed: 22).seed)
        XCTAssertNoThrow(try plan.validate())
    }

    func testRealWireKeysAreRangeCheckedAndNeedTheProxy() throws {
        let cases: [(String, String, String)] = [
            ("network: {proxy: on, duplicateProbability: 1.5}", "network.duplicateProbability", "out of range; allowed [0.0, 1.0]"),
            ("network: {proxy: on, reorderProbability: -0.1}", "network.reorderProbability", "out of range"),
            ("network: {proxy: on, jitterMs: 90000}", "network.jitterMs", "out of range; allowed [0.0, 60000.0]"),
            ("network: {proxy: on, jitterMs: lots}", "network.jitterMs", "expected a number"),
            ("network: {proxy: maybe}", "network.proxy", "expected true or false"),
            ("network: {proxy: on, latencyMs: 120000}", "network.latencyMs", "too long for the real wire"),
            ("network: {duplicateProbability: 0.1}", "network.duplicateProbability", "add `proxy: on`"),
            ("network: {jitterMs: 5}", "network.jitterMs", "add `proxy: on`"),
            ("network: {proxy: on, dupicateProbability: 0.1}", "network.dupicateProbability", "did you mean 'duplicateProbability'"),
        ]
        for (text, key, message) in cases {
            guard let e = refusal(text) else { continue }
            XCTAssertEqual(e.key, key, text)
            XCTAssertTrue(e.problem.contains(message), "\(text): \(e.problem)")
            XCTAssertNotNil(e.line, text)
        }
    }

    func testTheFlakyNetworkTopologyUsesTheProxy() throws {
        let path = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("../../topologies/flaky-network.yaml").standardized.path
        let t = try TopologyParser.load(path: path)
        XCTAssertTrue(t.network.proxy)
        XCTAssertGreaterThan(t.network.dropProbability, 0)
        XCTAssertGreaterThan(t.network.duplicateProbability, 0)
        XCTAssertGreaterThan(t.network.reorderProbability, 0)
    }

    func testNetworkJSONRoundTripsAndTheSummaryShowsTheRealWire() throws {
        var c = ProxyCounters()
        c.upstream.received = 1000; c.upstream.dropped = 50; c.upstream.duplicated = 10; c.upstream.forwarded = 960
        c.downstream.received = 234; c.downstream.dropped = 11; c.downstream.duplicated = 2; c.downstream.forwarded = 225
        c.downstream.delayed = 7; c.downstream.reordered = 3
        let record = WireRecord(plan: FaultPlan(seed: 5, both: FaultRates(dropProbability: 0.05)), frontend: "tcp://127.0.0.1:1",
                                upstream: "tcp://127.0.0.1:2", counters: c)
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("fleet-wire-\(getpid())")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let folder = RunFolder(path: dir.path)
        try WireProxy.write(record, to: folder.network)
        XCTAssertEqual(WireProxy.read(path: folder.network), record)
        XCTAssertNil(WireProxy.read(path: folder.path + "/missing.json"))

        XCTAssertEqual(SummaryTable.realWire(c), "1,234 messages, 61 dropped, 12 duplicated, 7 delayed, 3 reordered, 0 undeliverable")
        XCTAssertEqual(SummaryTable.count(0), "0")
        XCTAssertEqual(SummaryTable.count(999), "999")
        XCTAssertEqual(SummaryTable.count(1_234_567), "1,234,567")
        XCTAssertEqual((c + c).total.received, 2468, "a resumed run adds its counters")

        let fixtures = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Fixtures")
        let t = try TopologyParser.load(path: fixtures.appendingPathComponent("tiny.yaml").path)
        let metrics = SummaryBuilder.readMetrics(path: fixtures.appendingPathComponent("run/metrics.jsonl").path)
        let without = try SummaryBuilder.build(topology: t, metrics: metrics, coordinator: nil, realSeconds: 1, interrupted: false)
        XCTAssertNil(without.realWire)
        XCTAssertFalse(SummaryTable.render(without).contains("real wire"))
        let with = try SummaryBuilder.build(topology: t, metrics: metrics, coordinator: nil, realSeconds: 1, interrupted: false, realWire: c)
        XCTAssertTrue(SummaryTable.render(with).contains("real wire"))
        XCTAssertTrue(SummaryTable.render(with).contains("61 dropped"))
        XCTAssertTrue(HTMLReport.html(summary: with, metrics: metrics).contains("61 dropped"))
        try SummaryBuilder.write(with, to: folder.summary)
        XCTAssertEqual(try SummaryBuilder.read(path: folder.summary).realWire, c)
        let json = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: folder.summary))) as? [String: Any])
        XCTAssertNotNil((json["realWire"] as? [String: Any])?["upstream"])
    }
}
