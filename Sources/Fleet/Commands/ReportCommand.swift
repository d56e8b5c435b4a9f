// `fleet report RUN`: the self-contained HTML report of a run folder.
import ArgumentParser
import Federation
import Foundation

/// `fleet report`: write a run folder's HTML report.
struct ReportCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "report",
        abstract: "Write RUN/report.html: accuracy, personalised accuracy, bytes, memory and channel coverage charts (inline SVG).")

    @Argument(help: "Run folder written by `fleet run` (runs/<name>-<timestamp>, or one policy's subfolder).")
    var runFolder: String

    @Option(help: "Output file (default: RUN/report.html).")
    var out: String?

    func validate() throws {
        var dir: ObjCBool = false
        guard FileManager.default.fileExists(atPath: runFolder, isDirectory: &dir), dir.boolValue else {
            throw ValidationError("no run folder '\(runFolder)'; give a folder under runs/ written by `fleet run`")
        }
    }

    func run() throws {
        let folder = RunFolder(path: runFolder)
        let summary: FleetSummary
        if FileManager.default.fileExists(atPath: folder.summary) {
            summary = try SummaryBuilder.read(path: folder.summary)
        } else if FileManager.default.fileExists(atPath: folder.topology) {
            // An interrupted launcher: rebuild the summary from what the coordinator wrote.
            // A compared policy's folder is named after the policy: rebuild that variant.
            let all = try TopologyParser.load(path: folder.topology)
            let name = (runFolder as NSString).lastPathComponent
            let variant = all.variants.first { $0.label == name } ?? all.variants[0]
            summary = try SummaryBuilder.build(topology: variant.topology, label: variant.label,
                                               metrics: SummaryBuilder.readMetrics(path: folder.metrics),
                                               coordinator: SummaryBuilder.readCoordinatorSummary(path: folder.coordinatorSummary),
                                               realSeconds: .nan, interrupted: true)
        } else {
            throw failure("\(runFolder) has neither summary.json nor topology.yaml; is it a run folder from `fleet run`?")
        }
        let path = out ?? folder.report
        try HTMLReport.write(summary: summary, metrics: SummaryBuilder.readMetrics(path: folder.metrics), to: path)
        print(SummaryTable.render(summary))
        print("report      \(path)")
    }
}
