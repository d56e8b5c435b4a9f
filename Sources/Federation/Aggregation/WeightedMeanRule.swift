// FedAvg per coordinate: w_j += η_s · Σ_k n_k m_kj Δ_kj / Σ_k n_k m_kj over the devices k that
// touched coordinate j (m_kj = 1), accumulated in f64 in device-id order; untouched coordinates
// stay as they are. Never normalised per tensor, which would dilute a channel few devices
// touched with everyone else's zeros.

/// Sample-weighted mean over the touching devices, scaled by a server learning rate.
public struct WeightedMeanRule: AggregationRule {
    /// Server learning rate η_s (1: plain FedAvg).
    public var serverLearningRate: Float

    /// `mean`, or `mean(η_s)`.
    public var name: String { serverLearningRate == 1 ? "mean" : "mean(lr \(serverLearningRate))" }

    /// A rule with server learning rate `serverLearningRate`.
    public init(serverLearningRate: Float = 1) { self.serverLearningRate = serverLearningRate }

    /// The per-coordinate weighted mean of the touching devices' deltas (nil where none touched).
    static func means(_ table: CoordinateTable) -> [Float?] {
        var out = [Float?](repeating: nil, count: table.count)
        for j in 0..<table.count {
            var num = 0.0, den = 0.0
            for r in table.values.indices where table.masks[r][j] {
                num += table.weights[r] * Double(table.values[r][j])
                den += table.weights[r]
            }
            if den > 0 { out[j] = Float(num / den) }
        }
        return out
    }

    /// Applies η_s times the per-coordinate mean to the touched coordinates.
    public func aggregate(_ input: AggregationInput) -> AggregationOutcome {
        let tables = CoordinateTable.build(results: input.results, schema: input.schema)
        var model = input.model
        for (i, table) in tables {
            let g = Self.means(table)
            for j in 0..<table.count { if let gj = g[j] { model[i][j] += serverLearningRate * gj } }
        }
        return AggregationOutcome(model: model, state: input.state, touchedChannels: CoordinateTable.touched(tables, schema: input.schema))
    }
}
