// FedAvgM with a per-coordinate momentum buffer: for every touched coordinate j,
//   g_j = the weighted mean of the touching devices' deltas (as in WeightedMeanRule),
//   v_j ← β v_j + g_j,   w_j ← w_j + η_s v_j.
// Momentum is lazy: a coordinate nobody touched this round keeps both its weight and its
// buffer, so the global model still changes only where devices trained.

/// Server momentum over the per-coordinate weighted mean.
public struct ServerMomentumRule: AggregationRule {
    /// Server learning rate η_s.
    public var serverLearningRate: Float
    /// Momentum β in [0, 1).
    public var momentum: Float

    /// `fedavgm(β)`.
    public var name: String { "fedavgm(lr \(serverLearningRate), momentum \(momentum))" }

    /// A rule with η_s and β.
    public init(serverLearningRate: Float = 1, momentum: Float = 0.9) {
        precondition(momentum >= 0 && momentum < 1, "ServerMomentumRule: momentum must be in [0, 1)")
        self.serverLearningRate = serverLearningRate
        self.momentum = momentum
    }

    /// Updates the buffers of the touched coordinates and steps the model along them.
    public func aggregate(_ input: AggregationInput) -> AggregationOutcome {
        let tables = CoordinateTable.build(results: input.results, schema: input.schema)
        var model = input.model
        var state = input.state
        for (i, table) in tables {
            let g = WeightedMeanRule.means(table)
            var v = state.momentum[i] ?? [Float](repeating: 0, count: table.count)
            for j in 0..<table.count {
                guard let gj = g[j] else { continue }
                v[j] = momentum * v[j] + gj
                model[i][j] += serverLearningRate * v[j]
            }
            state.momentum[i] = v
        }
        return AggregationOutcome(model: model, state: state, touchedChannels: CoordinateTable.touched(tables, schema: input.schema))
    }
}
