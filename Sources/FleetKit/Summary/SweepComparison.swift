// comparison.json of a sweep: the swept keys, one row of headline figures per cell (privacy
// spent, accuracy, membership-attack figures, bytes), and every cell's full summary. Field names
// are STABLE, as in summary.json.
import Federation
import Foundation

/// The figures of every cell of a sweep.
public struct SweepComparison: Codable, Equatable, Sendable {
    /// Format tag: `sparsefleet.sweep-comparison/1`.
    public var schema = "sparsefleet.sweep-comparison/1"
    /// Topology name.
    public var topology: String
    /// What the topology studies.
    public var about: String
    /// The seed every cell ran with.
    public var seed: UInt64
    /// The swept keys and their values.
    public var axes: [SweepAxis]
    /// One row per cell, in grid order.
    public var cells: [Cell]

    /// One cell's headline figures.
    public struct Cell: Codable, Equatable, Sendable {
        /// The cell's folder name under the sweep's run folder.
        public var label: String
        /// The values the cell set.
        public var settings: [SweepSetting]
        /// The line this cell belongs to on the comparison page: the settings of the swept keys
        /// that do not move ε by their short name (e.g. `policy=dgsu`), or `all cells`.
        public var line: String
        /// off, central or local.
        public var privacyMode: String
        /// Noise multiplier z (nil without DP).
        public var noiseMultiplier: Double?
        /// ε spent at `delta`; nil when no finite ε holds (DP off, or z = 0).
        public var epsilon: Double?
        /// δ (nil without DP).
        public var delta: Double?
        /// Final global test accuracy (fraction).
        public var globalAccuracy: Double
        /// Personalised accuracy over devices: mean and 10th percentile (fractions).
        public var personalisedMean: Double?
        /// 10th percentile of personalised accuracy.
        public var personalisedP10: Double?
        /// Membership-attack figure (`global_auc`, `personal_tpr_at_fpr_1`, `lira_global_auc`, …) → mean over devices.
        public var membership: [String: Double]
        /// Aggregated UPDATE bytes over the run.
        public var uplinkUpdateBytes: Int
        /// uplinkUpdateBytes / what dense FedAvg would have sent.
        public var uplinkRatioToDense: Double
        /// Mean UPDATE bytes per device per round.
        public var meanUpdateBytes: Double
        /// Rounds completed of planned.
        public var roundsCompleted: Int
        /// Rounds planned.
        public var roundsPlanned: Int
        /// Whether the cell stopped early (Ctrl-C or maxEpsilon).
        public var interrupted: Bool
        /// Real seconds the cell took.
        public var realSeconds: Double
        /// The personalisation method (nil in comparisons written before the methods existed).
        public var method: String? = nil
        /// Device → accuracy of its own model after the final round.
        public var personalFinal: [String: Double]? = nil
        /// The largest peak SRAM any device's steps reported, bytes.
        public var peakMemoryMax: Int? = nil
        /// The smallest budget of the cell's devices, bytes.
        public var budgetMin: Int? = nil
        /// Per device, accuracy minus that of the same device in the cell that differs only in
        /// running `local` (nil without such a cell, and for the local cell itself).
        public var gainOverLocal: GainOverLocal? = nil
    }

    /// Swept keys that move ε rather than naming a line: the noise, the sampling rate and the rounds.
    static let epsilonKeys: Set<String> = ["privacy.noiseMultiplier", "privacy.targetEpsilon", "privacy.rate", "rounds.count"]

    /// The comparison of `t`'s sweep from its cells' summaries (in cell order; a cell that did not
    /// run is left out).
    public init(topology t: Topology, summaries: [(label: String, summary: FleetSummary)]) {
        topology = t.name
        about = t.about
        seed = t.seed
        axes = t.sweep
        cells = summaries.compactMap { label, s in
            guard let cell = t.cells.first(where: { $0.label == label }) else { return nil }
            let lineKeys = cell.settings.filter { !Self.epsilonKeys.contains($0.path) }
            return Cell(label: label, settings: cell.settings,
                        line: lineKeys.isEmpty ? "all cells" : lineKeys.map { "\(SweepExpansion.shortName($0.path, among: t.sweep))=\($0.value)" }.joined(separator: ", "),
                        privacyMode: s.privacy?.mode ?? "off", noiseMultiplier: s.privacy?.noiseMultiplier, epsilon: s.privacy?.epsilon,
                        delta: s.privacy?.delta, globalAccuracy: s.finalGlobalAccuracy,
                        personalisedMean: s.personalisedAccuracy.mean, personalisedP10: s.personalisedAccuracy.p10,
                        membership: s.membership?.figures.mapValues(\.mean) ?? [:],
                        uplinkUpdateBytes: s.bytes.uplinkUpdates, uplinkRatioToDense: s.bytes.uplinkRatioToDense,
                        meanUpdateBytes: s.bytes.meanUpdate, roundsCompleted: s.rounds.completed, roundsPlanned: s.rounds.planned,
                        interrupted: s.interrupted, realSeconds: s.wallTime.realSeconds,
                        method: s.personalisation?.method, personalFinal: s.personalisedAccuracy.perDevice,
                        peakMemoryMax: s.personalisation?.devices.values.compactMap(\.peakMemoryBytes).max(),
                        budgetMin: s.personalisation?.devices.values.map(\.budgetBytes).min())
        }
        // Each method's gain over the local cell with the same other settings.
        let methodKey = "personalisation.method"
        func others(_ c: Cell) -> [SweepSetting] { c.settings.filter { $0.path != methodKey } }
        for i in cells.indices where cells[i].method != PersonalisationMethod.local.rawValue {
            guard let mine = cells[i].personalFinal,
                  let local = cells.first(where: { $0.method == PersonalisationMethod.local.rawValue && others($0) == others(cells[i]) })?.personalFinal
            else { continue }
            cells[i].gainOverLocal = GainOverLocal(method: mine, local: local)
        }
    }

    /// The lines of the page, in first-appearance order, each with its cells.
    public var lines: [(name: String, cells: [Cell])] {
        var order: [String] = []
        var byLine: [String: [Cell]] = [:]
        for c in cells {
            if byLine[c.line] == nil { order.append(c.line) }
            byLine[c.line, default: []].append(c)
        }
        return order.map { ($0, byLine[$0]!) }
    }

    /// Writes pretty, sorted JSON.
    public func write(to path: String) throws {
        try SummaryBuilder.encoder().encode(self).write(to: URL(fileURLWithPath: path))
    }

    /// Reads a comparison.json.
    public static func read(path: String) throws -> SweepComparison {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw RunFolderError("no \(path); run `fleet run` on a topology with `sweep:` first")
        }
        let d = JSONDecoder()
        d.nonConformingFloatDecodingStrategy = .convertFromString(positiveInfinity: "inf", negativeInfinity: "-inf", nan: "nan")
        return try d.decode(SweepComparison.self, from: data)
    }
}
