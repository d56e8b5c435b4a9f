// Coordinate-wise median over the devices that touched each coordinate (unweighted, robust to a
// minority of arbitrary updates): w_j += η_s · median_k{Δ_kj : m_kj = 1}. With an even count the
// median is the mean of the two middle values (computed in f64).

/// Per-coordinate median of the touching devices' deltas.
public struct CoordinateMedianRule: AggregationRule {
    /// Server learning rate η_s.
    public var serverLearningRate: Float
    /// Fewest touching devices for a coordinate to move (fewer: it keeps its value).
    public var minContributors: Int

    /// `median`.
    public var name: String { "median" }

    /// A rule with server learning rate `serverLearningRate`, moving coordinates that at least
    /// `minContributors` devices touched.
    public init(serverLearningRate: Float = 1, minContributors: Int = 3) {
        precondition(minContributors >= 1, "CoordinateMedianRule: minContributors must be at least 1")
        self.serverLearningRate = serverLearningRate
        self.minContributors = minContributors
    }

    /// The median of `sorted` (ascending, non-empty).
    static func median(_ sorted: [Float]) -> Float {
        let m = sorted.count
        return m % 2 == 1 ? sorted[m / 2] : Float((Double(sorted[m / 2 - 1]) + Double(sorted[m / 2])) / 2)
    }

    /// Applies η_s times the per-coordinate median to the touched coordinates.
    public func aggregate(_ input: AggregationInput) -> AggregationOutcome {
        CoordinateTable.applySortedStatistic(input, scale: serverLearningRate, minContributors: minContributors, Self.median)
    }
}
