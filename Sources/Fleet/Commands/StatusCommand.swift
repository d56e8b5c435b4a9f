// `fleet status RUN`: a Slurm run's job state and live progress.
import ArgumentParser
import FleetKit
import Foundation

struct StatusCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "status",
        abstract: "Show a submitted run's Slurm job state and its progress line (from metrics.jsonl).",
        discussion: "Example:\n  fleet status runs/quickstart-20261202-101500")

    @Argument(help: "Run folder written by `fleet submit --slurm`.")
    var runFolder: String

    func run() throws {
        let folder = RunFolder(path: runFolder)
        do {
            let planned = (try? Topology.validated(path: folder.topology))?.rounds.count ?? 0
            print(try SlurmStatus().report(folder, planned: planned))
        } catch let e as SlurmError {
            throw failure(e)
        }
    }
}
