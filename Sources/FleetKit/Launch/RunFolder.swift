// The run folder: runs/<name>-<timestamp>/ with the topology copy, the generated config.json,
// CURVE keys (keys/, mode 0600), logs/ per process, coordinator/ (the coordinator's own
// metrics.jsonl and summary.json), network.json (the fault proxy's counters, `network.proxy: on`),
// and the launcher's summary.json and report.html.
import Federation
import Foundation
import Transport

/// Paths inside one run folder.
public struct RunFolder: Sendable {
    /// The folder.
    public var path: String

    /// Wraps an existing or future folder.
    public init(path: String) { self.path = path }

    /// `runs/<name>-<UTC timestamp>` under `parent`.
    public static func fresh(parent: String, name: String, date: Date = Date()) -> RunFolder {
        let f = DateFormatter()
        f.dateFormat = "yyyyMMdd-HHmmss"
        f.timeZone = TimeZone(identifier: "UTC")
        return RunFolder(path: (parent as NSString).appendingPathComponent("\(name)-\(f.string(from: date))"))
    }

    /// The generated federation configuration.
    public var config: String { path + "/config.json" }
    /// The copy of the topology file.
    public var topology: String { path + "/topology.yaml" }
    /// The coordinator's run folder.
    public var coordinator: String { path + "/coordinator" }
    /// The coordinator's per-round metrics.
    public var metrics: String { coordinator + "/metrics.jsonl" }
    /// The coordinator's summary.
    public var coordinatorSummary: String { coordinator + "/summary.json" }
    /// Logs of every process.
    public var logs: String { path + "/logs" }
    /// CURVE key files.
    public var keys: String { path + "/keys" }
    /// The launcher's summary.
    public var summary: String { path + "/summary.json" }
    /// The HTML report.
    public var report: String { path + "/report.html" }
    /// A sweep's comparison of its cells (top folder of a sweep).
    public var comparison: String { path + "/comparison.json" }
    /// A sweep's comparison page.
    public var comparisonPage: String { path + "/comparison.html" }
    /// The fault proxy's plan and counters (`network.proxy: on` only).
    public var network: String { path + "/network.json" }
    /// The coordinator's key file.
    public var coordinatorKey: String { keys + "/coordinator.key" }
    /// Node `name`'s key file.
    public func nodeKey(_ name: String) -> String { keys + "/\(name).key" }
    /// The checkpoint the coordinator writes after every round (what `fleet resume` continues from).
    public var checkpoint: String { coordinator + "/checkpoint.safetensors" }

    /// Creates the folder and its logs/ and coordinator/ subfolders.
    public func create() throws {
        for dir in [path, logs, coordinator] {
            try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        }
    }

    /// Generates the coordinator's and every node's CURVE key pairs; returns the configuration's
    /// keys, whose allow list binds each node's key to its name and its devices.
    public func writeKeys(plan: FleetPlan) throws -> CurveConfig {
        try FileManager.default.createDirectory(atPath: keys, withIntermediateDirectories: true,
                                                attributes: [.posixPermissions: 0o700])
        let server = try KeyPairFile.generate(at: coordinatorKey).publicKey
        let clients = try zip(plan.nodeNames, plan.nodeDevices).map { name, devices in
            CurveClient(publicKey: try KeyPairFile.generate(at: nodeKey(name)).publicKey, node: name, devices: devices)
        }
        return CurveConfig(serverPublicKey: server, clients: clients)
    }

    /// Writes the configuration JSON.
    public func writeConfig(_ config: FederationConfig) throws {
        try config.json().write(to: URL(fileURLWithPath: self.config))
    }
}

/// A CURVE key pair file: `public <Z85>` and `secret <Z85>` lines, mode 0600 (what `KeyFile.load` reads).
public enum KeyPairFile {
    /// The file's text for `pair`.
    public static func text(_ pair: CurveKeyPair) -> String { "public \(pair.publicKey)\nsecret \(pair.secretKey)\n" }

    /// Generates a key pair and writes it to `path` (mode 0600); returns the pair.
    public static func generate(at path: String) throws -> CurveKeyPair {
        let pair = try Curve.keypair()
        guard FileManager.default.createFile(atPath: path, contents: Data(text(pair).utf8), attributes: [.posixPermissions: 0o600]) else {
            throw RunFolderError("cannot write the key file \(path); check that its folder exists and is writable")
        }
        return pair
    }
}

/// A run-folder problem, with its fix.
public struct RunFolderError: Error, CustomStringConvertible {
    /// What went wrong and what to do.
    public var description: String
    /// An error with its message.
    public init(_ description: String) { self.description = description }
}
