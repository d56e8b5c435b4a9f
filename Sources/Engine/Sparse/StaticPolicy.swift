// MIT tiny-training's static sparse update: the channels of each weight-trained conv are chosen
// once and never change.

/// How the static policy picks its channels.
public enum StaticChannelRule: String, Sendable, Codable, CaseIterable {
    /// The first k input channels, as the on-device graph does.
    case first
    /// The k input channels with the largest weight L2 norm (`magnitude+`).
    case weightNorm = "weight-norm"
}

/// A fixed channel subset per layer, for the whole run.
public struct StaticPolicy: UpdatePolicy {
    /// `static`.
    public let name = "static"
    /// The fixed plan.
    public let plan: UpdatePlan

    /// Chooses the channels once from `network`'s current weights.
    public init(layout: SparseLayout, network: Network, rule: StaticChannelRule = .weightNorm) {
        var chans: [Int: [Int32]] = [:]
        for (u, k) in layout.weightChannels {
            switch rule {
            case .first:
                chans[u] = (0..<Int32(k)).map { $0 }
            case .weightNorm:
                let norms = ChannelNorms.inputChannelWeightNorms(network, unit: u)
                chans[u] = TopK.indices(of: norms, k: k).sorted()
            }
        }
        plan = UpdatePlan(biasUnits: Set(layout.biasUnits), weightChannels: chans, trainClassifier: layout.trainClassifier)
    }

    /// A static policy with an already chosen `plan` (e.g. restored from saved device state).
    public init(plan: UpdatePlan) { self.plan = plan }

    /// The same plan every step.
    public mutating func nextPlan() -> UpdatePlan { plan }
}

/// Per-input-channel norms of a conv weight.
public enum ChannelNorms {
    /// ‖W[:, c]‖₂ for each of `channels` (in that order).
    public static func inputChannelWeightNorms(_ net: Network, unit u: Int, channels: [Int32]) -> [Float] {
        let spec = net.arch.units[u]
        let w = net.units[u].weight
        let taps = spec.kernel * spec.kernel
        if spec.isDepthwise {
            return channels.map { c in w[Int(c) * taps..<(Int(c) + 1) * taps].reduce(0) { $0 + $1 * $1 }.squareRoot() }
        }
        let cin = spec.inChannels / spec.groups
        return channels.map { c in
            var sq: Float = 0
            for o in 0..<spec.outChannels {
                let base = (o * cin + Int(c)) * taps
                for t in 0..<taps { sq += w[base + t] * w[base + t] }
            }
            return sq.squareRoot()
        }
    }

    /// Norms already computed, by weight array: every device of a node asks for those of the same
    /// global weights (at its first task and whenever a round's model arrives).
    private static let cache = StorageKeyedCache<Float, [Float]>(maxBytes: 16 << 20) { 4 * $0.count }

    /// ‖W[:, c]‖₂ for each input channel c (depthwise: ‖W[c]‖₂ per channel).
    public static func inputChannelWeightNorms(_ net: Network, unit u: Int) -> [Float] {
        let spec = net.arch.units[u]
        // The tag keeps apart the same array read as different units' shapes (never in practice).
        return cache.value(for: net.units[u].weight, tag: spec.inChannels &* 65_537 &+ spec.kernel &* 257 &+ spec.groups) { _ in computeNorms(net, unit: u) }
    }

    /// `inputChannelWeightNorms(_:unit:)` computed.
    static func computeNorms(_ net: Network, unit u: Int) -> [Float] {
        let spec = net.arch.units[u]
        let w = net.units[u].weight
        let taps = spec.kernel * spec.kernel
        if spec.isDepthwise {
            return (0..<spec.outChannels).map { c in w[c * taps..<(c + 1) * taps].reduce(0) { $0 + $1 * $1 }.squareRoot() }
        }
        let cin = spec.inChannels / spec.groups
        // Row by row, each channel's sum over the rows in increasing order (unsafe pointers so
        // that the 1×1 case vectorises: every device refreshes these for every task).
        return [Float](unsafeUninitializedCapacity: cin) { sq, done in
            let s = sq.baseAddress!
            s.update(repeating: 0, count: cin)
            w.withUnsafeBufferPointer { wb in
                let w = wb.baseAddress!
                for o in 0..<spec.outChannels {
                    if taps == 1 {
                        let row = w + o * cin
                        for c in 0..<cin { s[c] += row[c] * row[c] }
                    } else {
                        for c in 0..<cin {
                            let base = (o * cin + c) * taps
                            for t in 0..<taps { s[c] += w[base + t] * w[base + t] }
                        }
                    }
                }
            }
            for c in 0..<cin { s[c] = s[c].squareRoot() }
            done = cin
        }
    }
}

/// Top-k selection with deterministic tie-breaking (lower index first).
public enum TopK {
    /// The `k` largest of `keys` (distinct), largest first: a partial selection (quickselect to
    /// the k-th largest, then a sort of those k), O(n + k log k) on average; `keys` is reordered.
    static func largest<K: Comparable>(_ keys: inout [K], k: Int) -> ArraySlice<K> {
        let k = min(k, keys.count)
        guard k > 0 else { return [] }
        var lo = 0, hi = keys.count - 1
        var seed: UInt64 = 0x9E37_79B9_7F4A_7C15
        while lo < hi {  // invariant: the k largest are at 0..<k once lo ≥ hi
            seed = seed &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
            let p = lo + Int(seed >> 33) % (hi - lo + 1)
            keys.swapAt(p, hi)
            let pivot = keys[hi]
            var store = lo
            for i in lo..<hi where keys[i] > pivot { keys.swapAt(i, store); store += 1 }
            keys.swapAt(store, hi)
            if store == k - 1 || store == k { break }
            if store < k { lo = store + 1 } else { hi = store - 1 }
        }
        keys[0..<k].sort(by: >)
        return keys[0..<k]
    }

    /// Indices of the `k` largest values.
    public static func indices(of values: [Float], k: Int) -> [Int32] {
        let order = values.indices.sorted { values[$0] != values[$1] ? values[$0] > values[$1] : $0 < $1 }
        return order.prefix(k).map { Int32($0) }
    }
}
