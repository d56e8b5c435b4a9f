// A sparse UPDATE as the vector a device masks under secure aggregation (`candidates` mode), and
// the unmasked sum back as the per-coordinate weighted mean. The vector covers every coordinate
// of the round's candidate tensors, in schema order, twice: first the values w_k·Δ (w_k = n_k / W,
// W the largest weight of the round, so each lies in [−c, c] after clipping), quantised into
// Z_{2^b}; then the counts, the integer n_k on every coordinate the device touched and 0
// elsewhere. The coordinator unmasks Σ w_k Δ and Σ n_k m together and divides, so the
// per-coordinate mean of plain aggregation survives (PROTOCOL.md §4.9).
import SecureAggregation
import Wire

/// The layout and arithmetic of masked updates for one round.
public struct MaskedUpdateEncoding: Sendable {
    /// The candidate tensors, in schema order.
    public let tensors: [TensorSpec]
    /// The value quantiser (its ring width is the round's b).
    public let quantiser: RingQuantiser
    /// W: the largest aggregation weight of the round (public: shard sizes are configuration).
    public let maxWeight: UInt64

    /// Coordinates per half (values, then counts).
    public var coordinates: Int { tensors.reduce(0) { $0 + $1.elementCount } }
    /// The masked vector's length, 2 × coordinates.
    public var length: Int { 2 * coordinates }

    /// The encoding for `tensors` and up to `contributors` devices of weight ≤ `maxWeight`;
    /// refused when the counts could wrap the ring (Σ n_k ≥ 2^(b−1)).
    public init(tensors: [TensorSpec], clip: Double, valueBits: Int, contributors: Int, maxWeight: UInt64) throws {
        guard !tensors.isEmpty else { throw SecAggError.parameters("no candidate tensors to mask") }
        guard maxWeight >= 1 else { throw SecAggError.parameters("the largest aggregation weight must be at least 1") }
        guard let q = RingQuantiser(clip: clip, valueBits: valueBits, maxContributors: contributors) else {
            throw SecAggError.parameters("\(valueBits) value bits for \(contributors) devices need more than a 32-bit ring; use fewer value bits")
        }
        guard Double(contributors) * Double(maxWeight) < Double(UInt64(1) << UInt64(q.ringBits - 1)) else {
            throw SecAggError.parameters("counts of \(contributors) devices of weight up to \(maxWeight) could wrap Z_2^\(q.ringBits); use more value bits")
        }
        self.tensors = tensors; quantiser = q; self.maxWeight = maxWeight
    }

    /// The vector of `delta` with weight `weight`: values, then counts. A slice of a tensor outside
    /// the candidates is refused (under secure aggregation it could not be masked).
    public func encode<G: RandomNumberGenerator>(_ delta: SparseDelta, weight: UInt64, using rng: inout G) throws -> [UInt32] {
        guard weight >= 1, weight <= maxWeight else { throw SecAggError.parameters("weight \(weight) outside 1...\(maxWeight)") }
        let w = Float(Double(weight) / Double(maxWeight))
        var values: [Float] = [], counts: [UInt32] = []
        values.reserveCapacity(coordinates); counts.reserveCapacity(coordinates)
        let byName = Dictionary(delta.tensors.map { ($0.name, $0) }, uniquingKeysWith: { a, _ in a })
        guard Set(byName.keys).isSubset(of: tensors.map(\.name)) else {
            throw SecAggError.parameters("the update touches \(Set(byName.keys).subtracting(tensors.map(\.name)).sorted()), outside the round's candidate tensors")
        }
        for spec in tensors {
            var dense = [Float](repeating: 0, count: spec.elementCount)
            var touched = [Float](repeating: 0, count: spec.elementCount)
            if let t = byName[spec.name] {
                TensorSlicing.scatter(t.values.map { $0 * w }, into: &dense, spec: spec, channels: t.channels)
                TensorSlicing.scatter([Float](repeating: 1, count: t.values.count), into: &touched, spec: spec, channels: t.channels)
            }
            values += dense
            counts += touched.map { $0 == 0 ? 0 : UInt32(weight) }
        }
        return quantiser.quantise(values, using: &rng) + counts.map { $0 & quantiser.mask }
    }

    /// The per-coordinate weighted mean of the unmasked `sum`, per candidate tensor (dense; 0
    /// where no device touched), and the number of touched coordinates.
    public func mean(_ sum: [UInt32]) throws -> (tensors: [(name: String, values: [Float])], touched: Int) {
        guard sum.count == length else { throw SecAggError.parameters("the sum has \(sum.count) elements; the round's vectors have \(length)") }
        var out: [(String, [Float])] = [], at = 0, touched = 0
        let W = Double(maxWeight)
        for spec in tensors {
            var v = [Float](repeating: 0, count: spec.elementCount)
            for i in 0..<spec.elementCount {
                let count = quantiser.signed(sum[coordinates + at + i])
                guard count > 0 else { continue }
                touched += 1
                v[i] = Float(Double(quantiser.signed(sum[at + i])) / quantiser.scale * W / Double(count))
            }
            out.append((spec.name, v)); at += spec.elementCount
        }
        return (out, touched)
    }
}
