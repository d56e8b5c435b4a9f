// The comparison page's personalisation chart: for every cell that has a local counterpart, each
// device's gain over local-only training as a dot (jittered by device, so a distribution shows,
// not only a mean), with the mean as a bar and the 10th percentile as a dashed bar. Cells are
// grouped by the settings other than the method (e.g. one group per Dirichlet α), coloured by method.
import Foundation

enum GainOverLocalChart {
    /// The chart, or nil when no cell has a gain over local.
    static func svg(_ c: SweepComparison) -> String? {
        let cells = c.cells.filter { $0.gainOverLocal != nil }
        guard !cells.isEmpty else { return nil }
        let methods = cells.compactMap(\.method).reduce(into: [String]()) { if !$0.contains($1) { $0.append($1) } }
        var p = Plot()
        p.x0 = -0.6; p.x1 = Double(cells.count) - 0.4
        let gains = cells.flatMap { $0.gainOverLocal!.perDevice.values.map { 100 * $0 } }
        let lo = min(-5, (gains.min() ?? 0) - 2), hi = max(5, (gains.max() ?? 0) + 4)  // room for the group labels
        p.y0 = lo; p.y1 = hi
        var svg = p.open("gain over local per device")
        let ticks = cells.enumerated().map { (Double($0), $1.method ?? "?") }
        svg += p.axes(xTicks: ticks, yTicks: Plot.ticks(lo, hi, count: 6).map { ($0, String(format: "%+.0f", $0)) },
                      xLabel: "method, grouped by the other settings", yLabel: "gain over local (points)")
        // The groups (e.g. one per α): a label over their cells, a separator between them.
        var start = 0
        for i in 1...cells.count where i == cells.count || group(cells[i], in: c) != group(cells[start], in: c) {
            let mid = p.px(Double(start + i - 1) / 2)
            svg += "<text x=\"\(num(mid))\" y=\"\(num(p.top + 14))\" text-anchor=\"middle\" font-size=\"12\" font-weight=\"600\">\(esc(group(cells[start], in: c)))</text>"
            if i < cells.count {
                let x = p.px(Double(i) - 0.5)
                svg += "<line x1=\"\(num(x))\" y1=\"\(num(p.top))\" x2=\"\(num(x))\" y2=\"\(num(p.top + p.innerH))\" stroke=\"#bbb\"/>"
            }
            start = i
        }
        svg += "<line x1=\"\(num(p.left))\" y1=\"\(num(p.py(0)))\" x2=\"\(num(p.left + p.innerW))\" y2=\"\(num(p.py(0)))\" stroke=\"#555\" stroke-dasharray=\"2 3\"><title>0: no better than training alone</title></line>"
        for (i, cell) in cells.enumerated() {
            let g = cell.gainOverLocal!
            let colour = ComparisonReport.palette[(methods.firstIndex(of: cell.method ?? "") ?? 0) % ComparisonReport.palette.count]
            for (k, (id, v)) in g.perDevice.sorted(by: { $0.key < $1.key }).enumerated() {
                let jitter = (Double(k % 9) - 4) * 0.035
                svg += "<circle cx=\"\(num(p.px(Double(i) + jitter)))\" cy=\"\(num(p.py(100 * v)))\" r=\"3\" fill=\"\(colour)\" fill-opacity=\"0.55\"><title>\(esc(id)): \(String(format: "%+.1f", 100 * v)) points</title></circle>"
            }
            for (value, dashed, name) in [(g.mean, false, "mean"), (g.p10, true, "p10")] {
                let y = p.py(100 * value), x = p.px(Double(i))
                svg += "<line x1=\"\(num(x - 18))\" y1=\"\(num(y))\" x2=\"\(num(x + 18))\" y2=\"\(num(y))\" stroke=\"\(colour)\" stroke-width=\"3\"\(dashed ? " stroke-dasharray=\"4 3\"" : "")><title>\(name) \(String(format: "%+.1f", 100 * value)) points</title></line>"
            }
        }
        let legend = methods.enumerated().map { (ComparisonReport.palette[$0.offset % ComparisonReport.palette.count], $0.element, false) }
            + [("#333", "bar: mean; dashed: p10", false)]
        return svg + p.legend(legend) + "</svg>"
    }

    /// The cell's settings other than the method, by short name (e.g. `alpha=0.1`).
    static func group(_ cell: SweepComparison.Cell, in c: SweepComparison) -> String {
        let rest = cell.settings.filter { $0.path != "personalisation.method" }
        return rest.isEmpty ? "all" : rest.map { "\(SweepExpansion.shortName($0.path, among: c.axes))=\($0.value)" }.joined(separator: ", ")
    }
}
