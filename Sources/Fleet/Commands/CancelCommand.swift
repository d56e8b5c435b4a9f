// `fleet cancel RUN`: stop a Slurm run the way Ctrl-C stops a local one, resumably.
import ArgumentParser
import FleetKit
import Foundation

struct CancelCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "cancel",
        abstract: "Stop a submitted run resumably: SIGINT to the job, whose coordinator finishes and checkpoints its round.",
        discussion: """
        Example:
          fleet cancel runs/quickstart-20261202-101500
          fleet resume runs/quickstart-20261202-101500 --slurm
        The job script passes the signal to the coordinator, stops the nodes and still writes summary.json \
        (interrupted) and report.html. `scancel` by hand (without --signal) kills the job without a checkpoint of \
        the round in progress.
        """)

    @Argument(help: "Run folder written by `fleet submit --slurm`.")
    var runFolder: String

    func run() throws {
        let folder = RunFolder(path: runFolder)
        do {
            let record = try SlurmRecord.read(folder)
            let tools = SlurmTools()
            try tools.requireClient()
            guard let state = try tools.jobState(record.jobId), ["RUNNING", "PENDING", "CONFIGURING", "SUSPENDED"].contains(state.state) else {
                throw SlurmError("job \(record.jobId) is not running (\((try? tools.jobState(record.jobId))??.state ?? "no longer listed by Slurm")); nothing to cancel. fleet status \(folder.path) shows how it ended")
            }
            if state.state == "PENDING" {
                try tools.run("scancel", [record.jobId])
                print("cancelled   job \(record.jobId) before it started; fleet resume \(folder.path) --slurm submits it again")
                return
            }
            try tools.signalBatch(record.jobId, "INT")
            print("stopping    job \(record.jobId): the coordinator finishes and checkpoints its round, then the job writes the summary")
            print("follow      fleet status \(folder.path)")
            print("resume      fleet resume \(folder.path) --slurm")
        } catch let e as SlurmError {
            throw failure(e)
        }
    }
}
