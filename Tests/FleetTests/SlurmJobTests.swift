// The Slurm pieces that need no cluster: time limits, the job script, the missing client and the
// failing task's log. SlurmEndToEndTests runs them on a real cluster.
import Foundation
import XCTest
@testable import FleetKit

final class SlurmJobTests: XCTestCase {
    func testSlurmTimeLimitsParseAndFormat() {
        XCTAssertEqual(SlurmTime.seconds("30"), 1800)
        XCTAssertEqual(SlurmTime.seconds("1:30"), 90)
        XCTAssertEqual(SlurmTime.seconds("01:00:00"), 3600)
        XCTAssertEqual(SlurmTime.seconds("2-03"), 2 * 86_400 + 3 * 3600)
        XCTAssertEqual(SlurmTime.seconds("1-00:30:15"), 86_400 + 1815)
        for bad in ["", "abc", "1:2:3:4", "-5", "0", "1:-2"] { XCTAssertNil(SlurmTime.seconds(bad), bad) }
        XCTAssertEqual(SlurmTime.format(3599), "01:00:00")
        XCTAssertEqual(SlurmTime.format(90_000), "1-01:00:00")
    }

    func testNoSbatchOnThePathNamesTheFix() {
        XCTAssertThrowsError(try SlurmTools(path: "/nonexistent").requireClient()) { e in
            let text = "\(e)"
            XCTAssertTrue(text.contains("sbatch is not on the PATH") && text.contains("fleet run"), text)
        }
    }

    func testTheEstimateGrowsWithRoundsAndDevices() throws {
        var t = try TopologyParser.parse(try String(contentsOf: URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Fixtures/tiny.yaml"), encoding: .utf8),
                                         file: "tiny.yaml", defaultName: "tiny")
        let base = SlurmEstimate.seconds(t)
        t.rounds.count *= 10
        XCTAssertGreaterThan(SlurmEstimate.seconds(t), base)
    }

    func testTheJobScriptStartsTheCoordinatorFirstAndTheNodesAsTasks() throws {
        let folder = RunFolder(path: "/shared/runs/tiny-1")
        let commands = LaunchCommands(
            coordinator: ProcessCommand(name: "coordinator", executable: "/bin/coordinator",
                                        arguments: ["--config", folder.config, "--bind", "tcp://*:0", "--key-file", folder.coordinatorKey]),
            nodes: [ProcessCommand(name: "node-1", executable: "/bin/node", arguments: ["run", "--connect", "tcp://x:0", "--name", "node-1"]),
                    ProcessCommand(name: "node-2", executable: "/bin/node", arguments: ["run", "--connect", "tcp://x:0", "--name", "node-2"])])
        let job = SlurmJob(folder: folder, commands: commands, request: SlurmRequest(partition: "debug", nodes: 2, timeSeconds: 1800),
                           fleetExecutable: "/bin/fleet", resume: true)
        let script = job.batchScript(name: "tiny")
        for line in ["#SBATCH --nodes=2", "#SBATCH --ntasks=3", "#SBATCH --cpus-per-task=1", "#SBATCH --time=00:30:00",
                     "#SBATCH --partition=debug", "scontrol show hostnames", "--bind \"tcp://0.0.0.0:$port\"", "--resume",
                     "srun --exact --ntasks=2 --distribution=cyclic", "/bin/fleet finish"] {
            XCTAssertTrue(script.contains(line), "missing \(line) in\n\(script)")
        }
        let tasks = job.nodeTasks()
        XCTAssertTrue(tasks.contains("0) name=node-1"), tasks)
        XCTAssertTrue(tasks.contains("--connect \"$SPARSEFLEET_COORDINATOR\""), tasks)
    }

    func testAFailedTasksLogIsTheOneShown() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("slurm-status-\(getpid())")
        try? FileManager.default.removeItem(at: dir)
        try FileManager.default.createDirectory(at: dir.appendingPathComponent("slurm"), withIntermediateDirectories: true)
        try FileManager.default.createDirectory(at: dir.appendingPathComponent("logs"), withIntermediateDirectories: true)
        try "0\n".write(to: dir.appendingPathComponent("slurm/node-1.status"), atomically: true, encoding: .utf8)
        try "1\n".write(to: dir.appendingPathComponent("slurm/node-2.status"), atomically: true, encoding: .utf8)
        let (name, log) = SlurmStatus().failingLog(RunFolder(path: dir.path))
        XCTAssertEqual(name, "node-2")
        XCTAssertEqual(log, dir.path + "/logs/node-2.log")
    }
}
