// The files of a sweep's run folder: comparison.json and comparison.html next to one subfolder
// per cell, written when the sweep ends and rebuilt by `fleet report` (after a cell was resumed).
import Foundation

/// Writes and rebuilds a sweep's comparison.
public enum SweepPages {
    /// Writes `root`/comparison.json and comparison.html for the cells that ran.
    @discardableResult
    public static func write(topology t: Topology, root: RunFolder, summaries: [(label: String, summary: FleetSummary)]) throws -> SweepComparison {
        let c = SweepComparison(topology: t, summaries: summaries)
        try c.write(to: root.comparison)
        try ComparisonReport.write(c, to: root.comparisonPage)
        return c
    }

    /// Whether `folder` is the top folder of a sweep (its topology copy has `sweep:`; the cells are subfolders).
    public static func isSweepRoot(_ folder: RunFolder) -> Bool {
        guard FileManager.default.fileExists(atPath: folder.topology), !FileManager.default.fileExists(atPath: folder.coordinator),
              let t = try? TopologyParser.load(path: folder.topology) else { return false }
        return !t.cells.isEmpty
    }

    /// Rebuilds the comparison of the sweep in `root` from each cell folder's summary (cells
    /// without a folder are left out).
    @discardableResult
    public static func rebuild(root: RunFolder) throws -> SweepComparison {
        let t: Topology
        do { t = try TopologyParser.load(path: root.topology) } catch let e as TopologyError {
            throw RunFolderError("\(root.topology) no longer parses (\(e.description)); it is the copy `fleet run` made of the sweep's topology")
        }
        var summaries: [(label: String, summary: FleetSummary)] = []
        for cell in t.cells {
            let folder = RunFolder(path: root.path + "/" + cell.label)
            guard FileManager.default.fileExists(atPath: folder.path) else { continue }
            summaries.append((cell.label, try SummaryBuilder.summary(of: folder)))
        }
        guard !summaries.isEmpty else {
            throw RunFolderError("\(root.path) holds no cell folder of its sweep (\(t.cells.map(\.label).joined(separator: ", "))); run `fleet run \(root.topology)`")
        }
        return try write(topology: t, root: root, summaries: summaries)
    }
}
