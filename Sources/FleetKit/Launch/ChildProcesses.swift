// The coordinator and node processes of a run on this machine: started with their output in
// logs/<name>.log, stopped with SIGINT, then SIGKILL after a grace period.
import Foundation
import Logging

/// A started child.
final class Child {
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
        Foundation.kill(child.process.processIdentifier, SIGKILL)
    }

    /// Waits up to `seconds` for every child in `which` to exit; true when all did.
    @discardableResult
    func wait(_ which: [Child], seconds: Double) -> Bool {
        let deadline = Date().addingTimeInterval(seconds)
        while which.contains(where: { $0.process.isRunning }) && Date() < deadline { usleep(50_000) }
        return !which.contains { $0.process.isRunning }
    }

    /// SIGINT to every running child, wait `grace` seconds, then SIGKILL whatever still runs.
    func stopAll(grace: Double) {
        let running = children.filter { $0.process.isRunning }
        for c in running { Foundation.kill(c.process.processIdentifier, SIGINT) }
        if !wait(running, seconds: grace) {
            for c in running where c.process.isRunning {
                logger.warning("did not stop within the grace period; killing", metadata: ["process": "\(c.command.name)"])
                Foundation.kill(c.process.processIdentifier, SIGKILL)
            }
            wait(running, seconds: 5)
        }
    }
}
