// The live progress line: round, global accuracy, devices reporting, bytes, ETA — read from the
// coordinator's metrics.jsonl while the run goes on.
import Engine
import Federation
import Foundation

/// Renders progress from the rounds seen so far.
struct ProgressLine {
    /// Rounds planned.
    let planned: Int
    /// When the launcher started.
    let started: Date
    /// Whether standard output is a terminal (then the line is redrawn in place).
    let tty = isatty(STDOUT_FILENO) == 1
    private var printedRounds = 0
    private var lastDraw = Date.distantPast

    init(planned: Int, started: Date) { self.planned = planned; self.started = started }

    /// The text for `metrics` at `now`.
    func text(_ metrics: [RoundMetrics], now: Date = Date()) -> String {
        let elapsed = SummaryTable.duration(now.timeIntervalSince(started))
        guard let m = metrics.last else {
            return "[\(elapsed)] starting: nodes load data and join (round 1 of \(planned) not closed yet)"
        }
        let up = metrics.reduce(0) { $0 + $1.updateBytes.values.reduce(0, +) }
        let dense = metrics.reduce(0) { $0 + $1.updateBytes.count * $1.denseModelBytes }
        let mean = metrics.reduce(0) { $0 + $1.wallSeconds } / Double(metrics.count)
        let eta = SummaryTable.duration(mean * Double(planned - metrics.count))
        let ratio = dense == 0 ? "" : String(format: " (%.2f%% of dense)", 100 * Double(up) / Double(dense))
        return "[\(elapsed)] round \(m.round)/\(planned)  acc \(SummaryTable.pct(m.testAccuracy))  devices \(m.reporting.count)/\(m.sampled.count)"
            + "  uplink \(ByteSize.format(up))\(ratio)  ETA \(metrics.count >= planned ? "-" : eta)"
    }

    /// Draws the line (in place on a terminal; one line per new round otherwise).
    mutating func draw(_ metrics: [RoundMetrics]) {
        if tty {
            guard Date().timeIntervalSince(lastDraw) >= 0.5 else { return }
            lastDraw = Date()
            print("\r\u{1B}[2K" + text(metrics), terminator: "")
            fflush(stdout)
        } else if metrics.count > printedRounds || printedRounds == 0 && Date().timeIntervalSince(lastDraw) > 30 {
            lastDraw = Date()
            printedRounds = metrics.count
            print(text(metrics))
            fflush(stdout)
        }
    }

    /// Ends the line on a terminal.
    func finish() { if tty { print("") } }
}
