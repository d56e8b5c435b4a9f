// The comparison page of a sweep (comparison.html): ε against global accuracy, against
// personalised mean and p10, and against membership-attack AUC, one line per setting of the keys
// that do not move ε (e.g. one per policy), then a table of every cell. Self-contained like the
// run report: inline SVG, no scripts.
import Foundation

/// Writes comparison.html.
public enum ComparisonReport {
    static let palette = ["#1f6fb2", "#e0701b", "#2a9d4b", "#c0392b", "#7b4fa6", "#8c6d1f", "#333333", "#d4479b"]

    /// Writes the page of `c` to `path`.
    public static func write(_ c: SweepComparison, to path: String) throws {
        try html(c).write(toFile: path, atomically: true, encoding: .utf8)
    }

    /// How cells are placed along x: by ε on a log scale (no finite ε: at "∞" on the right),
    /// or, when no cell has a finite ε, one slot per cell in grid order.
    struct XAxis {
        var ticks: [(Double, String)]
        var label: String
        var position: (SweepComparison.Cell) -> Double
        var x0: Double, x1: Double

        init(_ c: SweepComparison) {
            let finite = c.cells.compactMap(\.epsilon).filter { $0 > 0 && $0.isFinite }
            if let lo = finite.min(), let hi = finite.max() {
                let a = log10(lo), b = log10(hi)
                let pad = max(0.15, (b - a) * 0.08)
                let infinity = b + max(0.5, (b - a) * 0.2)
                position = { $0.epsilon.map { log10(max($0, 1e-12)) } ?? infinity }
                var t = Array(Set(finite)).sorted().map { (log10($0), String(format: "%.3g", $0)) }
                if c.cells.contains(where: { $0.epsilon == nil }) { t.append((infinity, "∞ (no noise)")) }
                ticks = t
                label = "ε spent (log scale; δ as in the table)"
                x0 = a - pad; x1 = (c.cells.contains { $0.epsilon == nil } ? infinity : b) + pad
            } else {
                let index = Dictionary(c.cells.enumerated().map { ($1.label, Double($0)) }, uniquingKeysWith: { a, _ in a })
                position = { index[$0.label] ?? 0 }
                ticks = c.cells.enumerated().map { (Double($0), $1.label) }
                label = "cell (no cell spent a finite ε)"
                x0 = -0.5; x1 = Double(max(1, c.cells.count)) - 0.5
            }
        }
    }

    /// One chart: for every line of `c`, one series per `(name suffix, dashed, value)`.
    static func chart(_ c: SweepComparison, axis: XAxis, title: String, yLabel: String, percent: Bool,
                      series: [(String, Bool, (SweepComparison.Cell) -> Double?)]) -> String {
        var p = Plot()
        p.x0 = axis.x0; p.x1 = axis.x1
        let all = c.cells.flatMap { cell in series.compactMap { $0.2(cell) } }.filter(\.isFinite)
        if percent {
            p.y0 = 0; p.y1 = 100
        } else {
            p.y0 = max(0, min(0.45, (all.min() ?? 0.5) - 0.05)); p.y1 = min(1, max(0.6, (all.max() ?? 0.5) + 0.05))
        }
        var svg = p.open(title)
        let yTicks = Plot.ticks(p.y0, p.y1, count: 5).map { ($0, percent ? "\(Int($0)) %" : String(format: "%.2f", $0)) }
        svg += p.axes(xTicks: axis.ticks, yTicks: yTicks, xLabel: axis.label, yLabel: yLabel)
        var legend: [(String, String, Bool)] = []
        for (i, line) in c.lines.enumerated() {
            let colour = palette[i % palette.count]
            let cells = line.cells.sorted { axis.position($0) < axis.position($1) }
            for (suffix, dashed, value) in series {
                let points = cells.compactMap { cell in value(cell).map { (axis.position(cell), percent ? 100 * $0 : $0) } }
                guard !points.isEmpty else { continue }
                svg += p.line(points, color: colour, dashed: dashed)
                legend.append((colour, suffix.isEmpty ? line.name : "\(line.name): \(suffix)", dashed))
            }
        }
        if !percent, p.y0 < 0.5, p.y1 > 0.5 {
            svg += "<line x1=\"\(num(p.left))\" y1=\"\(num(p.py(0.5)))\" x2=\"\(num(p.left + p.innerW))\" y2=\"\(num(p.py(0.5)))\" stroke=\"#999\" stroke-dasharray=\"2 3\"><title>0.5: the attack does no better than a coin</title></line>"
        }
        return svg + p.legend(legend) + "</svg>"
    }

    /// The page.
    public static func html(_ c: SweepComparison) -> String {
        let axis = XAxis(c)
        let hasLiRA = c.cells.contains { $0.membership["lira_global_auc"] != nil }
        let hasAttack = c.cells.contains { !$0.membership.isEmpty }
        var sections: [(String, String, String)] = [
            ("Global accuracy against privacy spent", "Final accuracy of the global model on the global test set. With personal heads (personalisation.personal: head) the shared model carries no trained classifier (each device keeps its own), so its accuracy here stays near chance; what those devices reach is in the next chart.",
             chart(c, axis: axis, title: "global accuracy against ε", yLabel: "global test accuracy (%)", percent: true,
                   series: [("", false, { $0.globalAccuracy })])),
            ("Personalised accuracy against privacy spent", "Each device's accuracy on its private test split with the final model and its personal parameters: mean (solid) and 10th percentile over devices (dashed).",
             chart(c, axis: axis, title: "personalised accuracy against ε", yLabel: "personalised accuracy (%)", percent: true,
                   series: [("mean", false, { $0.personalisedMean }), ("p10", true, { $0.personalisedP10 })])),
        ]
        if hasAttack {
            sections.append(("Membership-attack AUC against privacy spent", "Loss-threshold attack (Yeom et al. 2018), mean AUC over devices: members are a device's training shard, non-members its private test split; against the released global model (solid) and the device's personalised model (dashed). 0.5 is a coin toss.",
                             chart(c, axis: axis, title: "membership AUC against ε", yLabel: "attack AUC", percent: false,
                                   series: [("global model", false, { $0.membership["global_auc"] }), ("personalised", true, { $0.membership["personal_auc"] })])))
        }
        if hasLiRA {
            sections.append(("Calibrated attack (LiRA offline) AUC against privacy spent", "LiRA offline with shadow models (Carlini et al. 2022), mean AUC over devices, against the global model (solid) and the personalised model (dashed).",
                             chart(c, axis: axis, title: "LiRA AUC against ε", yLabel: "attack AUC", percent: false,
                                   series: [("global model", false, { $0.membership["lira_global_auc"] }), ("personalised", true, { $0.membership["lira_personal_auc"] })])))
        }
        if let gains = GainOverLocalChart.svg(c) {
            sections.insert(("Gain over local-only training, per device", "Each dot is one device: its accuracy on its private test split with its own model after the final round, minus the same device's when it trained alone (personalisation.method: local, same seed, same shards, same steps). Bar: mean over devices; dashed bar: 10th percentile (the devices that gain least). Above the dotted line the fleet helped that device.",
                             gains), at: 0)
            sections.insert(("Methods against local-only", "", methodTable(c)), at: 1)
        }
        let body = sections.map { HTMLPage.section($0.0, note: $0.1, $0.2) }.joined(separator: "\n")
        return HTMLPage.document(title: "SparseFleet sweep: \(c.topology)", maxWidth: 1100, extraStyle: """
            table { border-collapse: collapse; font-size: 12px; } td, th { border-bottom: 1px solid #ddd; padding: 3px 7px; text-align: right; }
            td:first-child, th:first-child { text-align: left; }
            """, body: """
            <h1>SparseFleet sweep: \(esc(c.topology))</h1>
            <p class="sub">\(esc(c.about))</p>
            <p class="sub">\(c.cells.count) cells, seed \(c.seed) in every cell; swept: \(esc(c.axes.map { "\($0.path) ∈ {\($0.values.joined(separator: ", "))}" }.joined(separator: "; ")))</p>
            \(body)
            \(HTMLPage.section("Every cell", note: "Each cell's own summary.json and report.html are in its folder under this sweep's run folder.", table(c)))
            """)
    }

    /// Per cell with a method: personalised accuracy, gain over local (mean, p10, share gaining),
    /// uplink and peak memory against the budget.
    static func methodTable(_ c: SweepComparison) -> String {
        func pts(_ x: Double?) -> String { x.map { String(format: "%+.1f", 100 * $0) } ?? "–" }
        let header = ["cell", "method", "pers. mean", "pers. p10", "gain mean (pts)", "gain p10 (pts)", "devices gaining", "uplink", "peak memory / budget"]
        var rows = "<tr>" + header.map { "<th>\(esc($0))</th>" }.joined() + "</tr>"
        for x in c.cells where x.method != nil {
            let g = x.gainOverLocal
            let memory = x.peakMemoryMax.map { "\(byteLabel(Double($0))) / \(x.budgetMin.map { byteLabel(Double($0)) } ?? "?")" } ?? "–"
            let cells = [GainOverLocalChart.group(x, in: c), x.method ?? "", x.personalisedMean.map { String(format: "%.1f %%", 100 * $0) } ?? "–",
                         x.personalisedP10.map { String(format: "%.1f %%", 100 * $0) } ?? "–", pts(g?.mean), pts(g?.p10),
                         g.map { String(format: "%.0f %% of %d", 100 * $0.shareGaining, $0.devices) } ?? (x.method == "local" ? "(baseline)" : "–"),
                         byteLabel(Double(x.uplinkUpdateBytes)), memory]
            rows += "<tr>" + cells.map { "<td>\(esc($0))</td>" }.joined() + "</tr>"
        }
        return "<table>\(rows)</table>"
    }

    /// The table of every cell.
    static func table(_ c: SweepComparison) -> String {
        func pct(_ x: Double?) -> String { x.map { String(format: "%.1f %%", 100 * $0) } ?? "–" }
        func fig(_ x: Double?) -> String { x.map { String(format: "%.3f", $0) } ?? "–" }
        let header = ["cell", "DP", "z", "ε", "δ", "global acc", "pers. mean", "pers. p10", "MIA AUC global", "MIA AUC pers.",
                      "TPR@1%FPR global", "TPR@1%FPR pers.", "LiRA AUC global", "LiRA AUC pers.", "uplink", "of dense", "rounds"]
        var rows = "<tr>" + header.map { "<th>\(esc($0))</th>" }.joined() + "</tr>"
        for x in c.cells {
            let cells = [x.label, x.privacyMode, x.noiseMultiplier.map { String(format: "%.3g", $0) } ?? "–",
                         x.epsilon.map { String(format: "%.3g", $0) } ?? (x.privacyMode == "off" ? "–" : "∞"),
                         x.delta.map { String(format: "%.2g", $0) } ?? "–", pct(x.globalAccuracy), pct(x.personalisedMean), pct(x.personalisedP10),
                         fig(x.membership["global_auc"]), fig(x.membership["personal_auc"]),
                         fig(x.membership["global_tpr_at_fpr_1"]), fig(x.membership["personal_tpr_at_fpr_1"]),
                         fig(x.membership["lira_global_auc"]), fig(x.membership["lira_personal_auc"]),
                         byteLabel(Double(x.uplinkUpdateBytes)), String(format: "%.2f %%", 100 * x.uplinkRatioToDense),
                         "\(x.roundsCompleted)/\(x.roundsPlanned)\(x.interrupted ? " (stopped)" : "")"]
            rows += "<tr>" + cells.map { "<td>\(esc($0))</td>" }.joined() + "</tr>"
        }
        return "<table>\(rows)</table>"
    }
}
