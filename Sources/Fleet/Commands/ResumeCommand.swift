// `fleet resume RUN`: continuing a stopped run needs the coordinator to restart from its saved
// model and round counter, which is issue 7. Until then this says so, and what the folder holds.
import ArgumentParser
import Foundation

/// `fleet resume`: refuses until the coordinator can resume (issue 7).
struct ResumeCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "resume",
        abstract: "Resume a stopped run (not possible yet: the coordinator has no --resume; issue 7).")

    @Argument(help: "Run folder written by `fleet run`.")
    var runFolder: String

    func run() throws {
        let folder = RunFolder(path: runFolder)
        guard FileManager.default.fileExists(atPath: folder.config) else {
            throw ValidationError("\(runFolder) is not a run folder (no config.json); give a folder under runs/")
        }
        let rounds = SummaryBuilder.readMetrics(path: folder.metrics).count
        let model = FileManager.default.fileExists(atPath: folder.coordinator + "/model-final.safetensors")
        throw failure("""
            cannot resume \(runFolder): the coordinator has no --resume yet (issue 7), so a restarted run would begin again at round 1 \
            with fresh device state instead of continuing. The folder keeps \(rounds) finished round(s) in coordinator/metrics.jsonl\
            \(model ? " and the last global model in coordinator/model-final.safetensors" : ""); `fleet report \(runFolder)` charts them. \
            Start afresh with `fleet run \(folder.topology)`.
            """)
    }
}
