// `fleet submit --slurm` on a real Slurm cluster: the one-machine cluster `make test` starts
// (tools/slurm-cluster.sh: slurmctld and 3 slurmd daemons as nodes n1–n3, munge), reached through
// SLURM_CONF. A topology submitted as a job writes the same summary.json, byte for byte, as
// `fleet run` of it here; its node processes run as separate Slurm tasks on different Slurm nodes;
// `fleet cancel` mid-run and `fleet resume --slurm` finish every round once.
import Foundation
import XCTest

final class SlurmEndToEndTests: XCTestCase {
    static let fixtures = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .appendingPathComponent("../FleetTests/Fixtures").standardized

    override func setUpWithError() throws {
        try XCTSkipIf(ProcessInfo.processInfo.environment["SLURM_CONF"] == nil,
                      "no Slurm cluster: `make test` starts one (tools/slurm-cluster.sh start) and sets SLURM_CONF")
    }

    func scratch() throws -> URL {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("fleet-slurm-\(getpid())-\(UUID().uuidString.prefix(6))")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        return dir
    }

    func onlyFolder(_ runs: URL) throws -> URL {
        let names = try FileManager.default.contentsOfDirectory(atPath: runs.path).filter { !$0.hasPrefix(".") }
        XCTAssertEqual(names.count, 1, "\(names)")
        return runs.appendingPathComponent(try XCTUnwrap(names.first))
    }

    /// `fleet status` until the job has left the queue and written its summary (or `timeout`).
    func waitForJob(_ folder: URL, timeout: TimeInterval = 240) throws -> String {
        let deadline = Date().addingTimeInterval(timeout)
        var last = ""
        while Date() < deadline {
            last = try ProcessHarness.run("fleet", ["status", folder.path]).stdout
            let ended = !last.contains("state RUNNING") && !last.contains("state PENDING") && !last.contains("state CONFIGURING")
                && !last.contains("state COMPLETING")
            if ended && FileManager.default.fileExists(atPath: folder.appendingPathComponent("slurm/steps.txt").path),
               let steps = try? String(contentsOf: folder.appendingPathComponent("slurm/steps.txt"), encoding: .utf8),
               steps.contains("finish exited") || steps.contains("failed") { return last }
            usleep(500_000)
        }
        XCTFail("the job did not end in \(Int(timeout)) s; last status:\n\(last)")
        return last
    }

    func submit(_ topology: URL, runs: URL, extra: [String] = []) throws -> URL {
        let r = try ProcessHarness.run("fleet", ["submit", topology.path, "--slurm", "--runs", runs.path, "--nodes", "2",
                                                 "--bin-dir", ProcessHarness.productsDirectory.path] + extra)
        XCTAssertEqual(r.status, 0, r.stdout + r.stderr)
        XCTAssertTrue(r.stdout.contains("fleet status"), r.stdout)
        return try onlyFolder(runs)
    }

    func testASubmittedJobWritesTheSameSummaryAsFleetRunFromTasksOnTwoSlurmNodes() throws {
        let dir = try scratch()
        let topology = Self.fixtures.appendingPathComponent("tiny.yaml")
        let local = try ProcessHarness.run("fleet", ["run", topology.path, "--runs", dir.appendingPathComponent("local").path], timeout: 120)
        XCTAssertEqual(local.status, 0, local.stdout + local.stderr)
        let localFolder = try onlyFolder(dir.appendingPathComponent("local"))

        let folder = try submit(topology, runs: dir.appendingPathComponent("slurm"))
        XCTAssertTrue(FileManager.default.fileExists(atPath: folder.appendingPathComponent("job.sbatch").path))
        let status = try waitForJob(folder)
        XCTAssertTrue(status.contains("COMPLETED"), status)
        let steps = try String(contentsOf: folder.appendingPathComponent("slurm/steps.txt"), encoding: .utf8)
        XCTAssertTrue(steps.contains("coordinator exited 0"), steps)
        XCTAssertTrue(steps.contains("finish exited 0"), steps)

        let a = try Data(contentsOf: localFolder.appendingPathComponent("summary.json"))
        let b = try Data(contentsOf: folder.appendingPathComponent("summary.json"))
        XCTAssertEqual(a, b, "the same topology and seed: summary.json byte for byte, whichever engine launched it")
        XCTAssertTrue(FileManager.default.fileExists(atPath: folder.appendingPathComponent("report.html").path))
        XCTAssertTrue(FileManager.default.fileExists(atPath: folder.appendingPathComponent("timing.json").path))

        // Each node process was its own Slurm task, and they ran on more than one Slurm node.
        let tasks = try String(contentsOf: folder.appendingPathComponent("slurm/tasks.txt"), encoding: .utf8)
            .split(separator: "\n").map { $0.split(separator: " ") }
        XCTAssertEqual(Set(tasks.map { String($0[0]) }), ["node-1", "node-2"], "\(tasks)")
        XCTAssertEqual(Set(tasks.map { String($0[2]) }), ["0", "1"], "task ids")
        XCTAssertGreaterThan(Set(tasks.map { String($0.last!) }).count, 1, "node processes on more than one Slurm node: \(tasks)")
    }

    func testCancelMidRunThenResumeOnSlurmFinishesEveryRoundOnce() throws {
        let dir = try scratch()
        let topology = try FleetRunEndToEndTests.resumableTopology(in: dir)
        let reference = try ProcessHarness.run("fleet", ["run", topology.path, "--runs", dir.appendingPathComponent("local").path], timeout: 240)
        XCTAssertEqual(reference.status, 0, reference.stdout + reference.stderr)
        let referenceMetrics = try metrics(try onlyFolder(dir.appendingPathComponent("local")))

        let folder = try submit(topology, runs: dir.appendingPathComponent("slurm"))
        let deadline = Date().addingTimeInterval(120)
        while Date() < deadline, (try? metrics(folder).count) ?? 0 < 3 { usleep(100_000) }
        let cancel = try ProcessHarness.run("fleet", ["cancel", folder.path])
        XCTAssertEqual(cancel.status, 0, cancel.stdout + cancel.stderr)
        _ = try waitForJob(folder)
        let before = try metrics(folder)
        try XCTSkipIf(before.count >= 40, "the run finished before the cancel landed")
        let first = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(contentsOf: folder.appendingPathComponent("summary.json"))) as? [String: Any])
        XCTAssertEqual(first["interrupted"] as? Bool, true, "cancelled: summary written, marked interrupted")
        XCTAssertTrue(FileManager.default.fileExists(atPath: folder.appendingPathComponent("coordinator/checkpoint.safetensors").path))
        // The rounds before the cancel are the uninterrupted run's rounds.
        for (m, r) in zip(before, referenceMetrics) {
            XCTAssertEqual(m["round"] as? Int, r["round"] as? Int)
            XCTAssertEqual(m["testAccuracy"] as? Double, r["testAccuracy"] as? Double, "round \(m["round"] ?? "?")")
        }

        let resume = try ProcessHarness.run("fleet", ["resume", folder.path, "--slurm", "--bin-dir", ProcessHarness.productsDirectory.path])
        XCTAssertEqual(resume.status, 0, resume.stdout + resume.stderr)
        XCTAssertTrue(resume.stdout.contains("resuming"), resume.stdout)
        try? FileManager.default.removeItem(at: folder.appendingPathComponent("slurm/steps.txt"))
        let status = try waitForJob(folder)
        XCTAssertTrue(status.contains("COMPLETED"), status)
        let after = try metrics(folder)
        XCTAssertEqual(after.compactMap { $0["round"] as? Int }, Array(1...40), "every round once, in order, across the cancel")
        let summary = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(contentsOf: folder.appendingPathComponent("summary.json"))) as? [String: Any])
        XCTAssertEqual(summary["interrupted"] as? Bool, false)
        XCTAssertEqual((summary["rounds"] as? [String: Any])?["completed"] as? Int, 40)
        XCTAssertEqual((summary["rounds"] as? [String: Any])?["completed"] as? Int,
                       referenceMetrics.count, "as many rounds as the uninterrupted run")
    }

    func testClusterMistakesAreRefusedWithTheFix() throws {
        let dir = try scratch()
        let topology = Self.fixtures.appendingPathComponent("tiny.yaml").path
        let partition = try ProcessHarness.run("fleet", ["submit", topology, "--slurm", "--runs", dir.path, "--partition", "gpu-nope"])
        XCTAssertNotEqual(partition.status, 0)
        XCTAssertTrue(partition.stderr.contains("partition 'gpu-nope' does not exist") && partition.stderr.contains("debug"), partition.stderr)
        let short = try ProcessHarness.run("fleet", ["submit", topology, "--slurm", "--runs", dir.path, "--time", "0:01"])
        XCTAssertNotEqual(short.status, 0)
        XCTAssertTrue(short.stderr.contains("shorter than this topology's estimate"), short.stderr)
        let noEngine = try ProcessHarness.run("fleet", ["submit", topology, "--runs", dir.path])
        XCTAssertNotEqual(noEngine.status, 0)
        XCTAssertTrue(noEngine.stderr.contains("--slurm"), noEngine.stderr)
        XCTAssertEqual((try? FileManager.default.contentsOfDirectory(atPath: dir.path)) ?? [], [], "nothing queued or written")
    }

    func metrics(_ folder: URL) throws -> [[String: Any]] {
        let text = try String(contentsOf: folder.appendingPathComponent("coordinator/metrics.jsonl"), encoding: .utf8)
        return text.split(separator: "\n").compactMap { try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any] }
    }
}

extension SlurmEndToEndTests {
    /// A node process that dies fails the job; `fleet status` shows Slurm's state and that task's log.
    func testAJobWhoseNodeDiesIsShownAsFailedWithTheTasksLog() throws {
        let dir = try scratch()
        let bin = dir.appendingPathComponent("bin")
        try FileManager.default.createDirectory(at: bin, withIntermediateDirectories: true)
        for tool in ["coordinator", "fleet"] {
            try FileManager.default.createSymbolicLink(atPath: bin.appendingPathComponent(tool).path,
                                                       withDestinationPath: ProcessHarness.productsDirectory.appendingPathComponent(tool).path)
        }
        let node = bin.appendingPathComponent("node")
        try "#!/bin/sh\necho 'node: simulated crash while loading data' >&2\nexit 3\n".write(to: node, atomically: true, encoding: .utf8)
        try FileManager.default.setAttributes([.posixPermissions: 0o755], ofItemAtPath: node.path)
        let text = try String(contentsOf: Self.fixtures.appendingPathComponent("tiny.yaml"), encoding: .utf8)
            .replacingOccurrences(of: "joinWait: 20s", with: "joinWait: 3s")
        let topology = dir.appendingPathComponent("dies.yaml")
        try text.write(to: topology, atomically: true, encoding: .utf8)
        let r = try ProcessHarness.run("fleet", ["submit", topology.path, "--slurm", "--runs", dir.appendingPathComponent("runs").path,
                                                 "--nodes", "2", "--bin-dir", bin.path])
        XCTAssertEqual(r.status, 0, r.stdout + r.stderr)
        let folder = try onlyFolder(dir.appendingPathComponent("runs"))
        let status = try waitForJob(folder, timeout: 120)
        XCTAssertTrue(status.contains("state FAILED"), status)
        XCTAssertTrue(status.contains("tail of node-"), status)
        XCTAssertTrue(status.contains("simulated crash while loading data"), status)
        XCTAssertTrue(FileManager.default.fileExists(atPath: folder.appendingPathComponent("summary.json").path), "a summary even so")
    }
}
