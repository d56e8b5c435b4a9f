// The per-device figures of a run's personalisation method (summary.json `personalisation`), and
// a method's gain over local-only training on the same devices (comparison.json). Field names are
// STABLE, as in summary.json; accuracies are fractions, gains are fractions too (0.05 = 5 points).
import Federation

/// Each device under the run's personalisation method.
public struct PersonalisationReport: Codable, Equatable, Sendable {
    /// `local`, `finetune`, `fedper`, `fedrep` or `ditto`.
    public var method: String
    /// Device id → its figures.
    public var devices: [String: Device]

    /// One device.
    public struct Device: Codable, Equatable, Sendable {
        /// Private-split accuracy before its first local training (the model it started from).
        public var before: Double?
        /// Private-split accuracy of its own model after the final round.
        public var after: Double?
        /// UPDATE bytes it sent over the run (0 for local).
        public var bytesSent: Int
        /// The largest peak SRAM of its steps, bytes (nil: it never trained).
        public var peakMemoryBytes: Int?
        /// Its SRAM budget, bytes.
        public var budgetBytes: Int
    }

    /// The report of a run of `t`, or nil when the coordinator wrote no summary.
    static func build(topology t: Topology, metrics: [RoundMetrics], coordinator: RunSummary?) -> PersonalisationReport? {
        guard let s = coordinator else { return nil }
        var sent: [String: Int] = [:]
        for m in metrics { for (id, b) in m.updateBytes { sent[id, default: 0] += b } }
        var devices: [String: Device] = [:]
        for g in t.groups {
            for id in g.deviceIDs {
                devices[id] = Device(before: s.personalInitial?[id], after: s.personalFinal[id], bytesSent: sent[id] ?? 0,
                                     peakMemoryBytes: s.peakMemory?[id], budgetBytes: g.budget)
            }
        }
        return PersonalisationReport(method: s.personalisationMethod ?? t.personalisation.method.rawValue, devices: devices)
    }
}

/// A method's gain over local-only training: per device, its accuracy after the final round minus
/// the same device's under `local` (same seed, so the same shards).
public struct GainOverLocal: Codable, Equatable, Sendable {
    /// Devices measured in both runs.
    public var devices: Int
    /// Mean gain (fraction: 0.05 is 5 points).
    public var mean: Double
    /// 10th percentile of the gain (nearest rank): the devices that gain least.
    public var p10: Double
    /// Share of devices whose gain is above zero.
    public var shareGaining: Double
    /// Device id → gain.
    public var perDevice: [String: Double]

    /// The gain of `method` over `local` (device → accuracy); nil when no device is in both.
    public init?(method: [String: Double], local: [String: Double]) {
        var gains: [String: Double] = [:]
        for (id, a) in method { if let b = local[id] { gains[id] = a - b } }
        guard let d = Distribution(Array(gains.values)) else { return nil }
        devices = gains.count
        mean = d.mean
        p10 = d.p10
        shareGaining = Double(gains.values.filter { $0 > 0 }.count) / Double(gains.count)
        perDevice = gains
    }
}
