// The launcher's summary and the HTML report, built from a recorded run of the tiny topology
// (Fixtures/run: the coordinator's metrics.jsonl and summary.json from `fleet run Fixtures/tiny.yaml`).
@testable import FleetKit
import Federation
import XCTest

final class SummaryReportTests: XCTestCase {
    let fixtures = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Fixtures")

    func load() throws -> (Topology, [RoundMetrics], RunSummary, FleetSummary) {
        let t = try TopologyParser.load(path: fixtures.appendingPathComponent("tiny.yaml").path)
        let metrics = SummaryBuilder.readMetrics(path: fixtures.appendingPathComponent("run/metrics.jsonl").path)
        let coordinator = try XCTUnwrap(SummaryBuilder.readCoordinatorSummary(path: fixtures.appendingPathComponent("run/summary.json").path))
        let s = try SummaryBuilder.build(topology: t, metrics: metrics, coordinator: coordinator, realSeconds: 12.5, interrupted: false)
        return (t, metrics, coordinator, s)
    }

    func testSummaryFiguresComeFromTheMetrics() throws {
        let (t, metrics, coordinator, s) = try load()
        XCTAssertEqual(metrics.count, 2)
        XCTAssertEqual(s.rounds.planned, t.rounds.count)
        XCTAssertEqual(s.rounds.completed, 2)
        XCTAssertEqual(s.finalGlobalAccuracy, metrics.last!.testAccuracy)
        XCTAssertEqual(s.initialGlobalAccuracy, coordinator.initialTestAccuracy)
        let updates = metrics.reduce(0) { $0 + $1.updateBytes.values.reduce(0, +) }
        let dense = metrics.reduce(0) { $0 + $1.updateBytes.count * $1.denseModelBytes }
        XCTAssertEqual(s.bytes.uplinkUpdates, updates)
        XCTAssertEqual(s.bytes.denseFedAvgUplink, dense)
        XCTAssertEqual(s.bytes.uplinkRatioToDense, Double(updates) / Double(dense), accuracy: 1e-12)
        XCTAssertLessThan(s.bytes.uplinkRatioToDense, 1)
        XCTAssertEqual(s.personalisedAccuracy.count, coordinator.personalFinal.count)
        XCTAssertEqual(s.personalisedAccuracy.perDevice, coordinator.personalFinal)
        XCTAssertEqual(s.memory.map(\.group), ["small", "large"])
        for m in s.memory { XCTAssertLessThanOrEqual(m.peakBytes, m.budgetBytes) }
        XCTAssertGreaterThan(s.weightsUpdatedPercent, 0)
        XCTAssertLessThanOrEqual(s.weightsUpdatedPercent, 100)
        XCTAssertEqual(s.channelCoverage, metrics.last!.coverageCumulative)
        XCTAssertEqual(s.wallTime.realSeconds, 12.5)
        XCTAssertEqual(s.wallTime.simulatedRounds.count, 2)
        XCTAssertGreaterThan(s.wallTime.simulatedSeconds, 0)
        XCTAssertFalse(s.interrupted)
    }

    func testSummaryFieldNamesAreStable() throws {
        let (_, _, _, s) = try load()
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("fleet-summary-\(getpid())")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        let path = dir.appendingPathComponent("summary.json").path
        try SummaryBuilder.write(s, to: path)
        let json = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: path))) as? [String: Any])
        for key in ["schema", "topology", "finalGlobalAccuracy", "initialGlobalAccuracy", "personalisedAccuracy", "bytes", "memory",
                    "weightsUpdatedPercent", "channelCoverage", "meanChannelCoverage", "rounds", "wallTime", "failures", "interrupted"] {
            XCTAssertNotNil(json[key], key)
        }
        let bytes = try XCTUnwrap(json["bytes"] as? [String: Any])
        for key in ["uplinkUpdates", "denseFedAvgUplink", "uplinkRatioToDense"] { XCTAssertNotNil(bytes[key], key) }
        for key in ["uplink", "downlink"] { XCTAssertNil(bytes[key], "\(key) counts heartbeats (real clock): timing.json") }
        let wall = try XCTUnwrap(json["wallTime"] as? [String: Any])
        XCTAssertNotNil(wall["simulatedSeconds"])
        XCTAssertNil(wall["realSeconds"], "real seconds are this machine's, not the seed's: timing.json")
        let timing = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(contentsOf: dir.appendingPathComponent("timing.json"))) as? [String: Any])
        XCTAssertEqual(timing["realSeconds"] as? Double, 12.5)
        XCTAssertEqual(timing["uplink"] as? Int, s.bytes.uplink)
        let memory = try XCTUnwrap((json["memory"] as? [[String: Any]])?.first)
        for key in ["group", "budgetBytes", "peakBytes"] { XCTAssertNotNil(memory[key], key) }
        XCTAssertEqual(json["schema"] as? String, "sparsefleet.fleet-summary/2")
        XCTAssertEqual(try SummaryBuilder.read(path: path), s)
    }

    func testReportIsSelfContainedWithFiveLabelledCharts() throws {
        let (_, metrics, _, s) = try load()
        let html = HTMLReport.html(summary: s, metrics: metrics)
        XCTAssertEqual(html.components(separatedBy: "<svg ").count - 1, 5)
        for title in ["Global accuracy per round", "Personalised accuracy distribution", "Bytes per round against dense",
                      "Memory per device against its budget", "Channel coverage per update layer"] {
            XCTAssertTrue(html.contains(title), title)
        }
        for label in ["test accuracy (%)", "devices", "bytes per round (log scale", "SRAM of one training step", "channels touched"] {
            XCTAssertTrue(html.contains(label), label)
        }
        // No external assets: no scripts, stylesheets, images or fonts fetched from anywhere.
        XCTAssertFalse(html.contains("<script"))
        XCTAssertFalse(html.contains("<link"))
        XCTAssertFalse(html.contains("src="))
        XCTAssertEqual(html.components(separatedBy: "http").count - 1, 5, "only the SVG namespace URIs")
        // Every device's row: its personalised accuracy after the final round and its budget.
        let r = try XCTUnwrap(s.personalisation)
        XCTAssertEqual(Set(r.devices.keys), Set(s.personalisedAccuracy.perDevice.keys))
        XCTAssertTrue(html.contains("Every device (personalisation.method: \(r.method))"))
        XCTAssertEqual(html.components(separatedBy: "<tr>").count - 1, r.devices.count + 1)
    }

    func testSimulatedClockChargesComputeTransferAndLosses() throws {
        let (t, metrics, _, _) = try load()
        var quiet = t
        quiet.network.dropProbability = 0
        let plans = try BudgetCheck.plans(quiet)
        let clock = SimulatedClock(topology: quiet, plans: plans, fleet: FleetPlan(quiet))
        let r = clock.round(metrics[0])
        XCTAssertEqual(r.retransmissions, 0)
        // The slowest device: compute + two transfers, each latency + 8·bytes/bandwidth.
        XCTAssertGreaterThan(r.computeSeconds, 0)
        XCTAssertGreaterThanOrEqual(r.transferSeconds, 2 * quiet.network.latencyMs / 1000)
        XCTAssertEqual(r.seconds, r.computeSeconds + r.transferSeconds, accuracy: 1e-9)
        var capped = quiet
        capped.simulatedDeadlineMs = 10
        XCTAssertEqual(SimulatedClock(topology: capped, plans: plans, fleet: FleetPlan(capped)).round(metrics[0]).seconds, 0.01, accuracy: 1e-12)
        var lossy = quiet
        lossy.network.dropProbability = 0.5
        let l = SimulatedClock(topology: lossy, plans: plans, fleet: FleetPlan(lossy)).round(metrics[0])
        XCTAssertGreaterThan(l.retransmissions, 0)
        XCTAssertGreaterThan(l.seconds, r.seconds)
        XCTAssertEqual(l, SimulatedClock(topology: lossy, plans: plans, fleet: FleetPlan(lossy)).round(metrics[0]), "seeded: reproducible")
    }

    func testAnInterruptedRunFolderIsSummarisedFromWhatTheCoordinatorWrote() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("fleet-interrupted-\(getpid())").path
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let folder = RunFolder(path: dir)
        try folder.create()
        XCTAssertThrowsError(try SummaryBuilder.summary(of: folder)) { XCTAssertTrue($0 is RunFolderError, "\($0)") }
        // What `fleet run` leaves when it is stopped before writing summary.json.
        for (from, to) in [("tiny.yaml", folder.topology), ("run/metrics.jsonl", folder.metrics), ("run/summary.json", folder.coordinatorSummary)] {
            try FileManager.default.copyItem(atPath: fixtures.appendingPathComponent(from).path, toPath: to)
        }
        let rebuilt = try SummaryBuilder.summary(of: folder)
        XCTAssertTrue(rebuilt.interrupted)
        XCTAssertEqual(rebuilt.rounds.completed, 2)
        XCTAssertEqual(rebuilt.finalGlobalAccuracy, try load().3.finalGlobalAccuracy)
        // Once the launcher wrote summary.json, that is the summary.
        var written = rebuilt
        written.interrupted = false
        try SummaryBuilder.write(written, to: folder.summary)
        XCTAssertFalse(try SummaryBuilder.summary(of: folder).interrupted)
    }

    func testSweepComparisonGroupsLinesAndPlacesNoNoiseAtInfinity() throws {
        let (_, _, _, s) = try load()
        let text = try String(contentsOf: fixtures.appendingPathComponent("tiny.yaml"), encoding: .utf8)
            + "privacy: {mode: central, clip: 1}\nsweep:\n  privacy.noiseMultiplier: [0, 1, 2]\n  groups[*].policy: [static, dgsu]\n"
        let t = try TopologyParser.parse(text, file: "tiny.yaml")
        XCTAssertEqual(t.cells.count, 6)
        var summaries: [(label: String, summary: FleetSummary)] = []
        for (i, cell) in t.cells.enumerated() {
            var x = s
            let z = Double(cell.settings[0].value)!
            x.privacy = PrivacySummary(mode: "central", clip: 1, noiseMultiplier: z, samplingRate: 1, sampling: "poisson", variableRoundSize: true,
                                       delta: 1e-3, epsilon: z == 0 ? nil : 20 / z, rounds: 2, stoppedAtMaxEpsilon: false, guarantee: "")
            x.finalGlobalAccuracy = 0.5 + Double(i) / 100
            x.membership = MembershipSummary(["dev-0": ["mia_global_auc": 0.6, "mia_personal_auc": 0.7], "dev-1": ["mia_global_auc": 0.5, "mia_personal_auc": 0.8]])
            summaries.append((cell.label, x))
        }
        let c = SweepComparison(topology: t, summaries: summaries)
        XCTAssertEqual(c.lines.map(\.name), ["policy=static", "policy=dgsu"], "one line per policy; z moves ε")
        XCTAssertEqual(c.lines[0].cells.map(\.epsilon), [nil, 20, 10])
        XCTAssertEqual(c.cells[0].membership["global_auc"]!, 0.55, accuracy: 1e-12)
        XCTAssertEqual(c.cells[5].globalAccuracy, 0.55, accuracy: 1e-12)
        let page = ComparisonReport.html(c)
        XCTAssertEqual(page.components(separatedBy: "<svg").count - 1, 3, "global, personalised, membership AUC")
        XCTAssertTrue(page.contains("∞ (no noise)"))
        XCTAssertTrue(page.contains("ε spent (log scale"))
        XCTAssertFalse(page.contains("<script"))
        let lines = SummaryTable.comparison(c).split(separator: "\n")
        XCTAssertEqual(lines.count, 7)
        XCTAssertEqual(Set(lines.map(\.count)).count, 1, "\(lines)")
        // JSON round trip keeps every figure, and a sweep without DP is laid out by cell.
        let path = NSTemporaryDirectory() + "comparison-\(getpid()).json"
        try c.write(to: path)
        XCTAssertEqual(try SweepComparison.read(path: path), c)
        var plain = c
        for i in plain.cells.indices { plain.cells[i].epsilon = nil }
        XCTAssertTrue(ComparisonReport.html(plain).contains("cell (no cell spent a finite ε)"))
    }

    func testAMethodSweepComparesEachDeviceWithItsLocalSelfInTheSameAlpha() throws {
        let (_, _, _, s) = try load()
        let text = try String(contentsOf: fixtures.appendingPathComponent("tiny.yaml"), encoding: .utf8)
            + "sweep:\n  partition.alpha: [0.1, 1.0]\n  personalisation.method: [local, fedper, ditto]\n"
        let t = try TopologyParser.parse(text.replacingOccurrences(of: "partition: {kind: iid}", with: "partition: {kind: dirichlet, alpha: 0.5}")
            .replacingOccurrences(of: "personalisation: {personal: head}", with: "personalisation: {method: fedper}"), file: "tiny.yaml")
        XCTAssertEqual(t.cells.count, 6)
        var summaries: [(label: String, summary: FleetSummary)] = []
        for cell in t.cells {
            var x = s
            let alpha = Double(cell.settings[0].value)!, method = cell.settings[1].value
            // local: 0.5 (α 0.1) or 0.6 (α 1.0) on every device; fedper +0.1 on dev-0, −0.1 on dev-1; ditto +0.2 on both.
            let base = alpha < 0.5 ? 0.5 : 0.6
            let delta: [String: Double] = method == "local" ? ["dev-0": 0, "dev-1": 0] : method == "fedper" ? ["dev-0": 0.1, "dev-1": -0.1] : ["dev-0": 0.2, "dev-1": 0.2]
            x.personalisedAccuracy.perDevice = delta.mapValues { base + $0 }
            x.personalisation = PersonalisationReport(method: method, devices: [:])
            summaries.append((cell.label, x))
        }
        let c = SweepComparison(topology: t, summaries: summaries)
        func cell(_ alpha: String, _ method: String) -> SweepComparison.Cell { c.cells.first { $0.label == "alpha-\(alpha)_method-\(method)" }! }
        for alpha in ["0.1", "1.0"] {
            XCTAssertNil(cell(alpha, "local").gainOverLocal)
            let fedper = try XCTUnwrap(cell(alpha, "fedper").gainOverLocal)
            XCTAssertEqual(fedper.perDevice["dev-0"]!, 0.1, accuracy: 1e-12, "the local cell of the same α")
            XCTAssertEqual(fedper.perDevice["dev-1"]!, -0.1, accuracy: 1e-12)
            XCTAssertEqual(fedper.mean, 0, accuracy: 1e-12)
            XCTAssertEqual(fedper.shareGaining, 0.5)
            let ditto = try XCTUnwrap(cell(alpha, "ditto").gainOverLocal)
            XCTAssertEqual(ditto.mean, 0.2, accuracy: 1e-12)
            XCTAssertEqual(ditto.shareGaining, 1)
        }
        let page = ComparisonReport.html(c)
        XCTAssertTrue(page.contains("Gain over local-only training, per device"))
        XCTAssertEqual(page.components(separatedBy: "<circle").count - 1 >= 8, true, "one dot per device per non-local cell")
        XCTAssertTrue(SummaryTable.comparison(c).contains("gain vs local"))
    }

    func testTableAndProgressText() throws {
        let (_, metrics, _, s) = try load()
        let table = SummaryTable.render(s)
        XCTAssertTrue(table.contains("global accuracy"))
        XCTAssertTrue(table.contains("% of dense FedAvg"))
        let line = ProgressLine(planned: 2, started: Date(timeIntervalSinceNow: -5)).text(Array(metrics.prefix(1)))
        XCTAssertTrue(line.contains("round 1/2"), line)
        XCTAssertTrue(line.contains("devices 4/4"), line)
        XCTAssertTrue(line.contains("ETA"), line)
    }
}
