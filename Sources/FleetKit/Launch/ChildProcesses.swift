// The coordinator and node processes of a run on this machine: started with their output in
// logs/<name>.log, stopped with SIGINT, then SIGKILL after a grace period. On Ctrl-C the
// coordinator is stopped first and the nodes only after it has exited (`interrupt`).
import Federation
import Foundation
import Logging

/// What stopping needs of a child process (a `Child`, or a stand-in in tests).
protocol StoppableProcess: AnyObject {
    /// Name for messages.
    var name: String { get }
    /// Whether it still runs.
    var isRunning: Bool { get }
    /// Sends `signal` to it.
    func send(_ signal: Int32)
}

/// A started child.
final class Child: StoppableProcess {
    /// Its command.
    let command: ProcessCommand
    /// The process.
    let process: Process
    /// Log file.
    let log: String
    /// Whether the launcher killed it on purpose (fault injection).
    var killedOnPurpose = false

    init(command: ProcessCommand, process: Process, log: String) {
        self.command = command; self.process = process; self.log = log
    }

    var name: String { command.name }
    var isRunning: Bool { process.isRunning }
    func send(_ signal: Int32) { Foundation.kill(process.processIdentifier, signal) }
}

/// Children of one run.
final class ChildProcesses {
    private(set) var children: [Child] = []
    private let logger: Logger

    init(logger: Logger) { self.logger = logger }

    /// Starts `command` with stdout and stderr in `logDir/<name><suffix>.log`.
    @discardableResult
    func start(_ command: ProcessCommand, logDir: String, suffix: String = "", environment: [String: String] = [:]) throws -> Child {
        let log = logDir + "/\(command.name)\(suffix).log"
        _ = FileManager.default.createFile(atPath: log, contents: Data(("$ " + command.shellLine + "\n").utf8))
        guard let handle = FileHandle(forWritingAtPath: log) else { throw RunFolderError("cannot write \(log)") }
        handle.seekToEndOfFile()
        let p = Process()
        p.executableURL = URL(fileURLWithPath: command.executable)
        p.arguments = command.arguments
        p.standardOutput = handle
        p.standardError = handle
        p.standardInput = FileHandle.nullDevice
        var env = ProcessInfo.processInfo.environment
        env["OPENBLAS_NUM_THREADS"] = env["OPENBLAS_NUM_THREADS"] ?? "1"
        for (k, v) in environment { env[k] = v }
        p.environment = env
        guard FileManager.default.isExecutableFile(atPath: command.executable) else {
            throw RunFolderError("\(command.executable) is not built; run `swift build -c release` (or give --bin-dir)")
        }
        try p.run()
        let child = Child(command: command, process: p, log: log)
        children.append(child)
        logger.info("started", metadata: ["process": "\(command.name)", "pid": "\(p.processIdentifier)", "log": "\(log)"])
        return child
    }

    /// The child named `name`.
    func child(_ name: String) -> Child? { children.first { $0.command.name == name } }

    /// Kills `child` at once (fault injection).
    func kill(_ child: Child) {
        guard child.process.isRunning else { return }
        child.killedOnPurpose = true
        child.send(SIGKILL)
    }

    /// Waits up to `seconds` for every child in `which` to exit; true when all did.
    @discardableResult
    func wait(_ which: [Child], seconds: Double) -> Bool { Self.wait(which, seconds: seconds) }

    /// SIGINT to every running child, wait `grace` seconds, then SIGKILL whatever still runs.
    func stopAll(grace: Double) { Self.stop(children, grace: grace, logger: logger) }

    /// Stops the fleet after Ctrl-C, coordinator first (see the static `interrupt`).
    func interrupt(coordinator: Child, nodes: [Child], grace: Double, stop: ShutdownFlag) {
        Self.interrupt(coordinator: coordinator, nodes: nodes, grace: grace, stop: stop, logger: logger)
    }

    /// Stops a fleet after Ctrl-C (SIGINT or SIGTERM to the launcher, counted by `stop`), in this order:
    /// 1. SIGINT to the coordinator only, which finishes the round in progress, checkpoints it, writes
    ///    its summary.json and says BYE to the nodes (which then exit by themselves);
    /// 2. wait up to `grace` seconds for the coordinator to exit, forwarding each further Ctrl-C to it as
    ///    another SIGINT (a second one makes it abandon the round); SIGKILL if it is still running then;
    /// 3. only then SIGINT to the nodes still running, and SIGKILL after `grace` seconds.
    /// The nodes must stay up while the coordinator finishes: they deliver the updates of that round.
    /// Stopping them at the same time as the coordinator would leave the round without its updates.
    static func interrupt<P: StoppableProcess>(coordinator: P, nodes: [P], grace: Double, stop: ShutdownFlag, logger: Logger) {
        var forwarded = 0
        func forward() {
            while coordinator.isRunning && forwarded < max(1, stop.requests) {
                coordinator.send(SIGINT)
                forwarded += 1
            }
        }
        forward()
        if !Self.wait([coordinator], seconds: grace, poll: forward) {
            logger.warning("did not stop within the grace period; killing", metadata: ["process": "\(coordinator.name)"])
            coordinator.send(SIGKILL)
            Self.wait([coordinator], seconds: 5)
        }
        Self.stop(nodes, grace: grace, logger: logger)
    }

    /// SIGINT to every running process in `which`, wait `grace` seconds, then SIGKILL whatever still runs.
    static func stop<P: StoppableProcess>(_ which: [P], grace: Double, logger: Logger) {
        let running = which.filter(\.isRunning)
        guard !running.isEmpty else { return }
        for c in running { c.send(SIGINT) }
        if !Self.wait(running, seconds: grace) {
            for c in running where c.isRunning {
                logger.warning("did not stop within the grace period; killing", metadata: ["process": "\(c.name)"])
                c.send(SIGKILL)
            }
            Self.wait(running, seconds: 5)
        }
    }

    /// Waits up to `seconds` for every process in `which` to exit, calling `poll` while it waits; true when all did.
    @discardableResult
    static func wait<P: StoppableProcess>(_ which: [P], seconds: Double, poll: () -> Void = {}) -> Bool {
        let deadline = Date().addingTimeInterval(seconds)
        while which.contains(where: \.isRunning) && Date() < deadline {
            poll()
            usleep(50_000)
        }
        return !which.contains(where: \.isRunning)
    }
}
