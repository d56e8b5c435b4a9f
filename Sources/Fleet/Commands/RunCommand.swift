// `fleet run TOPOLOGY`: validate, launch the coordinator and nodes here, show progress, print the
// summary table, write summary.json and report.html into the run folder.
import ArgumentParser
import Federation
import FleetKit
import Foundation
import Logging

/// `fleet run`: run a topology on this machine.
struct RunCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "run",
        abstract: "Run a fleet topology on this machine: coordinator and node processes, live progress, summary and report.",
        discussion: """
        Example:
          fleet run topologies/quickstart.yaml

        Creates runs/<name>-<timestamp>/ with the generated config.json, CURVE keys, logs/ per process, \
        coordinator/metrics.jsonl, summary.json and report.html. Ctrl-C stops the coordinator (it finishes the \
        round in progress; Ctrl-C again abandons it), then the nodes.

        A topology with `sweep:` runs every cell of its grid with the same seed, one subfolder per cell, \
        then writes comparison.json and comparison.html (ε against accuracy and attack AUC):
          fleet run topologies/private-personalisation.yaml
        """)

    @Argument(help: "Topology YAML file, e.g. topologies/quickstart.yaml.")
    var topology: String

    @Option(help: "Folder that holds run folders.")
    var runs: String = "runs"

    @OptionGroup var process: ProcessOptions

    func validate() throws {
        guard FileManager.default.fileExists(atPath: topology) else {
            throw ValidationError("no topology file '\(topology)'; see topologies/*.yaml")
        }
    }

    func run() throws {
        LoggingSystem.bootstrap { label in
            var h = StreamLogHandler.standardError(label: label)
            h.logLevel = .warning
            return h
        }
        let logger = Logger(label: "sparsefleet.fleet")
        let t: Topology
        do { t = try Topology.validated(path: topology) } catch let e as TopologyError { throw failure(e) }
        let stop = ShutdownFlag.install()
        let launcher = Launcher(options: process.launchOptions, logger: logger, stop: stop)
        let source = try String(contentsOfFile: topology, encoding: .utf8)
        let root = RunFolder.fresh(parent: runs, name: t.name)
        if !t.cells.isEmpty {
            try FileManager.default.createDirectory(atPath: root.path, withIntermediateDirectories: true)
            try source.write(toFile: root.topology, atomically: true, encoding: .utf8)
            print("sweep       \(t.cells.count) cells over \(t.sweep.map(\.path).joined(separator: ", ")), seed \(t.seed) in each; cells go in \(root.path)/<cell>/")
        }
        var results: [LaunchResult] = []
        for v in t.variants where !stop.isSet {
            let folder = v.label.map { RunFolder(path: root.path + "/" + $0) } ?? root
            if let cell = t.cells.first(where: { $0.label == v.label }) {
                print("== \(t.name): sweep cell \(results.count + 1)/\(t.cells.count): \(cell.settings.map { "\($0.path) = \($0.value)" }.joined(separator: ", "))")
            }
            do {
                results.append(try launcher.run(v.topology, label: v.label, folder: folder, source: source))
            } catch let e as RunFolderError {
                throw failure(e)
            } catch let e as ConfigError {
                throw failure(e)
            }
            let r = results.last!
            print(SummaryTable.render(r.summary))
            print("summary     \(r.folder.summary)")
            print("report      \(r.folder.report)")
        }
        if !t.cells.isEmpty, !results.isEmpty {
            let c = try SweepPages.write(topology: t, root: root, summaries: zip(t.variants, results).map { ($0.label ?? "", $1.summary) })
            print("\n" + SummaryTable.comparison(c))
            print("comparison  \(root.comparison)")
            print("page        \(root.comparisonPage)")
        }
        if stop.isSet {
            let last = results.last?.folder.path ?? root.path
            if Launcher.supportsResume(coordinator: process.bin + "/coordinator") {
                print("interrupted: continue with `fleet resume \(last)`")
            } else {
                print("interrupted: the run folder keeps every finished round; `fleet resume` needs the coordinator's --resume (issue 7)")
            }
            throw ExitCode(130)
        }
    }
}
