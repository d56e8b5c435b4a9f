// The per-coordinate view every rule reduces over: for one tensor, each contributing device's
// delta scattered densely with a mask of the coordinates it touched, rows sorted by device id.
import Wire

/// The contributions to one tensor, one row per device that sent it, sorted by device id.
public struct CoordinateTable {
    /// Schema position of the tensor.
    public let tensor: Int
    /// Elements of the tensor.
    public let count: Int
    /// Per device: its aggregation weight n_k.
    public private(set) var weights: [Double] = []
    /// Per device: its delta scattered into the dense shape (0 where untouched).
    public private(set) var values: [[Float]] = []
    /// Per device: which coordinates it touched.
    public private(set) var masks: [[Bool]] = []

    /// The tables of every tensor any result touches, keyed by schema position. Results are
    /// sorted by device id first, so the rows' order never depends on arrival order.
    public static func build(results: [DeviceResult], schema: ModelSchema) -> [Int: CoordinateTable] {
        var tables: [Int: CoordinateTable] = [:]
        for r in results.sorted(by: { $0.deviceID < $1.deviceID }) {
            for t in r.delta.tensors {
                guard let i = schema.position(of: t.name) else {
                    preconditionFailure("CoordinateTable: '\(t.name)' is not in the schema; validate updates first")
                }
                let spec = schema.tensors[i]
                var table = tables[i] ?? CoordinateTable(tensor: i, count: spec.elementCount)
                var dense = [Float](repeating: 0, count: spec.elementCount)
                TensorSlicing.scatter(t.values, into: &dense, spec: spec, channels: t.channels)
                var mask = [Bool](repeating: false, count: spec.elementCount)
                var ones = [Float](repeating: 1, count: t.values.count)
                var flags = [Float](repeating: 0, count: spec.elementCount)
                TensorSlicing.scatter(ones, into: &flags, spec: spec, channels: t.channels)
                for j in 0..<spec.elementCount where flags[j] != 0 { mask[j] = true }
                ones.removeAll()
                table.weights.append(Double(r.sampleCount))
                table.values.append(dense)
                table.masks.append(mask)
                tables[i] = table
            }
        }
        return tables
    }

    /// Channels of `spec` touched by at least one row.
    public func touchedChannels(_ spec: TensorSpec) -> [Int] {
        let (outer, C, inner) = (spec.outer, spec.channelCount, spec.inner)
        var touched = [Bool](repeating: false, count: C)
        for m in masks {
            for o in 0..<outer {
                for c in 0..<C where !touched[c] {
                    let base = (o * C + c) * inner
                    if m[base] { touched[c] = true }
                }
            }
        }
        return touched.indices.filter { touched[$0] }
    }

    /// The touched channels of every table.
    public static func touched(_ tables: [Int: CoordinateTable], schema: ModelSchema) -> [Int: [Int]] {
        tables.mapValues { $0.touchedChannels(schema.tensors[$0.tensor]) }
    }

    /// Adds `scale · statistic(sorted touching values)` to every coordinate at least
    /// `minContributors` devices touched: the shared body of the order-statistic rules (median,
    /// trimmed mean). A coordinate with fewer contributors keeps its value (one device alone is
    /// its own median, so it would not be robust there) and is counted as held back.
    public static func applySortedStatistic(_ input: AggregationInput, scale: Float, minContributors: Int,
                                            _ statistic: ([Float]) -> Float) -> AggregationOutcome {
        let tables = build(results: input.results, schema: input.schema)
        var model = input.model
        var scratch: [Float] = []
        var heldBack = 0
        for (i, table) in tables {
            for j in 0..<table.count {
                scratch.removeAll(keepingCapacity: true)
                for r in table.values.indices where table.masks[r][j] { scratch.append(table.values[r][j]) }
                guard !scratch.isEmpty else { continue }
                guard scratch.count >= minContributors else { heldBack += 1; continue }
                scratch.sort()
                model[i][j] += scale * statistic(scratch)
            }
        }
        return AggregationOutcome(model: model, state: input.state, touchedChannels: touched(tables, schema: input.schema),
                                  heldBackCoordinates: heldBack)
    }
}
