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
    /// ‖W[:, c]‖₂ for each input channel c (depthwise: ‖W[c]‖₂ per channel).
    public static func inputChannelWeightNorms(_ net: Network, unit u: Int) -> [Float] {
        let spec = net.arch.units[u]
        let w = net.units[u].weight
        let taps = spec.kernel * spec.kernel
        if spec.isDepthwise {
            return (0..<spec.outChannels).map { c in w[c * taps..<(c + 1) * taps].reduce(0) { $0 + $1 * $1 }.squareRoot() }
        }
        let cin = spec.inChannels / spec.groups
        var sq = [Float](repeating: 0, count: cin)
        for o in 0..<spec.outChannels {
            for c in 0..<cin {
                let base = (o * cin + c) * taps
                for t in 0..<taps { sq[c] += w[base + t] * w[base + t] }
            }
        }
        return sq.map { $0.squareRoot() }
    }
}

/// Top-k selection with deterministic tie-breaking (lower index first).
public enum TopK {
    /// Indices of the `k` largest values.
    public static func indices(of values: [Float], k: Int) -> [Int32] {
        let order = values.indices.sorted { values[$0] != values[$1] ? values[$0] > values[$1] : $0 < $1 }
        return order.prefix(k).map { Int32($0) }
    }
}
