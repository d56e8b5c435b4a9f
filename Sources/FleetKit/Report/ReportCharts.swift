// The charts of the report (five, plus ε per round in DP runs), each an inline SVG string.
import Federation
import Foundation

/// Chart builders.
enum ReportCharts {
    static let blue = "#1f6fb2", orange = "#e0701b", green = "#2a9d4b", grey = "#777", red = "#c0392b"

    /// Global test accuracy per round (round 0: the initial model), with personalised means.
    static func accuracy(_ s: FleetSummary, _ metrics: [RoundMetrics]) -> String {
        var p = Plot()
        p.x0 = 0; p.x1 = Double(max(1, metrics.count))
        p.y0 = 0; p.y1 = 100
        var global: [(Double, Double)] = []
        if s.initialGlobalAccuracy.isFinite { global.append((0, 100 * s.initialGlobalAccuracy)) }
        global += metrics.map { (Double($0.round), 100 * $0.testAccuracy) }
        let before = metrics.compactMap { m in m.personalBefore.map { (Double(m.round), 100 * $0.mean) } }
        let after = metrics.compactMap { m in m.personalAfter.map { (Double(m.round), 100 * $0.mean) } }
        var svg = p.open("global accuracy per round")
        let skipped = metrics.filter(\.skipped).map { Int($0.round) }
        svg += p.skippedBands(skipped)
        svg += p.axes(xTicks: Plot.roundTicks(0, metrics.count), yTicks: Plot.ticks(0, 100, count: 5).map { ($0, "\(Int($0)) %") },
                      xLabel: "round (0 = pretrained start)", yLabel: "test accuracy (%)")
        svg += p.line(global, color: blue)
        svg += p.line(before, color: grey, dashed: true)
        svg += p.line(after, color: orange, dashed: true)
        var legend = [(blue, "global model, global test set", false)]
        if !before.isEmpty { legend.append((grey, "personal split, before local steps (mean)", true)) }
        if !after.isEmpty { legend.append((orange, "personal split, after local steps (mean)", true)) }
        if !skipped.isEmpty { legend.append(("#dddddd", "round skipped (model unchanged)", false)) }
        svg += p.legend(legend.map { ($0.0, $0.1, $0.2) })
        return svg + "</svg>"
    }

    /// ε spent after each round (DP runs).
    static func epsilon(_ s: FleetSummary, _ metrics: [RoundMetrics]) -> String {
        let points = metrics.compactMap { m in m.epsilon.map { (Double(m.round), $0) } }
        var p = Plot()
        p.x0 = 0; p.x1 = Double(max(1, metrics.count))
        p.y0 = 0; p.y1 = max(1e-9, (points.map(\.1).max() ?? 1) * 1.1)
        var svg = p.open("privacy spent per round")
        svg += p.axes(xTicks: Plot.roundTicks(0, metrics.count), yTicks: Plot.ticks(0, p.y1, count: 5).map { ($0, String(format: "%.2g", $0)) },
                      xLabel: "round", yLabel: "ε spent")
        svg += p.line([(0, 0)] + points, color: red)
        svg += p.legend([(red, "ε after the round, δ = \(s.privacy.map { String(format: "%.2g", $0.delta) } ?? "?")", false)])
        return svg + "</svg>"
    }

    /// Histogram of the final personalised accuracy of each device.
    static func personalised(_ s: FleetSummary) -> String {
        let values = s.personalisedAccuracy.perDevice.values.map { 100 * $0 }
        var p = Plot()
        p.x0 = 0; p.x1 = 100
        var bins = Array(repeating: 0, count: 10)
        for v in values { bins[min(9, max(0, Int(v / 10)))] += 1 }
        p.y0 = 0; p.y1 = Double(max(1, bins.max() ?? 1)) * 1.15
        var svg = p.open("personalised accuracy distribution")
        let yt = Plot.ticks(0, p.y1, count: 5).filter { $0 == $0.rounded() }.map { ($0, "\(Int($0))") }
        svg += p.axes(xTicks: stride(from: 0.0, through: 100, by: 10).map { ($0, "\(Int($0)) %") }, yTicks: yt,
                      xLabel: "personalised accuracy on the device's private test split (%)", yLabel: "devices")
        if values.isEmpty {
            svg += "<text x=\"\(num(p.left + p.innerW / 2))\" y=\"\(num(p.top + p.innerH / 2))\" text-anchor=\"middle\" font-size=\"14\" fill=\"#777\">no device reported a final personalised accuracy</text>"
        }
        for (i, n) in bins.enumerated() where n > 0 {
            let x = p.px(Double(i) * 10) + 2, w = p.px(10) - p.px(0) - 4
            svg += "<rect x=\"\(num(x))\" y=\"\(num(p.py(Double(n))))\" width=\"\(num(w))\" height=\"\(num(p.py(0) - p.py(Double(n))))\" fill=\"\(green)\" opacity=\"0.8\"/>"
            svg += "<text x=\"\(num(x + w / 2))\" y=\"\(num(p.py(Double(n)) - 5))\" text-anchor=\"middle\" font-size=\"12\">\(n)</text>"
        }
        var legend: [(String, String, Bool)] = [(green, "devices per 10 % bin", false)]
        let marks: [(Double?, String, String)] = [(s.personalisedAccuracy.mean, "mean", blue), (s.personalisedAccuracy.p10, "10th percentile", red)]
        for (v, name, color) in marks {
            guard let v else { continue }
            let x = p.px(100 * v)
            svg += "<line x1=\"\(num(x))\" y1=\"\(num(p.top))\" x2=\"\(num(x))\" y2=\"\(num(p.top + p.innerH))\" stroke=\"\(color)\" stroke-width=\"2\" stroke-dasharray=\"6 4\"/>"
            legend.append((color, "\(name) \(String(format: "%.1f", 100 * v)) %", true))
        }
        if s.initialGlobalAccuracy.isFinite || s.finalGlobalAccuracy.isFinite {
            let x = p.px(100 * s.finalGlobalAccuracy)
            svg += "<line x1=\"\(num(x))\" y1=\"\(num(p.top))\" x2=\"\(num(x))\" y2=\"\(num(p.top + p.innerH))\" stroke=\"\(grey)\" stroke-width=\"2\"/>"
            legend.append((grey, "global model \(String(format: "%.1f", 100 * s.finalGlobalAccuracy)) %", false))
        }
        svg += p.legend(legend)
        return svg + "</svg>"
    }

    /// Uplink bytes per round: sparse UPDATEs against dense FedAvg (log scale).
    static func bytes(_ metrics: [RoundMetrics]) -> String {
        func positive(_ v: Int) -> Double? { v > 0 ? Double(v) : nil }
        let sparse = metrics.map { (Double($0.round), positive($0.updateBytes.values.reduce(0, +))) }
        let dense = metrics.map { (Double($0.round), positive($0.updateBytes.count * $0.denseModelBytes)) }
        let down = metrics.map { (Double($0.round), positive($0.bytesDown)) }
        var p = Plot()
        p.logY = true
        p.x0 = 0.5; p.x1 = Double(max(1, metrics.count)) + 0.5
        let all = (sparse + dense + down).compactMap(\.1)
        // Ticks at 1, 10, 100 of B, KB, MB and GB (binary units): exact positions, readable labels.
        let marks = [1.0, 1024, 1_048_576, 1_073_741_824].flatMap { u in [1.0, 10, 100].map { $0 * u } }
        let lo = all.min() ?? 1, hi = max(all.max() ?? 10, lo * 10)
        p.y0 = marks.last { $0 <= lo } ?? 1
        p.y1 = marks.first { $0 >= hi } ?? hi
        let yt = marks.filter { $0 >= p.y0 && $0 <= p.y1 }.map { ($0, byteLabel($0)) }
        var svg = p.open("uplink bytes per round against dense FedAvg")
        let skipped = metrics.filter(\.skipped).map { Int($0.round) }
        svg += p.skippedBands(skipped)
        svg += p.axes(xTicks: Plot.roundTicks(1, max(1, metrics.count)), yTicks: yt, xLabel: "round (no point: no bytes that round)",
                      yLabel: "bytes per round (log scale)")
        svg += p.lineWithGaps(dense, color: red, dashed: true)
        svg += p.lineWithGaps(sparse, color: blue)
        svg += p.lineWithGaps(down, color: grey, dashed: true)
        svg += p.legend([(blue, "uplink: sparse UPDATEs", false), (red, "uplink: dense FedAvg (f32 models)", true),
                         (grey, "downlink: models, patches, control", true)])
        return svg + "</svg>"
    }

    /// Peak SRAM of one training step against the budget, per device group.
    static func memory(_ s: FleetSummary) -> String {
        var p = Plot()
        let rowH = 46.0
        p.height = max(160, Double(s.memory.count) * rowH + 90)
        p.left = 170
        p.x0 = 0; p.x1 = Double(s.memory.map { max($0.budgetBytes, $0.peakBytes) }.max() ?? 1) / 1024 * 1.3
        var svg = p.open("memory per device against its budget")
        let xt = Plot.ticks(0, p.x1, count: 6).map { ($0, "\(Int($0))") }
        svg += p.axes(xTicks: xt, yTicks: [], xLabel: "SRAM of one training step, per device (KB, 1 KB = 1024 B)", yLabel: "")
        for (i, m) in s.memory.enumerated() {
            let y = p.top + 12 + Double(i) * rowH
            let budget = p.px(Double(m.budgetBytes) / 1024), peak = p.px(Double(m.peakBytes) / 1024)
            svg += "<rect x=\"\(num(p.left))\" y=\"\(num(y))\" width=\"\(num(budget - p.left))\" height=\"26\" fill=\"#eef3f8\" stroke=\"\(blue)\" stroke-dasharray=\"5 3\"/>"
            svg += "<rect x=\"\(num(p.left))\" y=\"\(num(y + 5))\" width=\"\(num(peak - p.left))\" height=\"16\" fill=\"\(m.peakBytes <= m.budgetBytes ? green : red)\"/>"
            svg += "<text x=\"\(num(p.left - 8))\" y=\"\(num(y + 12))\" text-anchor=\"end\" font-size=\"12\" font-weight=\"600\">\(esc(m.group))</text>"
            svg += "<text x=\"\(num(p.left - 8))\" y=\"\(num(y + 26))\" text-anchor=\"end\" font-size=\"11\" fill=\"#555\">\(m.devices) × \(esc(m.policy))</text>"
            svg += "<text x=\"\(num(max(peak, budget) + 6))\" y=\"\(num(y + 17))\" font-size=\"12\">\(String(format: "%.1f", Double(m.peakBytes) / 1024)) of \(String(format: "%.0f", Double(m.budgetBytes) / 1024)) KB</text>"
        }
        svg += p.legend([(green, "planned peak of one step", false), (blue, "budget", true)])
        return svg + "</svg>"
    }

    /// Heat map: per update layer, the fraction of its channels touched in each round, plus the run.
    static func coverage(_ s: FleetSummary, _ metrics: [RoundMetrics]) -> String {
        let layers = Set(metrics.flatMap { $0.coverageCumulative.keys }).sorted { a, b in
            (layerOrder(a), a) < (layerOrder(b), b)
        }
        var p = Plot()
        let cellH = 24.0
        p.left = 230; p.right = 170; p.bottom = 60
        p.height = max(170, Double(layers.count) * cellH + p.top + p.bottom + 10)
        let cols = metrics.count + 1
        p.x0 = 0; p.x1 = Double(cols)
        var svg = p.open("channel coverage heat map per update layer")
        if layers.isEmpty {
            svg += "<text x=\"\(num(p.left + p.innerW / 2))\" y=\"\(num(p.top + 40))\" text-anchor=\"middle\" font-size=\"14\" fill=\"#777\">no layer trained channel subsets (head/bias policies)</text>"
            return svg + "</svg>"
        }
        let cellW = p.innerW / Double(cols)
        var xt: [(Double, String)] = Plot.roundTicks(1, metrics.count).map { ($0.0 - 0.5, $0.1) }
        xt.append((Double(cols) - 0.5, "run"))
        svg += p.axes(xTicks: xt, yTicks: [], xLabel: "round (last column: the whole run, cumulative)", yLabel: "")
        for (r, layer) in layers.enumerated() {
            let y = p.top + Double(r) * cellH
            svg += "<text x=\"\(num(p.left - 8))\" y=\"\(num(y + cellH / 2 + 4))\" text-anchor=\"end\" font-size=\"11\">\(esc(shortName(layer)))</text>"
            for (c, m) in metrics.enumerated() {
                svg += cell(p.left + Double(c) * cellW, y, cellW, cellH, m.coverage[layer] ?? 0, round: Int(m.round), layer: layer)
            }
            svg += cell(p.left + Double(metrics.count) * cellW + 3, y, cellW - 3, cellH, metrics.last?.coverageCumulative[layer] ?? 0, round: nil, layer: layer)
        }
        // Colour scale legend.
        let lx = p.left + p.innerW + 30, ly = p.top + 4, lh = 150.0
        for i in 0..<30 {
            let f = 1 - Double(i) / 29
            svg += "<rect x=\"\(num(lx))\" y=\"\(num(ly + Double(i) * lh / 30))\" width=\"18\" height=\"\(num(lh / 30 + 0.5))\" fill=\"\(heat(f))\"/>"
        }
        svg += "<text x=\"\(num(lx + 24))\" y=\"\(num(ly + 10))\" font-size=\"12\">100 %</text>"
        svg += "<text x=\"\(num(lx + 24))\" y=\"\(num(ly + lh / 2 + 4))\" font-size=\"12\">50 %</text>"
        svg += "<text x=\"\(num(lx + 24))\" y=\"\(num(ly + lh))\" font-size=\"12\">0 %</text>"
        svg += "<text x=\"\(num(lx - 4))\" y=\"\(num(ly + lh + 22))\" font-size=\"12\">channels touched</text>"
        return svg + "</svg>"
    }

    /// One heat-map cell with a tooltip.
    static func cell(_ x: Double, _ y: Double, _ w: Double, _ h: Double, _ f: Double, round: Int?, layer: String) -> String {
        let label = round.map { "round \($0)" } ?? "whole run"
        var s = "<rect x=\"\(num(x))\" y=\"\(num(y))\" width=\"\(num(w - 1))\" height=\"\(num(h - 1))\" fill=\"\(heat(f))\"><title>\(esc(layer)), \(label): \(String(format: "%.1f", 100 * f)) % of channels</title></rect>"
        if w >= 34 {
            s += "<text x=\"\(num(x + w / 2))\" y=\"\(num(y + h / 2 + 4))\" text-anchor=\"middle\" font-size=\"10\" fill=\"\(f > 0.55 ? "#fff" : "#222")\">\(Int((100 * f).rounded()))</text>"
        }
        return s
    }

    /// White → dark blue.
    static func heat(_ f: Double) -> String {
        let t = min(1, max(0, f))
        let r = Int(247 - t * (247 - 8)), g = Int(251 - t * (251 - 48)), b = Int(255 - t * (255 - 107))
        return String(format: "#%02x%02x%02x", r, g, b)
    }

    /// Sort key: the first number in a layer name (block index), so layers read in network order.
    static func layerOrder(_ name: String) -> Int {
        let digits = name.split(whereSeparator: { !$0.isNumber }).first.flatMap { Int($0) }
        return digits ?? Int.max
    }

    /// `_blocks.15._project_conv.weight` → `_blocks.15._project_conv`.
    static func shortName(_ name: String) -> String {
        name.hasSuffix(".weight") ? String(name.dropLast(7)) : name
    }
}
