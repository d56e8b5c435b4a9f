// The self-contained HTML report of a run: headline figures and five inline-SVG charts
// (no scripts, no external assets; it opens from a file or an e-mail attachment).
import Engine
import Federation
import Foundation

/// Writes report.html.
public enum HTMLReport {
    /// Writes the report of `summary` and its rounds to `path`.
    public static func write(summary: FleetSummary, metrics: [RoundMetrics], to path: String) throws {
        try html(summary: summary, metrics: metrics).write(toFile: path, atomically: true, encoding: .utf8)
    }

    /// The page.
    public static func html(summary s: FleetSummary, metrics: [RoundMetrics]) -> String {
        let p = s.personalisedAccuracy
        let figures: [(String, String)] = [
            ("global accuracy", "\(SummaryTable.pct(s.initialGlobalAccuracy)) → \(SummaryTable.pct(s.finalGlobalAccuracy))"),
            ("personalised accuracy", p.count == 0 ? "–" : "mean \(SummaryTable.pct(p.mean)), p10 \(SummaryTable.pct(p.p10)), worst \(SummaryTable.pct(p.worst))"),
            ("uplink vs dense FedAvg", String(format: "%.2f %%", 100 * s.bytes.uplinkRatioToDense) + " (\(byteLabel(Double(s.bytes.uplinkUpdates))) vs \(byteLabel(Double(s.bytes.denseFedAvgUplink))))"),
            ("conv weights updated", String(format: "%.2f %% over the run", s.weightsUpdatedPercent)),
            ("channel coverage", s.channelCoverage.isEmpty ? "–" : "mean \(SummaryTable.pct(s.meanChannelCoverage)) over \(s.channelCoverage.count) layers"),
            ("rounds", "\(s.rounds.completed)/\(s.rounds.planned), \(s.rounds.skipped) skipped\(s.interrupted ? ", interrupted" : "")"),
            ("wall time", "real \(SummaryTable.duration(s.wallTime.realSeconds)), simulated \(SummaryTable.duration(s.wallTime.simulatedSeconds))"),
            ("device failures", s.failures.isEmpty ? "none" : s.failures.sorted { $0.key < $1.key }.map { "\($0.key) \($0.value)" }.joined(separator: ", ")),
        ]
        let cards = (figures + (s.realWire.map { [("real wire (fault proxy)", SummaryTable.realWire($0))] } ?? [])
                     + (s.secureAggregation.map { [("secure aggregation", SummaryTable.secure($0))] } ?? [])).map { "<div class=\"card\"><div class=\"k\">\(esc($0.0))</div><div class=\"v\">\(esc($0.1))</div></div>" }.joined()
        var notes: [String] = []
        if s.coordinatedSchedule.requested { notes.append("Coordinated channel schedule on: each round the coordinator dealt every sampled device a disjoint block of channels per update layer.") }
        if let a = s.secureAggregation { notes.append("Secure aggregation (\(a.mode)): \(a.guarantee)") }
        if s.interrupted { notes.append("The run stopped before its last round; the charts show the rounds that finished.") }
        let sections: [(String, String, String)] = [
            ("Global accuracy per round", "Accuracy of the aggregated global model on the global test set after each round; dashed: the mean accuracy of the sampled devices on their private test splits, before and after their local steps.", ReportCharts.accuracy(s, metrics)),
            ("Personalised accuracy distribution", "Each device's accuracy on its private test split with the final model (its personal parameters kept, if any), in 10 % bins.", ReportCharts.personalised(s)),
            ("Bytes per round against dense", "Uplink bytes of the aggregated sparse UPDATEs (under secure aggregation: every SECAGG message the summed devices sent) against dense FedAvg, which would send the whole f32 model from every reporting device; downlink is everything the coordinator sent. 1 KB = 1024 B.", ReportCharts.bytes(metrics)),
            ("Memory per device against its budget", "Peak SRAM of one training step from the memory planner (the arena on each device enforces it byte for byte), per device group.", ReportCharts.memory(s)),
            ("Channel coverage per update layer", "Fraction of each update layer's channels touched by at least one aggregated update, per round and over the whole run.", ReportCharts.coverage(s, metrics)),
        ] + (s.privacy == nil ? [] : [
            ("Privacy spent per round", "ε of device-level differential privacy after each round, from the Rényi-DP accountant of the sampled Gaussian mechanism (\(s.privacy!.mode) mode).", ReportCharts.epsilon(s, metrics)),
        ])
        var body = sections.map { HTMLPage.section($0.0, note: $0.1, $0.2) }.joined(separator: "\n")
        if let r = s.personalisation {
            body += "\n" + HTMLPage.section("Every device (personalisation.method: \(r.method))",
                                             note: "Accuracy on the device's private test split before its first local steps and with its own model after the final round; the UPDATE bytes it sent; its largest step peak against its budget.",
                                             deviceTable(r))
        }
        return HTMLPage.document(title: "SparseFleet report: \(s.topology)", maxWidth: 1000, extraStyle: """
            .cards { display: grid; grid-template-columns: repeat(4, 1fr); gap: 10px; }
            .card { border: 1px solid #ddd; border-radius: 6px; padding: 8px 10px; } .k { font-size: 12px; color: #666; } .v { font-size: 14px; font-weight: 600; }
            table { border-collapse: collapse; font-size: 12px; } td, th { border-bottom: 1px solid #ddd; padding: 3px 7px; text-align: right; }
            td:first-child, th:first-child { text-align: left; }
            .warn { background: #fff4e5; border: 1px solid #f0c080; padding: 8px 10px; border-radius: 6px; font-size: 13px; }
            """, body: """
            <h1>SparseFleet run: \(esc(s.topology))</h1>
            <p class="sub">\(esc(s.about))</p>
            <p class="sub">\(esc(s.model)) · \(esc(s.data)) · \(s.devices) devices in \(s.nodes) node process\(s.nodes == 1 ? "" : "es")\(s.curve ? " · CURVE" : "")</p>
            \(notes.map { "<p class=\"warn\">\(esc($0))</p>" }.joined())
            <div class="cards">\(cards)</div>
            \(body)
            """)
    }

    /// One row per device of a run's personalisation report.
    static func deviceTable(_ r: PersonalisationReport) -> String {
        let header = ["device", "before", "after", "after − before", "UPDATE bytes sent", "peak / budget"]
        var rows = "<tr>" + header.map { "<th>\(esc($0))</th>" }.joined() + "</tr>"
        for (id, d) in r.devices.sorted(by: { $0.key < $1.key }) {
            var change = "–"
            if let b = d.before, let a = d.after { change = String(format: "%+.1f pts", 100 * (a - b)) }
            let cells = [id, SummaryTable.pct(d.before), SummaryTable.pct(d.after), change, byteLabel(Double(d.bytesSent)),
                         "\(d.peakMemoryBytes.map { byteLabel(Double($0)) } ?? "–") / \(byteLabel(Double(d.budgetBytes)))"]
            rows += "<tr>" + cells.map { "<td>\(esc($0))</td>" }.joined() + "</tr>"
        }
        return "<table>\(rows)</table>"
    }
}
