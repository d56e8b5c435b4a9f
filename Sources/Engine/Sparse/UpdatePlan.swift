// What one training step updates: which conv biases, which conv weights (and for which input
// channels), and whether the classifier trains. Policies (Sources/Engine/Sparse) produce one per step.

/// The parameters one training step updates.
public struct UpdatePlan: Equatable, Sendable, Codable {
    /// Conv units whose bias trains.
    public var biasUnits: Set<Int>
    /// Conv units whose weight trains, with the sorted input channels that train (for a
    /// depthwise conv, the channels, which are both input and output).
    public var weightChannels: [Int: [Int32]]
    /// Whether the classifier (weight and bias) trains.
    public var trainClassifier: Bool
    /// Dense baseline: every conv weight and BatchNorm affine trains, BN in training mode.
    /// Needs an unfolded network.
    public var dense: Bool

    /// A plan; channel lists are sorted and de-duplicated.
    public init(biasUnits: Set<Int> = [], weightChannels: [Int: [Int32]] = [:], trainClassifier: Bool = true, dense: Bool = false) {
        self.biasUnits = biasUnits
        self.weightChannels = weightChannels.mapValues { Array(Set($0)).sorted() }
        self.trainClassifier = trainClassifier
        self.dense = dense
    }

    /// The dense plan for `arch` (upper bound: everything trains).
    public static func denseAll(_ arch: Architecture) -> UpdatePlan {
        UpdatePlan(biasUnits: [], weightChannels: [:], trainClassifier: true, dense: true)
    }

    /// The earliest unit with a trainable parameter (`units.count` when only the classifier trains).
    public func firstTrainableUnit(_ arch: Architecture) -> Int {
        if dense { return 0 }
        return (Array(biasUnits) + Array(weightChannels.keys)).min() ?? arch.units.count
    }

    /// The block holding the first trainable unit: everything before it is a frozen prefix whose
    /// output can be cached.
    public func startBlock(_ arch: Architecture) -> Int {
        let u = firstTrainableUnit(arch)
        return u >= arch.units.count ? arch.blocks.count : arch.block(ofUnit: u)
    }

    /// Checks the plan against an architecture; returns what is wrong, or nil.
    public func problem(for arch: Architecture) -> String? {
        for u in biasUnits where u < 0 || u >= arch.units.count {
            return "bias unit \(u) does not exist (model has \(arch.units.count) conv units)"
        }
        for (u, chans) in weightChannels {
            guard u >= 0 && u < arch.units.count else { return "weight unit \(u) does not exist" }
            let spec = arch.units[u]
            if spec.groups != 1 && !spec.isDepthwise { return "unit \(spec.name) is a grouped conv; channel subsets need groups 1 or depthwise" }
            if let bad = chans.first(where: { $0 < 0 || Int($0) >= spec.inChannels }) {
                return "channel \(bad) of \(spec.name) is out of range 0..<\(spec.inChannels)"
            }
        }
        return nil
    }

    /// Number of parameter values this plan updates in one step.
    public func updatedValues(_ arch: Architecture) -> Int {
        if dense {
            return arch.units.reduce(0) { $0 + $1.weightShape.reduce(1, *) + 2 * $1.outChannels } + arch.classes * (arch.features + 1)
        }
        var n = trainClassifier ? arch.classes * (arch.features + 1) : 0
        for u in biasUnits { n += arch.units[u].outChannels }
        for (u, c) in weightChannels {
            let s = arch.units[u]
            n += s.isDepthwise ? c.count * s.kernel * s.kernel : s.outChannels * c.count * s.kernel * s.kernel
        }
        return n
    }
}
