// `fleet report RUN`: the self-contained HTML report of a run folder.
import ArgumentParser
import FleetKit
import Foundation

/// `fleet report`: write a run folder's HTML report.
struct ReportCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "report",
        abstract: "Write RUN/report.html: accuracy, personalised accuracy, bytes, memory and channel coverage charts (inline SVG).",
        discussion: """
        Given the top folder of a sweep (a topology with `sweep:`), it rebuilds comparison.json and
        comparison.html from the cells' summaries instead (for example after `fleet resume` of one cell).
        """)

    @Argument(help: "Run folder written by `fleet run` (runs/<name>-<timestamp>, one sweep cell's subfolder, or a sweep's top folder).")
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
        if SweepPages.isSweepRoot(folder) {
            let c: SweepComparison
            do { c = try SweepPages.rebuild(root: folder) } catch let e as RunFolderError { throw failure(e) }
            print(SummaryTable.comparison(c))
            print("comparison  \(folder.comparison)")
            print("page        \(folder.comparisonPage)")
            return
        }
        let summary: FleetSummary
        do { summary = try SummaryBuilder.summary(of: folder) } catch let e as RunFolderError { throw failure(e) }
        let path = out ?? folder.report
        try HTMLReport.write(summary: summary, metrics: SummaryBuilder.readMetrics(path: folder.metrics), to: path)
        print(SummaryTable.render(summary))
        print("report      \(path)")
    }
}
