// Coordinate-wise trimmed mean over the devices that touched each coordinate (unweighted):
// sort the m touching deltas, drop t = ⌊trim · m⌋ from each end (fewer if that would leave
// nothing), and average the rest in f64: w_j += η_s · mean(kept).

/// Per-coordinate trimmed mean of the touching devices' deltas.
public struct TrimmedMeanRule: AggregationRule {
    /// Fraction dropped from each end, in [0, 0.5).
    public var trim: Double
    /// Server learning rate η_s.
    public var serverLearningRate: Float
    /// Fewest touching devices for a coordinate to move (fewer: it keeps its value).
    public var minContributors: Int

    /// `trimmed-mean(trim)`.
    public var name: String { "trimmed-mean(\(trim))" }

    /// A rule dropping `trim` of the values at each end.
    public init(trim: Double = 0.1, serverLearningRate: Float = 1, minContributors: Int = 3) {
        precondition(trim >= 0 && trim < 0.5, "TrimmedMeanRule: trim must be in [0, 0.5)")
        precondition(minContributors >= 1, "TrimmedMeanRule: minContributors must be at least 1")
        self.minContributors = minContributors
        self.trim = trim
        self.serverLearningRate = serverLearningRate
    }

    /// Values cut from each end of `m` sorted values.
    func cut(_ m: Int) -> Int { min(Int((trim * Double(m)).rounded(.down)), (m - 1) / 2) }

    /// Applies η_s times the per-coordinate trimmed mean to the touched coordinates.
    public func aggregate(_ input: AggregationInput) -> AggregationOutcome {
        CoordinateTable.applySortedStatistic(input, scale: serverLearningRate, minContributors: minContributors) { sorted in
            let t = cut(sorted.count)
            var sum = 0.0
            for v in sorted[t..<(sorted.count - t)] { sum += Double(v) }
            return Float(sum / Double(sorted.count - 2 * t))
        }
    }
}
