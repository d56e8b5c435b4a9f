// A few SVG building blocks for the report's charts: a plot frame with labelled axes and ticks,
// scales, escaping and a legend.
import Foundation

/// Escapes text for HTML and SVG.
func esc(_ s: String) -> String {
    s.replacingOccurrences(of: "&", with: "&amp;").replacingOccurrences(of: "<", with: "&lt;")
        .replacingOccurrences(of: ">", with: "&gt;").replacingOccurrences(of: "\"", with: "&quot;")
}

/// Two decimals, no trailing noise.
func num(_ x: Double) -> String { String(format: "%.2f", x) }

/// A chart area: canvas size, margins, and the data → pixel mapping of both axes.
struct Plot {
    /// Canvas width and height, px.
    var width = 960.0, height = 340.0
    /// Margins: left, right, top, bottom.
    var left = 96.0, right = 290.0, top = 20.0, bottom = 56.0
    /// Data range of x.
    var x0 = 0.0, x1 = 1.0
    /// Data range of y.
    var y0 = 0.0, y1 = 1.0
    /// Whether y is logarithmic (base 10).
    var logY = false

    /// Inner width.
    var innerW: Double { width - left - right }
    /// Inner height.
    var innerH: Double { height - top - bottom }

    /// Pixel x of data x.
    func px(_ x: Double) -> Double { left + (x - x0) / max(1e-12, x1 - x0) * innerW }
    /// Pixel y of data y.
    func py(_ y: Double) -> Double {
        if logY {
            let l = log10(max(y, 1e-12)), a = log10(y0), b = log10(y1)
            return top + innerH - (l - a) / max(1e-12, b - a) * innerH
        }
        return top + innerH - (y - y0) / max(1e-12, y1 - y0) * innerH
    }

    /// Opening tag of the svg element.
    func open(_ title: String) -> String {
        "<svg xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 \(Int(width)) \(Int(height))\" width=\"\(Int(width))\" height=\"\(Int(height))\" role=\"img\" aria-label=\"\(esc(title))\">"
    }

    /// Axes, grid lines, ticks and axis titles.
    func axes(xTicks: [(Double, String)], yTicks: [(Double, String)], xLabel: String, yLabel: String) -> String {
        var s = ""
        for (v, t) in yTicks {
            let y = py(v)
            s += "<line x1=\"\(num(left))\" y1=\"\(num(y))\" x2=\"\(num(left + innerW))\" y2=\"\(num(y))\" stroke=\"#e4e4e4\"/>"
            s += "<text x=\"\(num(left - 8))\" y=\"\(num(y + 4))\" text-anchor=\"end\" font-size=\"12\">\(esc(t))</text>"
        }
        for (v, t) in xTicks {
            let x = px(v)
            s += "<line x1=\"\(num(x))\" y1=\"\(num(top + innerH))\" x2=\"\(num(x))\" y2=\"\(num(top + innerH + 5))\" stroke=\"#333\"/>"
            s += "<text x=\"\(num(x))\" y=\"\(num(top + innerH + 19))\" text-anchor=\"middle\" font-size=\"12\">\(esc(t))</text>"
        }
        s += "<line x1=\"\(num(left))\" y1=\"\(num(top))\" x2=\"\(num(left))\" y2=\"\(num(top + innerH))\" stroke=\"#333\"/>"
        s += "<line x1=\"\(num(left))\" y1=\"\(num(top + innerH))\" x2=\"\(num(left + innerW))\" y2=\"\(num(top + innerH))\" stroke=\"#333\"/>"
        s += "<text x=\"\(num(left + innerW / 2))\" y=\"\(num(height - 10))\" text-anchor=\"middle\" font-size=\"13\" font-weight=\"600\">\(esc(xLabel))</text>"
        s += "<text transform=\"translate(18 \(num(top + innerH / 2))) rotate(-90)\" text-anchor=\"middle\" font-size=\"13\" font-weight=\"600\">\(esc(yLabel))</text>"
        return s
    }

    /// A legend in the right margin: (colour, label, dashed).
    func legend(_ items: [(String, String, Bool)]) -> String {
        var s = ""
        for (i, item) in items.enumerated() {
            let y = top + 10 + Double(i) * 22
            let x = left + innerW + 16
            s += "<line x1=\"\(num(x))\" y1=\"\(num(y))\" x2=\"\(num(x + 24))\" y2=\"\(num(y))\" stroke=\"\(item.0)\" stroke-width=\"4\"\(item.2 ? " stroke-dasharray=\"6 4\"" : "")/>"
            s += "<text x=\"\(num(x + 30))\" y=\"\(num(y + 4))\" font-size=\"12\">\(esc(item.1))</text>"
        }
        return s
    }

    /// A polyline through `points` with dots.
    func line(_ points: [(Double, Double)], color: String, dashed: Bool = false) -> String {
        guard !points.isEmpty else { return "" }
        let d = points.map { "\(num(px($0.0))),\(num(py($0.1)))" }.joined(separator: " ")
        var s = "<polyline points=\"\(d)\" fill=\"none\" stroke=\"\(color)\" stroke-width=\"2.5\"\(dashed ? " stroke-dasharray=\"6 4\"" : "")/>"
        if points.count <= 60 {
            for p in points { s += "<circle cx=\"\(num(px(p.0)))\" cy=\"\(num(py(p.1)))\" r=\"3.5\" fill=\"\(color)\"/>" }
        }
        return s
    }

    /// Polylines through the points that have a value, broken where a value is missing.
    func lineWithGaps(_ points: [(Double, Double?)], color: String, dashed: Bool = false) -> String {
        var out = "", run: [(Double, Double)] = []
        for (x, y) in points {
            if let y { run.append((x, y)) } else { out += line(run, color: color, dashed: dashed); run = [] }
        }
        return out + line(run, color: color, dashed: dashed)
    }

    /// Light bands behind skipped rounds, labelled at the top.
    func skippedBands(_ rounds: [Int]) -> String {
        var s = ""
        for r in rounds {
            let a = max(left, px(Double(r) - 0.5)), b = min(left + innerW, px(Double(r) + 0.5))
            s += "<rect x=\"\(num(a))\" y=\"\(num(top))\" width=\"\(num(b - a))\" height=\"\(num(innerH))\" fill=\"#efefef\"><title>round \(r) skipped: too few updates by the deadline; model unchanged</title></rect>"
            s += "<text x=\"\(num((a + b) / 2))\" y=\"\(num(top + 12))\" text-anchor=\"middle\" font-size=\"10\" fill=\"#777\">skipped</text>"
        }
        return s
    }

    /// About `count` round tick values over [a, b].
    static func ticks(_ a: Double, _ b: Double, count: Int = 6) -> [Double] {
        let span = max(b - a, 1e-9)
        let raw = span / Double(count)
        let mag = pow(10, floor(log10(raw)))
        let step = [1.0, 2, 5, 10].map { $0 * mag }.first { $0 >= raw } ?? raw
        var v = ceil(a / step) * step
        var out: [Double] = []
        while v <= b + step * 1e-6 { out.append(v); v += step }
        return out
    }

    /// Integer ticks over rounds 1...n (at most ~12).
    static func roundTicks(_ lo: Int, _ hi: Int) -> [(Double, String)] {
        let step = max(1, Int((Double(hi - lo) / 12).rounded(.up)))
        return stride(from: lo, through: hi, by: step).map { (Double($0), "\($0)") }
    }
}

/// Bytes as a short label (B, KB, MB, GB; 1 KB = 1024 B).
func byteLabel(_ b: Double) -> String {
    if b >= 1_073_741_824 { return String(format: "%.4g GB", b / 1_073_741_824) }
    if b >= 1_048_576 { return String(format: "%.4g MB", b / 1_048_576) }
    if b >= 1024 { return String(format: "%.4g KB", b / 1024) }
    return String(format: "%.0f B", b)
}
