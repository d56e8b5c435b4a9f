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

    @OptionGroup var cluster: SlurmOptions

    func run() throws {
        if cluster.slurm { return try resumeOnSlurm() }
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

    /// `--slurm`: a new job that continues from the checkpoint (the same request unless options change it).
    func resumeOnSlurm() throws {
        let folder = RunFolder(path: URL(fileURLWithPath: runFolder).standardizedFileURL.path)
        do {
            try Launcher.checkResumable(folder, binDir: process.bin)
            let t = try Topology.validated(path: folder.topology)
            let bin = URL(fileURLWithPath: process.bin).standardizedFileURL.path
            let submitter = SlurmSubmitter(binDir: bin)
            let previous = try? SlurmRecord.read(folder)
            let given = cluster.partition != nil || cluster.nodes != nil || cluster.time != nil || cluster.account != nil
            let request = given || previous == nil ? cluster.request(t) : previous!.request
            for w in try submitter.check(t, request: request, allowShortTime: true) { print("warning     \(w)") }
            let record = try submitter.resume(t, folder: folder, request: request)
            print("resuming    \(folder.path) from its checkpoint (\(SummaryBuilder.readMetrics(path: folder.metrics).count) round(s) on record)")
            print("job         \(record.jobId)\(record.earlierJobs.isEmpty ? "" : " (after job \(record.earlierJobs.joined(separator: ", ")))")")
            print("follow      fleet status \(folder.path)")
        } catch let e as SlurmError {
            throw failure(e)
        } catch let e as RunFolderError {
            throw failure(e)
        } catch let e as TopologyError {
            throw failure(e)
        }
    }
}
