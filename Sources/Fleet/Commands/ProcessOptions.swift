// Options shared by the commands that launch coordinator and node processes (`run`, `resume`).
import ArgumentParser
import FleetKit
import Logging

/// Where the executables are, how long they get to stop, and how much they log.
struct ProcessOptions: ParsableArguments {
    @Option(help: "Folder holding the `coordinator` and `node` executables (default: next to this `fleet`).")
    var binDir: String?

    @Option(help: "Seconds the processes get to stop after SIGINT before SIGKILL.")
    var grace: Double = 20

    @Option(help: "Log level of the launched processes: trace, debug, info, notice, warning, error, critical.")
    var logLevel: String = "info"

    /// The executables folder, defaulting to the one beside `fleet`.
    var bin: String { binDir ?? LaunchCommands.defaultBinDir }

    /// The launcher's settings from these options.
    var launchOptions: LaunchOptions {
        var o = LaunchOptions(binDir: bin)
        o.grace = grace
        o.logLevel = logLevel
        return o
    }

    func validate() throws {
        guard grace >= 0 else { throw ValidationError("--grace must be >= 0 seconds") }
        guard Logger.Level(rawValue: logLevel) != nil else {
            throw ValidationError("unknown --log-level '\(logLevel)'; use one of trace, debug, info, notice, warning, error, critical")
        }
    }
}
