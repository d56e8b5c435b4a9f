// `node run`: hosts virtual devices that join a coordinator, train their tasks with sparse
// updates inside their memory budgets, and send touched-channel deltas (Sources/Federation/Node).
import ArgumentParser
import Federation
import Foundation
import Logging
import Transport

struct RunCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "run",
        abstract: "Connect to a coordinator and host virtual devices that train and send sparse deltas.",
        discussion: """
        Example:
          node run --config fleet.json --connect tcp://127.0.0.1:5555 --name node-a --devices dev-0,dev-1
        Each device's data shard is computed from the configuration's partition and seed; data never leaves the node.
        """)

    @Option(help: "Federation configuration (JSON), the same file the coordinator reads.")
    var config: String

    @Option(help: "Coordinator endpoint to connect to, e.g. tcp://127.0.0.1:5555.")
    var connect: String = "tcp://127.0.0.1:5555"

    @Option(help: "Node name (for logs and the routing identity).")
    var name: String = "node-\(getpid())"

    @Option(help: "Comma-separated ids of the devices this node hosts (each must be in the configuration).")
    var devices: String

    @Option(help: "This node's CURVE key file (from `fleet keys --out`); required when the configuration has `curve`.")
    var keyFile: String?

    @Option(help: "Milliseconds to wait for the coordinator's answer to JOIN before giving up.")
    var joinTimeoutMs: Int = 15_000

    @Option(help: "Fault injection for tests: in this round, send one corrupted UPDATE (bad checksum) before the real one.")
    var corruptUpdateRound: UInt64?

    @Option(help: "Fault injection for tests: SIGKILL this node on receiving the first TASK of this round.")
    var crashAtRound: UInt64?

    @Option(help: "Fault injection for tests (a slow node): ROUND:MS holds each update of that round MS milliseconds before sending it.")
    var slowAtRound: String?

    @Option(help: "Folder where each device's state (policy, batch order, coverage, personal parameters, last update) is saved after every task and restored from when the node starts again; default: no persistence.")
    var stateDir: String?

    @Option(help: "Log level: trace, debug, info, notice, warning, error, critical.")
    var logLevel: String = "info"

    var deviceIDs: [String] {
        devices.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
    }

    func validate() throws {
        if let problem = Endpoint.problem(with: connect) { throw ValidationError(problem) }
        if deviceIDs.isEmpty { throw ValidationError("--devices needs at least one device id, e.g. --devices dev-0,dev-1") }
        if Set(deviceIDs).count != deviceIDs.count { throw ValidationError("--devices lists a device twice") }
        if joinTimeoutMs < 1 { throw ValidationError("--join-timeout-ms must be at least 1") }
        if name.isEmpty || name.utf8.count > 200 { throw ValidationError("--name must be 1 to 200 bytes") }
        if let s = slowAtRound, Self.parseSlow(s) == nil { throw ValidationError("--slow-at-round '\(s)' must be ROUND:MS, e.g. 2:8000") }
        if Logger.Level(rawValue: logLevel) == nil {
            throw ValidationError("unknown --log-level '\(logLevel)'; use one of trace, debug, info, notice, warning, error, critical")
        }
    }

    /// "2:8000" → (round 2, 8000 ms).
    static func parseSlow(_ text: String) -> (round: UInt64, milliseconds: Int)? {
        let parts = text.split(separator: ":")
        guard parts.count == 2, let r = UInt64(parts[0]), r >= 1, let ms = Int(parts[1]), ms >= 0 else { return nil }
        return (r, ms)
    }

    func run() throws {
        let level = Logger.Level(rawValue: logLevel) ?? .info
        LoggingSystem.bootstrap { label in
            var h = StreamLogHandler.standardError(label: label)
            h.logLevel = level
            return h
        }
        var logger = Logger(label: "sparsefleet.node")
        logger[metadataKey: "node"] = "\(name)"
        let stop = ShutdownFlag.install()
        do {
            let cfg = try FederationConfig.load(path: config)
            var options = NodeOptions(endpoint: connect, name: name, deviceIDs: deviceIDs, keyPair: try keyFile.map { try KeyFile.load(path: $0) })
            options.joinTimeoutMs = joinTimeoutMs
            options.corruptUpdateInRound = corruptUpdateRound
            options.stateDirectory = stateDir
            options.crashAtRound = crashAtRound
            options.slowAtRound = slowAtRound.flatMap(Self.parseSlow)
            try NodeService(config: cfg, options: options, logger: logger, stop: stop).run()
        } catch let error as ConfigError {
            throw ValidationError(error.description)
        } catch let error as NodeError {
            logger.error("node failed", metadata: ["error": "\(error)"])
            throw ValidationError(error.description)
        }
    }
}
