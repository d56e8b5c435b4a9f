// Which parameters a sparse policy may touch, and how many input channels per step:
// the classifier, the biases of the last n convs, and a per-step channel count for a few late convs.
// Policies decide *which* channels each step; the layout fixes the budget, so static, dgsu and
// random compare at the same cost.

/// The trainable region and per-step channel budget shared by the sparse policies.
public struct SparseLayout: Equatable, Sendable, Codable {
    /// Conv units whose bias trains.
    public var biasUnits: [Int]
    /// Conv units whose weight trains → input channels trained per step.
    public var weightChannels: [Int: Int]
    /// Whether the classifier trains.
    public var trainClassifier: Bool

    /// A layout; lists are kept sorted.
    public init(biasUnits: [Int] = [], weightChannels: [Int: Int] = [:], trainClassifier: Bool = true) {
        self.biasUnits = biasUnits.sorted()
        self.weightChannels = weightChannels
        self.trainClassifier = trainClassifier
    }

    /// The MIT tiny-training style layout: biases of the last `biasCount` convs, and the weights of
    /// the pointwise convs among the last `weightCount` convs with a ratio `ratio` of input channels.
    public static func lastLayers(_ arch: Architecture, biasCount: Int, weightCount: Int, ratio: Double) -> SparseLayout {
        let n = arch.units.count
        let bias = Array(max(0, n - biasCount)..<n)
        var weights: [Int: Int] = [:]
        for u in max(0, n - weightCount)..<n where arch.units[u].isPointwise {
            weights[u] = max(1, Int((Double(arch.units[u].inChannels) * ratio).rounded()))
        }
        return SparseLayout(biasUnits: bias, weightChannels: weights)
    }

    /// Problems with this layout for `arch`, or nil.
    public func problem(for arch: Architecture) -> String? {
        if let u = biasUnits.first(where: { $0 < 0 || $0 >= arch.units.count }) { return "bias unit \(u) does not exist" }
        for (u, k) in weightChannels {
            guard u >= 0 && u < arch.units.count else { return "weight unit \(u) does not exist" }
            let spec = arch.units[u]
            guard spec.groups == 1 || spec.isDepthwise else { return "\(spec.name) is a grouped conv; channel subsets need groups 1 or depthwise" }
            guard k >= 1 && k <= spec.inChannels else { return "\(spec.name): \(k) channels per step, needs 1...\(spec.inChannels)" }
        }
        return nil
    }

    /// Parameter values one step updates (the same for every sparse policy on this layout).
    public func valuesPerStep(_ arch: Architecture) -> Int {
        var n = trainClassifier ? arch.classes * (arch.features + 1) : 0
        for u in biasUnits { n += arch.units[u].outChannels }
        for (u, k) in weightChannels {
            let s = arch.units[u]
            n += (s.isDepthwise ? 1 : s.outChannels) * k * s.kernel * s.kernel
        }
        return n
    }

    /// Conv weight values in the whole network (the denominator of "% of conv weights updated").
    public static func convWeightCount(_ arch: Architecture) -> Int {
        arch.units.reduce(0) { $0 + $1.weightShape.reduce(1, *) }
    }
}
