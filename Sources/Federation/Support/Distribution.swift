// Summaries of per-device numbers: mean, 10th percentile (nearest rank), worst and largest.

/// Mean, p10, minimum and maximum of a set of values.
public struct Distribution: Codable, Equatable, Sendable {
    /// How many values.
    public var count: Int
    /// Arithmetic mean.
    public var mean: Double
    /// 10th percentile, nearest-rank.
    public var p10: Double
    /// Smallest value.
    public var worst: Double
    /// Largest value (nil in files written before it was recorded).
    public var largest: Double?

    /// The summary of `values`, or nil when there are none (NaNs are ignored).
    public init?(_ values: [Double]) {
        let v = values.filter { !$0.isNaN }.sorted()
        guard !v.isEmpty else { return nil }
        count = v.count
        mean = v.reduce(0, +) / Double(v.count)
        let rank = Int((0.10 * Double(v.count)).rounded(.up))
        p10 = v[max(0, rank - 1)]
        worst = v[0]
        largest = v[v.count - 1]
    }
}
