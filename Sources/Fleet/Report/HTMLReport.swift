// The self-contained HTML report (inline SVG; no external assets).
import Federation
import Foundation

/// Writes report.html.
public enum HTMLReport {
    /// Writes the report of `summary` and its rounds to `path`.
    public static func write(summary: FleetSummary, metrics: [RoundMetrics], to path: String) throws {
        try html(summary: summary, metrics: metrics).write(toFile: path, atomically: true, encoding: .utf8)
    }

    /// The page.
    public static func html(summary: FleetSummary, metrics: [RoundMetrics]) -> String { "" }
}
