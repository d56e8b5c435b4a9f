// `fleet resume RUN`: continues a stopped run from the coordinator's last checkpoint
// (`coordinator --resume`, issue 7), with fresh node processes that rejoin. A coordinator built
// without --resume, or a run with no checkpoint, is refused with what the folder holds.
import ArgumentParser
import Federation
import Foundation
import Logging

/// `fleet resume`: continue a stopped run from its checkpoint.
struct ResumeCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "resume",
        abstract: "Continue a stopped run from the coordinator's last checkpoint (needs `coordinator --resume`).",
        discussion: """
        Example:
          fleet resume runs/quickstart-20261125-031024
        The coordinator restarts with the run's config.json, keys and --resume; node processes start afresh and
        rejoin (device-side policy state restarts). Logs go to logs/<process>-resumed-<time>.log.
        """)

    @Argument(help: "Run folder written by `fleet run` (for a policy comparison: the policy's subfolder).")
    var runFolder: String

    @OptionGroup var process: ProcessOptions

    /// The checkpoint the coordinator writes after every round.
    static func checkpoint(_ folder: RunFolder) -> String { folder.coordinator + "/checkpoint.safetensors" }

    /// Whether `coordinator` offers --resume (its help mentions it).
    static func supportsResume(_ coordinator: String) -> Bool {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: coordinator)
        p.arguments = ["--help"]
        let out = Pipe()
        p.standardOutput = out
        p.standardError = FileHandle.nullDevice
        guard (try? p.run()) != nil else { return false }
        let text = String(decoding: out.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        p.waitUntilExit()
        return text.contains("--resume")
    }

    func run() throws {
        LoggingSystem.bootstrap { label in
            var h = StreamLogHandler.standardError(label: label)
            h.logLevel = .warning
            return h
        }
        let folder = RunFolder(path: runFolder)
        guard FileManager.default.fileExists(atPath: folder.config), FileManager.default.fileExists(atPath: folder.topology) else {
            throw failure("\(runFolder) is not a run folder (no config.json and topology.yaml); give a folder under runs/ written by `fleet run`")
        }
        let rounds = SummaryBuilder.readMetrics(path: folder.metrics).count
        let bin = process.bin
        guard Self.supportsResume(bin + "/coordinator") else {
            throw failure("""
                cannot resume \(runFolder): \(bin)/coordinator has no --resume (issue 7), so a restarted run would begin again \
                at round 1 instead of continuing. The folder keeps \(rounds) finished round(s) in coordinator/metrics.jsonl; \
                `fleet report \(runFolder)` charts them. Start afresh with `fleet run \(folder.topology)`.
                """)
        }
        guard FileManager.default.fileExists(atPath: Self.checkpoint(folder)) else {
            throw failure("""
                cannot resume \(runFolder): there is no coordinator/checkpoint.safetensors (the coordinator writes one after \
                every round; this run stopped before its first, or was made by a coordinator without checkpoints). \
                Start afresh with `fleet run \(folder.topology)`.
                """)
        }
        let all: Topology
        do { all = try TopologyParser.load(path: folder.topology) } catch let e as TopologyError { throw failure(e) }
        let name = (runFolder as NSString).lastPathComponent
        let variant = all.variants.first { $0.label == name } ?? all.variants[0]
        var options = LaunchOptions(binDir: bin)
        options.grace = process.grace
        options.logLevel = process.logLevel
        let stop = ShutdownFlag.install()
        let launcher = Launcher(options: options, logger: Logger(label: "sparsefleet.fleet"), stop: stop)
        let result: LaunchResult
        do {
            result = try launcher.resume(variant.topology, label: variant.label, folder: folder)
        } catch let e as RunFolderError {
            throw failure(e)
        } catch let e as ConfigError {
            throw failure(e)
        }
        print(SummaryTable.render(result.summary))
        print("summary     \(result.folder.summary)")
        print("report      \(result.folder.report)")
        if stop.isSet { throw ExitCode(130) }
    }
}
