// `fleet finish RUN`: the last step of a Slurm job (and of any hand-launched run): summary.json
// and report.html from what the coordinator recorded, exactly as `fleet run` writes them.
import ArgumentParser
import FleetKit
import Foundation

struct FinishCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "finish",
        abstract: "Write summary.json and report.html of a run whose processes were started elsewhere (the Slurm job's last step).")

    @Argument(help: "Run folder.")
    var runFolder: String

    @Option(help: "Wall time of the run in seconds, for the summary.")
    var realSeconds: Double = .nan

    @Flag(help: "The run was stopped before its last round.")
    var interrupted = false

    func run() throws {
        let folder = RunFolder(path: runFolder)
        do {
            let t = try Topology.validated(path: folder.topology)
            let prior = (try? SummaryBuilder.read(path: folder.summary))?.wallTime.realSeconds ?? 0
            let summary = try Launcher.finish(t, label: nil, folder: folder, realSeconds: (prior.isFinite ? prior : 0) + realSeconds,
                                              interrupted: interrupted)
            print(SummaryTable.render(summary))
            print("summary     \(folder.summary)")
            print("report      \(folder.report)")
        } catch let e as TopologyError {
            throw failure(e)
        } catch let e as RunFolderError {
            throw failure(e)
        }
    }
}
