// A sparse UPDATE as the vector a device masks under secure aggregation, and the unmasked sum
// back as the round's aggregate. The vector covers the round's slots (masked tensors, each on all
// its channels or on a dealt block), in schema order:
//   - weighted (no DP): first the values w_k·Δ (w_k = n_k / W, W the largest weight of the
//     round, so each lies in [−c, c] after clipping), then the counts: the integer n_k on every
//     channel of a slot the device touched, 0 elsewhere (a device touches whole channels, so one
//     count per channel stands for all of the channel's coordinates). The coordinator unmasks
//     Σ w_k Δ and Σ n_k m together and divides, so the per-coordinate mean of plain aggregation
//     survives.
//   - unweighted (DP, W = 0): the clipped Δ alone (plus the device's distributed-noise share);
//     the coordinator divides the sum by the fixed denominator qN (§4.4), no counts needed.
// Values are clipped to [−c, c] and stochastically rounded into Z_{2^b} (RingQuantiser).
import Privacy
import SecureAggregation
import Wire

/// One masked tensor: all of it, or the channels of a dealt block.
public struct MaskedSlot: Equatable, Sendable {
    /// The tensor.
    public var spec: TensorSpec
    /// Its masked channels.
    public var channels: ChannelSelection
    /// Coordinates it covers.
    public var coordinates: Int { spec.outer * channels.count(of: spec.channelCount) * spec.inner }
    /// Channels it covers.
    public var channelCount: Int { channels.count(of: spec.channelCount) }
    /// Its channels' indices in the tensor.
    public var channelList: [Int] {
        switch channels { case .all: return Array(0..<spec.channelCount); case let .subset(c): return c }
    }

    /// A slot.
    public init(spec: TensorSpec, channels: ChannelSelection) { self.spec = spec; self.channels = channels }

    /// Dense element index of each covered coordinate, in slice order ([outer, k, inner]).
    public var elementIndices: [Int32] {
        let (outer, C, inner) = (spec.outer, spec.channelCount, spec.inner)
        let list = channelList
        var out: [Int32] = []
        out.reserveCapacity(coordinates)
        for o in 0..<outer { for ch in list { let base = (o * C + ch) * inner; for i in 0..<inner { out.append(Int32(base + i)) } } }
        return out
    }
}

/// The layout and arithmetic of masked updates for one round (one device's, or the sum's).
public struct MaskedUpdateEncoding: Sendable {
    /// The masked slots, in schema order.
    public let slots: [MaskedSlot]
    /// The value quantiser (its ring width is the round's b).
    public let quantiser: RingQuantiser
    /// W: the largest aggregation weight of the round (public: shard sizes are configuration);
    /// 0: unweighted values, no counts (DP).
    public let maxWeight: UInt64

    /// Whether a count half follows the values.
    public var weighted: Bool { maxWeight > 0 }
    /// Value coordinates.
    public var coordinates: Int { slots.reduce(0) { $0 + $1.coordinates } }
    /// Count elements (one per channel of each slot), weighted.
    public var countElements: Int { weighted ? slots.reduce(0) { $0 + $1.channelCount } : 0 }
    /// The masked vector's length: the values, then the counts.
    public var length: Int { coordinates + countElements }

    /// The encoding of `slots` for up to `contributors` devices of weight ≤ `maxWeight`; refused
    /// when the counts could wrap the ring (Σ n_k ≥ 2^(b−1)).
    public init(slots: [MaskedSlot], clip: Double, valueBits: Int, contributors: Int, maxWeight: UInt64) throws {
        guard !slots.isEmpty else { throw SecAggError.parameters("no tensors to mask") }
        guard let q = RingQuantiser(clip: clip, valueBits: valueBits, maxContributors: contributors) else {
            throw SecAggError.parameters("\(valueBits) value bits for \(contributors) devices need more than a 32-bit ring; use fewer value bits")
        }
        guard Double(contributors) * Double(maxWeight) < Double(UInt64(1) << UInt64(q.ringBits - 1)) else {
            throw SecAggError.parameters("counts of \(contributors) devices of weight up to \(maxWeight) could wrap Z_2^\(q.ringBits); use more value bits")
        }
        self.slots = slots; quantiser = q; self.maxWeight = maxWeight
    }

    /// Whole tensors: the `candidates` mode's encoding, and the sum space of every mode.
    public init(tensors: [TensorSpec], clip: Double, valueBits: Int, contributors: Int, maxWeight: UInt64) throws {
        try self.init(slots: tensors.map { MaskedSlot(spec: $0, channels: .all) }, clip: clip, valueBits: valueBits,
                      contributors: contributors, maxWeight: maxWeight)
    }

    /// Where each element of a vector of `device` lies in this (the sum's) vector: the support of
    /// a participant whose slots are `device.slots`. Nil when a device slot is not one of this
    /// encoding's whole tensors.
    public func support(of device: MaskedUpdateEncoding) -> [Int32]? {
        var offsets: [String: (values: Int32, counts: Int32)] = [:], at: Int32 = 0, countAt = Int32(coordinates)
        for s in slots where s.channels == .all {
            offsets[s.spec.name] = (at, countAt)
            at += Int32(s.coordinates); countAt += Int32(s.channelCount)
        }
        var values: [Int32] = [], counts: [Int32] = []
        for s in device.slots {
            guard let base = offsets[s.spec.name] else { return nil }
            values += s.elementIndices.map { base.values + $0 }
            counts += s.channelList.map { base.counts + Int32($0) }
        }
        return weighted ? values + counts : values
    }

    /// The vector of `delta` with weight `weight` (ignored unweighted), plus N(0, σ²) per value
    /// coordinate from `noise` (distributed DP) before quantising. A slice outside the slots is
    /// refused (under secure aggregation it could not be masked). Also returns how many value
    /// coordinates the clip cut.
    public func encode<G: RandomNumberGenerator>(_ delta: SparseDelta, weight: UInt64, noise: GaussianNoise? = nil,
                                                 using rng: inout G) throws -> (vector: [UInt32], clipped: Int) {
        guard !weighted || (weight >= 1 && weight <= maxWeight) else { throw SecAggError.parameters("weight \(weight) outside 1...\(maxWeight)") }
        let w = weighted ? Float(Double(weight) / Double(maxWeight)) : 1
        var values: [Float] = [], counts: [UInt32] = []
        values.reserveCapacity(coordinates); counts.reserveCapacity(countElements)
        let byName = Dictionary(delta.tensors.map { ($0.name, $0) }, uniquingKeysWith: { a, _ in a })
        let names = Set(slots.map(\.spec.name))
        guard Set(byName.keys).isSubset(of: names) else {
            throw SecAggError.parameters("the update touches \(Set(byName.keys).subtracting(names).sorted()), outside the round's masked tensors")
        }
        for slot in slots {
            let spec = slot.spec
            var dense = [Float](repeating: 0, count: spec.elementCount)
            var touched = Set<Int>()
            if let t = byName[spec.name] {
                if case let .subset(block) = slot.channels, case let .subset(mine) = t.channels, !Set(mine).isSubset(of: block) {
                    throw SecAggError.parameters("the update of '\(spec.name)' touches channels outside its dealt block")
                } else if case .subset = slot.channels, case .all = t.channels {
                    throw SecAggError.parameters("the update of '\(spec.name)' touches every channel; its dealt block is a subset")
                }
                TensorSlicing.scatter(t.values.map { $0 * w }, into: &dense, spec: spec, channels: t.channels)
                switch t.channels { case .all: touched = Set(0..<spec.channelCount); case let .subset(c): touched = Set(c) }
            }
            values += TensorSlicing.gather(dense, spec: spec, channels: slot.channels)
            if weighted { counts += slot.channelList.map { touched.contains($0) ? UInt32(weight) : 0 } }
        }
        if var noise { noise.add(to: &values) }
        let clipped = values.reduce(0) { $0 + (abs(Double($1)) > quantiser.clip ? 1 : 0) }
        return (quantiser.quantise(values, using: &rng) + counts.map { $0 & quantiser.mask }, clipped)
    }

    /// The per-coordinate weighted mean of the unmasked `sum` (weighted), or the dequantised sum
    /// (unweighted), per slot (dense over the slot; 0 where no device touched), with the number
    /// of touched coordinates (unweighted: every coordinate). Each mean is held to [−c, c], the
    /// range an honest mean lies in, so a device that lies in its counts moves no coordinate
    /// further than c.
    public func aggregate(_ sum: [UInt32]) throws -> (tensors: [(slot: MaskedSlot, values: [Float], touched: [Bool])], touched: Int) {
        guard sum.count == length else { throw SecAggError.parameters("the sum has \(sum.count) elements; the round's vectors have \(length)") }
        var out: [(MaskedSlot, [Float], [Bool])] = [], at = 0, countAt = coordinates, touchedCount = 0
        let W = Double(maxWeight), c = quantiser.clip
        for slot in slots {
            let n = slot.coordinates
            let (k, inner) = (slot.channelCount, slot.spec.inner)
            var v = [Float](repeating: 0, count: n), touched = [Bool](repeating: !weighted, count: n)
            for i in 0..<n {
                let value = Double(quantiser.signed(sum[at + i])) / quantiser.scale
                if weighted {
                    // Slice order is [outer, k, inner]: element i lies on the slot's channel (i / inner) % k.
                    let count = quantiser.signed(sum[countAt + (i / inner) % k])
                    guard count > 0 else { continue }
                    touched[i] = true
                    v[i] = Float(min(max(value * W / Double(count), -c), c))
                } else {
                    v[i] = Float(value)
                }
            }
            touchedCount += touched.reduce(0) { $0 + ($1 ? 1 : 0) }
            out.append((slot, v, touched)); at += n
            if weighted { countAt += k }
        }
        return (out, touchedCount)
    }
}
