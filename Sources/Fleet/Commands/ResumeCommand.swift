// `fleet resume RUN`: continues a stopped run from the coordinator's last checkpoint
// (`coordinator --resume`, issue 7), with fresh node processes that rejoin. A coordinator built
// without --resume, or a run with no checkpoint, is refused with what the folder holds.
import ArgumentParser
import Federation
import FleetKit
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

    @Argument(help: "Run folder written by `fleet run` (for a sweep: the cell's subfolder; then `fleet report` on the sweep's folder refreshes its comparison).")
    var runFolder: String

    @OptionGroup var process: ProcessOptions

    func run() throws {
        LoggingSystem.bootstrap { label in
            var h = StreamLogHandler.standardError(label: label)
            h.logLevel = .warning
            return h
        }
        let folder = RunFolder(path: runFolder)
        do { try Launcher.checkResumable(folder, binDir: process.bin) } catch let e as RunFolderError { throw failure(e) }
        let variant: (label: String?, topology: Topology)
        do { variant = try TopologyParser.load(path: folder.topology).variant(of: folder) } catch let e as TopologyError { throw failure(e) }
        let stop = ShutdownFlag.install()
        let launcher = Launcher(options: process.launchOptions, logger: Logger(label: "sparsefleet.fleet"), stop: stop)
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
