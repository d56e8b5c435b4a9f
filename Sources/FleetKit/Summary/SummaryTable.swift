// The plain-text summary table printed at the end of `fleet run` (and by `fleet report`).
import Engine
import Federation
import Foundation
import Transport

/// Formats summaries for the terminal.
public enum SummaryTable {
    /// A percent with one decimal, or "-".
    static func pct(_ x: Double?) -> String {
        guard let x, x.isFinite else { return "-" }
        return String(format: "%.1f %%", 100 * x)
    }

    /// Seconds as `1m 23s`.
    static func duration(_ s: Double) -> String {
        guard s.isFinite else { return "-" }
        if s < 60 { return String(format: "%.1f s", s) }
        if s < 3600 { return String(format: "%dm %02ds", Int(s) / 60, Int(s) % 60) }
        return String(format: "%dh %02dm", Int(s) / 3600, (Int(s) % 3600) / 60)
    }

    /// Bytes as KB/MB.
    static func bytes(_ n: Int) -> String { ByteSize.format(n) }

    /// A count with thousands separators: 1,234.
    static func count(_ n: Int) -> String {
        let digits = String(n.magnitude)
        var out = ""
        for (i, c) in digits.enumerated() {
            if i > 0 && (digits.count - i) % 3 == 0 { out.append(",") }
            out.append(c)
        }
        return (n < 0 ? "-" : "") + out
    }

    /// "1,234 messages, 61 dropped, 12 duplicated, 40 delayed, 3 reordered, 0 undeliverable".
    public static func realWire(_ c: ProxyCounters) -> String {
        let t = c.total
        return "\(count(t.received)) messages, \(count(t.dropped)) dropped, \(count(t.duplicated)) duplicated, \(count(t.delayed)) delayed, "
            + "\(count(t.reordered)) reordered, \(count(t.undeliverable)) undeliverable"
    }

    /// One line on a run's secure aggregation.
    public static func secure(_ a: SecureAggregationSummary) -> String {
        "\(a.mode): n \(a.participants), k \(a.neighbours), t \(a.threshold), ring 2^\(a.ringBits) (\(a.valueBits) value bits, clip \(String(format: "%.3g", a.clip))); "
            + "\(a.unmaskedRounds)/\(a.rounds) sums unmasked, \(a.refusedRounds) refused, \(a.dropoutsSurvived) dropouts survived; "
            + "\(bytes(Int(a.meanUplinkBytesPerDevice.rounded()))) up per device per round; the coordinator saw \(a.coordinatorSees)"
    }

    /// The table of one run.
    public static func render(_ s: FleetSummary) -> String {
        var rows: [(String, String)] = []
        rows.append(("topology", s.topology))
        rows.append(("model / data", "\(s.model); \(s.data)"))
        rows.append(("fleet", "\(s.devices) devices in \(s.nodes) node process\(s.nodes == 1 ? "" : "es")\(s.curve ? ", CURVE (identities authenticated by key)" : ", plain transport (identities NOT authenticated)")"))
        rows.append(("rounds", "\(s.rounds.completed)/\(s.rounds.planned) (\(s.rounds.skipped) skipped)\(s.interrupted ? ", INTERRUPTED" : "")"))
        rows.append(("global accuracy", "\(pct(s.initialGlobalAccuracy)) → \(pct(s.finalGlobalAccuracy))"))
        if let m = s.membership {
            func fig(_ k: String) -> String { m.figures[k].map { String(format: "%.3f", $0.mean) } ?? "-" }
            rows.append(("membership attack", "loss threshold, mean over \(m.perDevice.count) devices: global model AUC \(fig("global_auc")), "
                + "TPR@1%FPR \(fig("global_tpr_at_fpr_1")); personalised AUC \(fig("personal_auc")), TPR@1%FPR \(fig("personal_tpr_at_fpr_1"))"
                + "; LiRA (shadow models) global AUC \(fig("lira_global_auc")), personalised AUC \(fig("lira_personal_auc"))"))
        }
        if let p = s.privacy {
            let eps = p.epsilon.map { String(format: "ε = %.3g", $0) } ?? "ε = ∞ (no noise)"
            rows.append(("privacy", "\(p.mode) DP: clip \(p.clip), z \(String(format: "%.3g", p.noiseMultiplier)), \(p.sampling) q \(String(format: "%.3g", p.samplingRate)); "
                + "\(eps) at δ = \(String(format: "%.2g", p.delta)) over \(p.rounds) rounds\(p.stoppedAtMaxEpsilon ? " (stopped at maxEpsilon)" : "")"))
        }
        if let a = s.secureAggregation { rows.append(("secure aggregation", secure(a))) }
        let p = s.personalisedAccuracy
        rows.append(("personalised accuracy", p.count == 0 ? "-" : "mean \(pct(p.mean)), p10 \(pct(p.p10)), worst \(pct(p.worst)) over \(p.count) devices"))
        if let r = s.personalisation {
            let before = Distribution(r.devices.values.compactMap(\.before)), peak = r.devices.values.compactMap(\.peakMemoryBytes).max()
            let over = r.devices.values.filter { ($0.peakMemoryBytes ?? 0) > $0.budgetBytes }.count
            rows.append(("personalisation", "method \(r.method); private split before the first local steps: mean \(pct(before?.mean)), after the final round: mean \(pct(p.mean)); "
                + "largest reported step peak \(peak.map { bytes($0) } ?? "-")\(over > 0 ? " (\(over) devices over budget)" : "")"))
        }
        rows.append(("uplink (updates)", "\(bytes(s.bytes.uplinkUpdates)) = \(String(format: "%.2f", 100 * s.bytes.uplinkRatioToDense)) % of dense FedAvg (\(bytes(s.bytes.denseFedAvgUplink)))"))
        rows.append(("uplink / downlink", "\(bytes(s.bytes.uplink)) / \(bytes(s.bytes.downlink))"))
        for m in s.memory {
            rows.append(("memory \(m.group)", "\(bytes(m.peakBytes)) of \(bytes(m.budgetBytes)) (\(m.precision.map { "\($0), " } ?? "")\(m.policy), \(m.devices) devices, \(String(format: "%.2f", m.convWeightsPerStepPercent)) % conv weights/step)"))
        }
        rows.append(("conv weights updated", String(format: "%.2f %% of conv weights over the run", s.weightsUpdatedPercent)))
        rows.append(("channel coverage", s.channelCoverage.isEmpty ? "-" : "mean \(pct(s.meanChannelCoverage)) over \(s.channelCoverage.count) update layers"))
        if !s.failures.isEmpty {
            rows.append(("device failures", s.failures.sorted { $0.key < $1.key }.map { "\($0.key) \($0.value)" }.joined(separator: ", ")))
        }
        if s.refusedMessages > 0 { rows.append(("refused messages", "\(s.refusedMessages) (answered with an ERROR; never aggregated)")) }
        rows.append(("wall time", "real \(duration(s.wallTime.realSeconds)) (rounds \(duration(s.wallTime.realRoundSeconds))), simulated \(duration(s.wallTime.simulatedSeconds))"))
        let wall = s.wallTime
        if wall.simulatedStragglers + wall.simulatedRetransmissions > 0 {
            rows.append(("simulated network", "\(wall.simulatedRetransmissions) message(s) lost and sent again, \(wall.simulatedStragglers) device-round(s) past the simulated deadline"))
        }
        if let w = s.realWire { rows.append(("real wire", realWire(w) + " (fault proxy; network.json)")) }
        if s.coordinatedSchedule.requested { rows.append(("coordinated schedule", "on: the coordinator dealt each device disjoint channel blocks")) }
        let w = rows.map(\.0.count).max() ?? 0
        return rows.map { $0.0.padding(toLength: w, withPad: " ", startingAt: 0) + "  " + $0.1 }.joined(separator: "\n")
    }

    /// One line per sweep cell.
    public static func comparison(_ c: SweepComparison) -> String {
        func fig(_ x: Double?) -> String { x.map { String(format: "%.3f", $0) } ?? "-" }
        let gains = c.cells.contains { $0.gainOverLocal != nil }
        func pts(_ x: Double?) -> String { x.map { String(format: "%+.1f", 100 * $0) } ?? "-" }
        let header = ["cell", "ε", "global acc", "pers. mean", "pers. p10", "MIA AUC g/p", "uplink/dense"]
            + (gains ? ["gain vs local mean/p10 (pts)", "gaining"] : [])
        var rows = [header]
        for x in c.cells {
            rows.append([x.label, x.epsilon.map { String(format: "%.3g", $0) } ?? (x.privacyMode == "off" ? "-" : "∞"), pct(x.globalAccuracy),
                         pct(x.personalisedMean), pct(x.personalisedP10),
                         "\(fig(x.membership["global_auc"]))/\(fig(x.membership["personal_auc"]))",
                         String(format: "%.2f %%", 100 * x.uplinkRatioToDense)]
                + (gains ? [x.gainOverLocal.map { "\(pts($0.mean))/\(pts($0.p10))" } ?? "-",
                            x.gainOverLocal.map { String(format: "%.0f %%", 100 * $0.shareGaining) } ?? "-"] : []))
        }
        let widths = header.indices.map { c in rows.map { $0[c].count }.max() ?? 0 }
        return rows.map { row in
            row.enumerated().map { c, cell in
                c == 0 ? cell.padding(toLength: widths[c], withPad: " ", startingAt: 0)
                    : String(repeating: " ", count: widths[c] - cell.count) + cell
            }.joined(separator: "  ")
        }.joined(separator: "\n")
    }
}
