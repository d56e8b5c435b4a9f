import Foundation
import XCTest

/// A small fleet of real `coordinator` and `node` processes for end-to-end tests.
struct TestFleet {
    /// Scratch folder of this fleet (config, run folder, logs).
    let folder: URL
    /// Path of the configuration file.
    var configPath: String { folder.appendingPathComponent("fleet.json").path }
    /// The coordinator's run folder.
    var runFolder: String { folder.appendingPathComponent("run").path }

    /// A fresh folder holding `config` as fleet.json.
    init(_ name: String, config: [String: Any]) throws {
        folder = URL(fileURLWithPath: NSTemporaryDirectory()).appendingPathComponent("sf-e2e-\(name)-\(getpid())-\(UInt32.random(in: 0...UInt32.max))")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        try JSONSerialization.data(withJSONObject: config, options: [.prettyPrinted]).write(to: URL(fileURLWithPath: configPath))
    }

    /// The 4-device synthetic fleet of the tests: tiny net at 16×16, 3 rounds.
    static func smallConfig(rounds: Int = 3, devices: [String] = ["dev-0", "dev-1", "dev-2", "dev-3"]) -> [String: Any] {
        [
            "seed": 11,
            "model": ["name": "tiny", "resolution": 16],
            "dataset": ["name": "synthetic", "syntheticCount": 600],
            "partition": ["kind": "dirichlet", "alpha": 1.0, "minShard": 20],
            "deviceDefaults": ["localSteps": 6, "batch": 4, "learningRate": 0.05],
            "devices": devices.map { ["id": $0] },
            "rounds": ["count": rounds, "deadlineMs": 20000, "joinWaitMs": 20000, "finalWaitMs": 5000],
            "heartbeatMs": 200,
        ]
    }

    /// Starts the coordinator bound to `endpoint`.
    func coordinator(_ endpoint: String, extra: [String] = []) throws -> RunningProcess {
        try RunningProcess("coordinator", ["--config", configPath, "--bind", endpoint, "--run-dir", runFolder] + extra)
    }

    /// Starts a node hosting `devices`.
    func node(_ endpoint: String, name: String, devices: [String], extra: [String] = []) throws -> RunningProcess {
        try RunningProcess("node", ["run", "--config", configPath, "--connect", endpoint, "--name", name,
                                    "--devices", devices.joined(separator: ",")] + extra)
    }

    /// The rounds of metrics.jsonl.
    func metrics() throws -> [[String: Any]] {
        let text = try String(contentsOfFile: runFolder + "/metrics.jsonl", encoding: .utf8)
        return try text.split(separator: "\n").map { try JSONSerialization.jsonObject(with: Data($0.utf8)) as! [String: Any] }
    }

    /// summary.json.
    func summary() throws -> [String: Any] {
        try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: runFolder + "/summary.json"))) as! [String: Any]
    }
}

/// A child process whose output is captured to files (so it can never block on a pipe).
final class RunningProcess {
    let process = Process()
    let stdoutPath: String
    let stderrPath: String

    init(_ product: String, _ arguments: [String]) throws {
        let dir = NSTemporaryDirectory()
        let tag = "\(product)-\(UInt32.random(in: 0...UInt32.max))"
        stdoutPath = dir + "sf-\(tag).out"
        stderrPath = dir + "sf-\(tag).err"
        FileManager.default.createFile(atPath: stdoutPath, contents: nil)
        FileManager.default.createFile(atPath: stderrPath, contents: nil)
        process.executableURL = ProcessHarness.productsDirectory.appendingPathComponent(product)
        process.arguments = arguments
        process.standardOutput = FileHandle(forWritingAtPath: stdoutPath)
        process.standardError = FileHandle(forWritingAtPath: stderrPath)
        try process.run()
    }

    /// Waits up to `timeout` seconds for the process to exit (then kills it); returns its status.
    @discardableResult
    func wait(timeout: TimeInterval = 60) -> Int32 {
        let deadline = Date().addingTimeInterval(timeout)
        while process.isRunning && Date() < deadline { usleep(20_000) }
        if process.isRunning { process.terminate() }
        process.waitUntilExit()
        return process.terminationStatus
    }

    /// Everything written to standard error so far.
    var stderr: String { (try? String(contentsOfFile: stderrPath, encoding: .utf8)) ?? "" }

    deinit {
        if process.isRunning { process.terminate(); process.waitUntilExit() }
    }
}

/// Reads f32 safetensors files (the coordinator's checkpoints) without the Engine.
enum SafeTensorsFile {
    /// Name → (shape, values).
    static func read(_ path: String) throws -> [String: (shape: [Int], values: [Float])] {
        let data = try Data(contentsOf: URL(fileURLWithPath: path))
        let n = data.prefix(8).withUnsafeBytes { Int(UInt64(littleEndian: $0.loadUnaligned(as: UInt64.self))) }
        let header = try JSONSerialization.jsonObject(with: data.subdata(in: 8..<8 + n)) as! [String: Any]
        var out: [String: (shape: [Int], values: [Float])] = [:]
        for (name, entry) in header where name != "__metadata__" {
            let e = entry as! [String: Any]
            precondition(e["dtype"] as? String == "F32", "checkpoint tensors are F32")
            let shape = e["shape"] as! [Int], offsets = e["data_offsets"] as! [Int]
            let bytes = data.subdata(in: 8 + n + offsets[0]..<8 + n + offsets[1])
            let values = bytes.withUnsafeBytes { raw in
                (0..<(bytes.count / 4)).map { Float(bitPattern: UInt32(littleEndian: raw.loadUnaligned(fromByteOffset: 4 * $0, as: UInt32.self))) }
            }
            out[name] = (shape, values)
        }
        return out
    }
}
