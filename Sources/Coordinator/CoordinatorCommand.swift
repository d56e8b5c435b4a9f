// `coordinator`: reads a federation configuration, binds a ROUTER socket and runs the rounds
// (Sources/Federation/Coordinator). Thin: parse options, wire services, run.
import ArgumentParser
import Federation
import Foundation
import Logging
import Transport

@main
struct CoordinatorCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "coordinator",
        abstract: "Run the SparseFleet coordinator: admit devices, run rounds, aggregate touched-channel deltas.",
        discussion: """
        Example:
          coordinator --config fleet.json --bind tcp://127.0.0.1:5555 --run-dir runs/demo
        Writes metrics.jsonl (one line per round), summary.json and model checkpoints into the run folder.
        After every round it writes checkpoint.safetensors atomically; after a crash, start it again with the
        same --config and --run-dir plus --resume: it continues after the last checkpointed round, and the
        nodes (which reconnect on their own) carry on.
        SIGINT/SIGTERM let the round in progress finish, checkpoint it, write summary.json and say BYE to the
        nodes; a second signal abandons the round.
        Identity: with `curve` in the configuration, every node is authenticated by its CURVE key, and the allow
        list (curve.clients) binds each key to one node name and its devices. Without `curve` (plain tcp/ipc, for
        trusted local runs only) node identities are NOT authenticated: any peer may claim a configured node name.
        Every UPDATE is checked before aggregation: the task's round, version and encoding, the device's layout,
        the L2 norm bound (aggregation.maxUpdateNorm), and the weight is the device's shard size, never its claim.
        """)

    @Option(help: "Federation configuration (JSON): model, dataset, partition, devices, rounds, aggregation, encoding, personalisation, curve.")
    var config: String

    @Option(help: "ZeroMQ endpoint to bind, e.g. tcp://127.0.0.1:5555 or ipc:///tmp/sf.sock.")
    var bind: String = "tcp://127.0.0.1:5555"

    @Option(help: "Run folder for metrics.jsonl, summary.json and checkpoints (created if missing).")
    var runDir: String = "runs/latest"

    @Option(help: "The coordinator's CURVE key file (from `fleet keys --out`); required when the configuration has `curve`.")
    var keyFile: String?

    @Flag(help: "Continue the run in --run-dir from its last checkpoint (same --config); starts at round 1 when there is none.")
    var resume = false

    @Option(help: "Fault injection for tests: SIGKILL this process at ROUND:PHASE, PHASE one of sending, collecting, aggregating, checkpointing.")
    var crashAt: String?

    @Option(help: "Log level: trace, debug, info, notice, warning, error, critical.")
    var logLevel: String = "info"

    func validate() throws {
        if let problem = Endpoint.problem(with: bind) { throw ValidationError(problem) }
        if Logger.Level(rawValue: logLevel) == nil {
            throw ValidationError("unknown --log-level '\(logLevel)'; use one of trace, debug, info, notice, warning, error, critical")
        }
        if runDir.isEmpty { throw ValidationError("--run-dir must not be empty") }
        if let c = crashAt, CrashPoint(c) == nil {
            throw ValidationError("--crash-at '\(c)' must be ROUND:PHASE with PHASE one of \(CrashPoint.Phase.allCases.map(\.rawValue).joined(separator: ", ")), e.g. 2:collecting")
        }
    }

    func run() throws {
        let level = Logger.Level(rawValue: logLevel) ?? .info
        LoggingSystem.bootstrap { label in
            var h = StreamLogHandler.standardError(label: label)
            h.logLevel = level
            return h
        }
        let logger = Logger(label: "sparsefleet.coordinator")
        let stop = ShutdownFlag.install()
        do {
            let cfg = try FederationConfig.load(path: config)
            let keys = try keyFile.map { try KeyFile.load(path: $0) }
            var options = CoordinatorOptions(endpoint: bind, runFolder: runDir, keyPair: keys, resume: resume)
            options.crashAt = crashAt.flatMap(CrashPoint.init)
            let service = try CoordinatorService(config: cfg, options: options,
                                                 logger: logger, stop: stop)
            try service.run()
        } catch let error as ConfigError {
            throw ValidationError(error.description)
        } catch let error as ZmqError {
            throw ValidationError("\(error); check the endpoint (is another coordinator bound to \(bind)?)")
        }
    }
}
