// `fleet run` end to end through real processes: a tiny topology (tiny net, synthetic data,
// 4 devices on 2 nodes, CURVE, 2 rounds), then Ctrl-C in the middle of a longer one.
import Engine
import Foundation
import XCTest

final class FleetRunEndToEndTests: XCTestCase {
    /// Tests/FleetTests/Fixtures.
    static let fixtures = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .appendingPathComponent("../FleetTests/Fixtures").standardized

    func scratch() throws -> URL {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("fleet-e2e-\(getpid())-\(UUID().uuidString.prefix(6))")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        return dir
    }

    /// The single run folder under `runs`.
    func runFolder(_ runs: URL) throws -> URL {
        let names = try FileManager.default.contentsOfDirectory(atPath: runs.path)
        XCTAssertEqual(names.count, 1, "\(names)")
        return runs.appendingPathComponent(try XCTUnwrap(names.first))
    }

    func testFleetRunTinyTopology() throws {
        let runs = try scratch()
        let r = try ProcessHarness.run("fleet", ["run", Self.fixtures.appendingPathComponent("tiny.yaml").path, "--runs", runs.path], timeout: 120)
        XCTAssertEqual(r.status, 0, r.stdout + r.stderr)
        XCTAssertTrue(r.stdout.contains("round 2/2"), r.stdout)
        XCTAssertTrue(r.stdout.contains("% of dense FedAvg"), r.stdout)
        let folder = try runFolder(runs)
        for file in ["config.json", "topology.yaml", "commands.sh", "keys/coordinator.key", "keys/node-1.key", "logs/coordinator.log",
                     "logs/node-1.log", "logs/node-2.log", "coordinator/metrics.jsonl", "summary.json", "report.html"] {
            XCTAssertTrue(FileManager.default.fileExists(atPath: folder.appendingPathComponent(file).path), file)
        }
        let summary = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(contentsOf: folder.appendingPathComponent("summary.json"))) as? [String: Any])
        XCTAssertEqual((summary["rounds"] as? [String: Any])?["completed"] as? Int, 2)
        XCTAssertEqual(summary["interrupted"] as? Bool, false)
        XCTAssertEqual(summary["curve"] as? Bool, true)
        let ratio = try XCTUnwrap((summary["bytes"] as? [String: Any])?["uplinkRatioToDense"] as? Double)
        XCTAssertGreaterThan(ratio, 0)
        XCTAssertLessThan(ratio, 1)
        let personal = try XCTUnwrap(summary["personalisedAccuracy"] as? [String: Any])
        XCTAssertEqual(personal["count"] as? Int, 4)
        let keyMode = try FileManager.default.attributesOfItem(atPath: folder.appendingPathComponent("keys/node-1.key").path)[.posixPermissions] as? Int
        XCTAssertEqual(keyMode, 0o600)

        // The report can be regenerated from the folder.
        let report = try ProcessHarness.run("fleet", ["report", folder.path, "--out", folder.appendingPathComponent("again.html").path])
        XCTAssertEqual(report.status, 0, report.stderr)
        XCTAssertTrue(FileManager.default.fileExists(atPath: folder.appendingPathComponent("again.html").path))
    }

    func testSweepRunsEveryCellAndWritesTheComparison() throws {
        let runs = try scratch()
        let r = try ProcessHarness.run("fleet", ["run", Self.fixtures.appendingPathComponent("tiny-sweep.yaml").path, "--runs", runs.path], timeout: 240)
        XCTAssertEqual(r.status, 0, r.stdout + r.stderr)
        XCTAssertTrue(r.stdout.contains("sweep cell 2/2: privacy.noiseMultiplier = 1.0"), r.stdout)
        let root = try runFolder(runs)
        for file in ["topology.yaml", "comparison.json", "comparison.html", "noiseMultiplier-0/summary.json", "noiseMultiplier-1.0/report.html"] {
            XCTAssertTrue(FileManager.default.fileExists(atPath: root.appendingPathComponent(file).path), file)
        }
        let json = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(contentsOf: root.appendingPathComponent("comparison.json"))) as? [String: Any])
        let cells = try XCTUnwrap(json["cells"] as? [[String: Any]])
        XCTAssertEqual(cells.map { $0["label"] as? String }, ["noiseMultiplier-0", "noiseMultiplier-1.0"])
        XCTAssertNil(cells[0]["epsilon"], "z = 0 has no finite ε")
        let eps = try XCTUnwrap(cells[1]["epsilon"] as? Double)
        XCTAssertTrue(eps > 0 && eps.isFinite, "\(eps)")
        for c in cells {
            XCTAssertEqual(c["privacyMode"] as? String, "central")
            let auc = try XCTUnwrap((c["membership"] as? [String: Double])?["global_auc"])
            XCTAssertTrue((0...1).contains(auc))
            XCTAssertEqual(c["roundsCompleted"] as? Int, 2)
        }
        // Both cells ran from the same seed: the same initial model.
        let initial = try [0, 1].map { i -> Double in
            let s = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(contentsOf: root.appendingPathComponent("\(cells[i]["label"]!)/summary.json"))) as? [String: Any])
            return try XCTUnwrap(s["initialGlobalAccuracy"] as? Double)
        }
        XCTAssertEqual(initial[0], initial[1])
        let page = try String(contentsOf: root.appendingPathComponent("comparison.html"), encoding: .utf8)
        XCTAssertTrue(page.contains("Membership-attack AUC against privacy spent"))
        XCTAssertTrue(page.contains("∞ (no noise)"))
        // `fleet report` on the sweep's folder rebuilds the comparison from the cells.
        try FileManager.default.removeItem(at: root.appendingPathComponent("comparison.html"))
        let report = try ProcessHarness.run("fleet", ["report", root.path])
        XCTAssertEqual(report.status, 0, report.stdout + report.stderr)
        XCTAssertTrue(FileManager.default.fileExists(atPath: root.appendingPathComponent("comparison.html").path))
    }

    func testSecureAggregationOverRealSocketsMatchesPlainAggregationWith3_10And50Devices() throws {
        let runs = try scratch()
        let r = try ProcessHarness.run("fleet", ["run", Self.fixtures.appendingPathComponent("tiny-secure.yaml").path, "--runs", runs.path], timeout: 240)
        XCTAssertEqual(r.status, 0, r.stdout + r.stderr)
        let root = try runFolder(runs)
        for n in [3, 10, 50] {
            let secure = root.appendingPathComponent("count-\(n)_mode-candidates")
            let s = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(contentsOf: secure.appendingPathComponent("summary.json"))) as? [String: Any])
            let block = try XCTUnwrap(s["secureAggregation"] as? [String: Any], "n = \(n): summary.json says how the round was aggregated")
            XCTAssertEqual(block["participants"] as? Int, n)
            XCTAssertEqual(block["unmaskedRounds"] as? Int, 1)
            XCTAssertEqual(block["mode"] as? String, "candidates")
            XCTAssertNotNil(block["coordinatorSees"] as? String)
            let valueBits = try XCTUnwrap(block["valueBits"] as? Int), clip = try XCTUnwrap(block["clip"] as? Double)
            let a = try SafeTensors.read(path: secure.appendingPathComponent("coordinator/model-final.safetensors").path)
            let b = try SafeTensors.read(path: root.appendingPathComponent("count-\(n)_mode-off/coordinator/model-final.safetensors").path)
            // The mean of each coordinate is off by less than n / scale (see SecureAggregationRunTests).
            let bound = Double(n) * clip / Double((1 << (valueBits - 1)) - 1)
            var largest = 0.0
            for (name, t) in a.tensors { for (x, y) in zip(t.data, b.tensors[name]!.data) { largest = max(largest, Double(abs(x - y))) } }
            XCTAssertLessThanOrEqual(largest, bound + 1e-6, "n = \(n)")
            XCTAssertTrue(a.tensors != b.tensors, "n = \(n): the secure run quantised (else the test could not tell)")
        }
    }

    /// The tiny fixture stretched to 40 rounds of 30 local steps, long enough to interrupt, in `dir`.
    static func resumableTopology(in dir: URL) throws -> URL {
        let text = try String(contentsOf: fixtures.appendingPathComponent("tiny.yaml"), encoding: .utf8)
            .replacingOccurrences(of: "rounds: {count: 2,", with: "rounds: {count: 40,")
            .replacingOccurrences(of: "localSteps: 3", with: "localSteps: 30")
        let topology = dir.appendingPathComponent("resumable.yaml")
        try text.write(to: topology, atomically: true, encoding: .utf8)
        return topology
    }

    func testResumeContinuesFromTheCheckpointOrRefusesWithoutOne() throws {
        let dir = try scratch()
        let topology = try Self.resumableTopology(in: dir)
        let runs = dir.appendingPathComponent("runs")
        let (p, out, err) = ProcessHarness.process("fleet", ["run", topology.path, "--runs", runs.path])
        try p.run()
        let drained = DispatchGroup()
        for pipe in [out, err] {
            drained.enter()
            DispatchQueue.global().async { _ = pipe.fileHandleForReading.readDataToEndOfFile(); drained.leave() }
        }
        var folder: URL?
        let deadline = Date().addingTimeInterval(60)
        while Date() < deadline && p.isRunning {
            if folder == nil, let name = try? FileManager.default.contentsOfDirectory(atPath: runs.path).first {
                folder = runs.appendingPathComponent(name)
            }
            if let f = folder, let m = try? String(contentsOf: f.appendingPathComponent("coordinator/metrics.jsonl"), encoding: .utf8),
               m.split(separator: "\n").count >= 2 { break }
            usleep(50_000)
        }
        kill(p.processIdentifier, SIGINT)
        p.waitUntilExit()
        drained.wait()
        let f = try XCTUnwrap(folder)
        let done = try String(contentsOf: f.appendingPathComponent("coordinator/metrics.jsonl"), encoding: .utf8).split(separator: "\n").count
        try XCTSkipIf(done >= 40, "the run finished before the interrupt landed")

        let r = try ProcessHarness.run("fleet", ["resume", f.path], timeout: 120)
        let help = try ProcessHarness.run("coordinator", ["--help"])
        if !help.stdout.contains("--resume") {
            XCTAssertNotEqual(r.status, 0)
            XCTAssertTrue(r.stderr.contains("issue 7"), r.stderr)
            return
        }
        XCTAssertEqual(r.status, 0, r.stdout + r.stderr)
        XCTAssertTrue(r.stdout.contains("resuming"), r.stdout)
        let metrics = try String(contentsOf: f.appendingPathComponent("coordinator/metrics.jsonl"), encoding: .utf8).split(separator: "\n")
        let rounds = metrics.compactMap { line -> Int? in
            (try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any])?["round"] as? Int
        }
        XCTAssertEqual(rounds, Array(1...40), "every round once, in order, across the interruption")
        let summary = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(contentsOf: f.appendingPathComponent("summary.json"))) as? [String: Any])
        XCTAssertEqual(summary["interrupted"] as? Bool, false)
        XCTAssertEqual((summary["rounds"] as? [String: Any])?["completed"] as? Int, 40)
    }

    func testCtrlCStopsEveryProcessAndKeepsTheFinishedRounds() throws {
        let dir = try scratch()
        let text = try String(contentsOf: Self.fixtures.appendingPathComponent("tiny.yaml"), encoding: .utf8)
            .replacingOccurrences(of: "rounds: {count: 2,", with: "rounds: {count: 400,")
            .replacingOccurrences(of: "localSteps: 3", with: "localSteps: 30")
        let topology = dir.appendingPathComponent("long.yaml")
        try text.write(to: topology, atomically: true, encoding: .utf8)
        let runs = dir.appendingPathComponent("runs")
        let (p, out, err) = ProcessHarness.process("fleet", ["run", topology.path, "--runs", runs.path, "--grace", "10"])
        try p.run()
        let outData = Captured(), errData = Captured()
        let group = DispatchGroup()
        group.enter(); DispatchQueue.global().async { outData.data = out.fileHandleForReading.readDataToEndOfFile(); group.leave() }
        group.enter(); DispatchQueue.global().async { errData.data = err.fileHandleForReading.readDataToEndOfFile(); group.leave() }
        // Wait for two finished rounds, then Ctrl-C.
        let deadline = Date().addingTimeInterval(60)
        var folder: URL?
        while Date() < deadline {
            if folder == nil, let name = try? FileManager.default.contentsOfDirectory(atPath: runs.path).first {
                folder = runs.appendingPathComponent(name)
            }
            if let f = folder, let m = try? String(contentsOf: f.appendingPathComponent("coordinator/metrics.jsonl"), encoding: .utf8),
               m.split(separator: "\n").count >= 2 { break }
            usleep(100_000)
        }
        let f = try XCTUnwrap(folder)
        let childPids = pids(under: p.processIdentifier)
        XCTAssertEqual(childPids.count, 3, "coordinator and two nodes")
        kill(p.processIdentifier, SIGINT)
        let stopBy = Date().addingTimeInterval(40)
        while p.isRunning && Date() < stopBy { usleep(50_000) }
        if p.isRunning { p.terminate() }
        p.waitUntilExit()
        group.wait()
        let stdout = String(decoding: outData.data, as: UTF8.self)
        XCTAssertEqual(p.terminationStatus, 130, stdout + String(decoding: errData.data, as: UTF8.self))
        XCTAssertTrue(stdout.contains("stopping: SIGINT"), stdout)
        for pid in childPids { XCTAssertNotEqual(kill(pid, 0), 0, "child \(pid) still running") }
        let summary = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(contentsOf: f.appendingPathComponent("summary.json"))) as? [String: Any])
        XCTAssertEqual(summary["interrupted"] as? Bool, true)
        XCTAssertGreaterThanOrEqual((summary["rounds"] as? [String: Any])?["completed"] as? Int ?? 0, 2)
    }

    /// Direct children of `parent` (from /proc).
    func pids(under parent: Int32) -> [Int32] {
        let all = (try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? []
        return all.compactMap(Int32.init).filter { pid in
            guard let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
                  let close = stat.lastIndex(of: ")") else { return false }
            let fields = stat[stat.index(after: close)...].split(separator: " ")
            return fields.count > 2 && Int32(fields[1]) == parent
        }
    }
}
