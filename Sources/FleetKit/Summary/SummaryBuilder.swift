// Builds the launcher's summary from the coordinator's metrics.jsonl (and its summary.json when
// the coordinator got to write one), the topology and the planner's per-group memory.
import Engine
import Federation
import Foundation
import Transport

/// Turns a finished (or interrupted) run into a `FleetSummary`.
public enum SummaryBuilder {
    /// Reads metrics.jsonl; lines that do not decode (a line being written) are skipped.
    public static func readMetrics(path: String) -> [RoundMetrics] {
        guard let data = FileManager.default.contents(atPath: path) else { return [] }
        let d = JSONDecoder()
        return data.split(separator: UInt8(ascii: "\n")).compactMap { try? d.decode(RoundMetrics.self, from: Data($0)) }
    }

    /// Reads the coordinator's summary.json, if there is one.
    public static func readCoordinatorSummary(path: String) -> RunSummary? {
        FileManager.default.contents(atPath: path).flatMap { try? JSONDecoder().decode(RunSummary.self, from: $0) }
    }

    /// The summary of a run of `t` (`label`: the sweep cell, if any; `realWire`: the fault
    /// proxy's counters, when it ran).
    public static func build(topology t: Topology, label: String? = nil, metrics: [RoundMetrics], coordinator: RunSummary?,
                             realSeconds: Double, interrupted: Bool, realWire: ProxyCounters? = nil) throws -> FleetSummary {
        let plans = try BudgetCheck.plans(t)
        let fleet = FleetPlan(t)
        let clock = SimulatedClock(topology: t, plans: plans, fleet: fleet)
        let sim = metrics.map(clock.round)
        let arch = ModelZoo.architecture(t.model.name, classes: BudgetCheck.classes)

        var updates = 0, denseUp = 0, updateCount = 0
        for m in metrics {
            updates += m.updateBytes.values.reduce(0, +)
            updateCount += m.updateBytes.count
            denseUp += m.updateBytes.count * m.denseModelBytes
        }
        let denseModel = metrics.last?.denseModelBytes ?? coordinator?.denseModelBytes ?? 0
        var failures: [String: Int] = [:]
        for m in metrics { for (_, why) in m.failed { failures[why, default: 0] += 1 } }

        let personal = coordinator?.personalFinal ?? [:]
        let values = personal.values.sorted()
        let dist = Distribution(values)
        let median: Double? = values.isEmpty ? nil : values.count % 2 == 1 ? values[values.count / 2]
            : (values[values.count / 2 - 1] + values[values.count / 2]) / 2

        let coverage = metrics.last?.coverageCumulative ?? [:]
        let weights = weightsUpdatedPercent(metrics, arch: arch)
        let modelText = "\(t.model.name.rawValue) @ \(t.model.resolution)x\(t.model.resolution) (\(t.model.pretrained ? "pretrained" : "random init"))"
        var dataText = "\(t.dataset.name.rawValue), \(t.partition.kind)"
        if t.partition.kind == "dirichlet" { dataText += " α=\(t.partition.alpha)" }
        if t.partition.kind == "classes" { dataText += " \(t.partition.classesPerDevice)/device" }

        return FleetSummary(
            topology: label.map { "\(t.name)/\($0)" } ?? t.name, about: t.about, model: modelText, data: dataText,
            devices: t.deviceCount, nodes: t.nodes.count,
            rounds: .init(planned: t.rounds.count, completed: metrics.count, skipped: metrics.filter(\.skipped).count),
            initialGlobalAccuracy: coordinator?.initialTestAccuracy ?? .nan,
            finalGlobalAccuracy: metrics.last?.testAccuracy ?? coordinator?.testAccuracy ?? .nan,
            personalisedAccuracy: .init(count: values.count, mean: dist?.mean, p10: dist?.p10, median: median, worst: dist?.worst,
                                        best: values.last, perDevice: personal),
            bytes: .init(uplink: metrics.reduce(0) { $0 + $1.bytesUp }, uplinkUpdates: updates, denseFedAvgUplink: denseUp,
                         uplinkRatioToDense: denseUp == 0 ? 0 : Double(updates) / Double(denseUp),
                         downlink: metrics.reduce(0) { $0 + $1.bytesDown }, denseModel: denseModel,
                         meanUpdate: updateCount == 0 ? 0 : Double(updates) / Double(updateCount)),
            memory: plans, weightsUpdatedPercent: weights, channelCoverage: coverage,
            meanChannelCoverage: coverage.isEmpty ? 0 : coverage.values.reduce(0, +) / Double(coverage.count),
            wallTime: .init(realSeconds: realSeconds, realRoundSeconds: metrics.reduce(0) { $0 + $1.wallSeconds },
                            simulatedSeconds: sim.reduce(0) { $0 + $1.seconds }, simulatedRounds: sim,
                            simulatedStragglers: sim.reduce(0) { $0 + $1.simulatedStragglers },
                            simulatedRetransmissions: sim.reduce(0) { $0 + $1.retransmissions }),
            failures: failures, refusedMessages: metrics.reduce(0) { $0 + $1.refusedMessages }, interrupted: interrupted || (coordinator?.interrupted ?? false) || metrics.count < t.rounds.count,
            coordinatedSchedule: .init(requested: t.coordinatedSchedule, implemented: true), curve: t.curve, realWire: realWire,
            privacy: coordinator?.privacy, membership: coordinator?.membership, secureAggregation: coordinator?.secureAggregation,
            personalisation: PersonalisationReport.build(topology: t, metrics: metrics, coordinator: coordinator))
    }

    /// Conv weights touched by at least one aggregated update over the run, % of all conv weights.
    static func weightsUpdatedPercent(_ metrics: [RoundMetrics], arch: Architecture) -> Double {
        var touched: [String: Set<Int>] = [:]
        for m in metrics { for (name, chans) in m.touchedChannels { touched[name, default: []].formUnion(chans) } }
        var n = 0
        for u in arch.units {
            guard let chans = touched[u.weightKey] else { continue }
            let perChannel = u.isDepthwise ? u.kernel * u.kernel : u.outChannels * u.kernel * u.kernel
            n += chans.count * perChannel
        }
        return 100 * Double(n) / Double(SparseLayout.convWeightCount(arch))
    }

    /// Writes `summary` as pretty, sorted JSON.
    /// Writes `summary` to `path` (summary.json) and its real seconds to timing.json beside it.
    public static func write(_ summary: FleetSummary, to path: String) throws {
        try encoder().encode(summary).write(to: URL(fileURLWithPath: path))
        let timing = FleetSummary.Timing(realSeconds: summary.wallTime.realSeconds, realRoundSeconds: summary.wallTime.realRoundSeconds,
                                         uplink: summary.bytes.uplink, downlink: summary.bytes.downlink)
        try encoder().encode(timing).write(to: URL(fileURLWithPath: timingPath(path)))
    }

    /// timing.json beside a summary.json.
    public static func timingPath(_ summaryPath: String) -> String {
        (summaryPath as NSString).deletingLastPathComponent + "/timing.json"
    }

    /// Pretty, sorted JSON with non-finite numbers as strings.
    static func encoder() -> JSONEncoder {
        let e = JSONEncoder()
        e.outputFormatting = [.prettyPrinted, .sortedKeys]
        e.nonConformingFloatEncodingStrategy = .convertToString(positiveInfinity: "inf", negativeInfinity: "-inf", nan: "nan")
        return e
    }

    /// The summary of the run in `folder`: its summary.json, or, when the launcher was interrupted
    /// before writing one, a summary rebuilt from its topology copy and what the coordinator wrote.
    public static func summary(of folder: RunFolder) throws -> FleetSummary {
        if FileManager.default.fileExists(atPath: folder.summary) { return try read(path: folder.summary) }
        guard FileManager.default.fileExists(atPath: folder.topology) else {
            throw RunFolderError("\(folder.path) has neither summary.json nor topology.yaml; is it a run folder from `fleet run`?")
        }
        let variant = try TopologyParser.load(path: folder.topology).variant(of: folder)
        return try build(topology: variant.topology, label: variant.label, metrics: readMetrics(path: folder.metrics),
                         coordinator: readCoordinatorSummary(path: folder.coordinatorSummary), realSeconds: .nan, interrupted: true,
                         realWire: WireProxy.read(path: folder.network)?.counters)
    }

    /// Reads a launcher summary.
    public static func read(path: String) throws -> FleetSummary {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw RunFolderError("no \(path); run `fleet run TOPOLOGY` first (the launcher writes summary.json when the run ends)")
        }
        let d = JSONDecoder()
        d.nonConformingFloatDecodingStrategy = .convertFromString(positiveInfinity: "inf", negativeInfinity: "-inf", nan: "nan")
        var summary = try d.decode(FleetSummary.self, from: data)
        if let t = FileManager.default.contents(atPath: timingPath(path)), let timing = try? d.decode(FleetSummary.Timing.self, from: t) {
            summary.wallTime.realSeconds = timing.realSeconds
            summary.wallTime.realRoundSeconds = timing.realRoundSeconds
            if let u = timing.uplink { summary.bytes.uplink = u }
            if let d = timing.downlink { summary.bytes.downlink = d }
        }
        return summary
    }
}
