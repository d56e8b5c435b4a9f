// TraDy-style random dynamic selection: the same layers and budget, channels resampled uniformly
// at random every step.

/// Uniformly random channels every step, from a seeded generator.
public struct RandomPolicy: UpdatePolicy, Codable {
    /// `random`.
    public var name: String { "random" }
    /// The layout.
    public let layout: SparseLayout
    /// Input channels of each weight-trained unit.
    public let channelCounts: [Int: Int]
    /// Generator state (persists across rounds).
    public private(set) var rng: SplitMix64

    /// A random policy over `layout`.
    public init(layout: SparseLayout, arch: Architecture, seed: UInt64) {
        self.layout = layout
        channelCounts = Dictionary(uniqueKeysWithValues: layout.weightChannels.keys.map { ($0, arch.units[$0].inChannels) })
        rng = SplitMix64(seed: seed)
    }

    /// k channels per unit, drawn without replacement.
    public mutating func nextPlan() -> UpdatePlan {
        var chans: [Int: [Int32]] = [:]
        for u in layout.weightChannels.keys.sorted() {
            var all = Array(0..<Int32(channelCounts[u]!))
            // Partial Fisher–Yates: the first k positions become a uniform k-subset.
            let k = layout.weightChannels[u]!
            for i in 0..<k {
                let j = i + Int(rng.next() % UInt64(all.count - i))
                all.swapAt(i, j)
            }
            chans[u] = Array(all.prefix(k)).sorted()
        }
        return UpdatePlan(biasUnits: Set(layout.biasUnits), weightChannels: chans, trainClassifier: layout.trainClassifier)
    }
}
