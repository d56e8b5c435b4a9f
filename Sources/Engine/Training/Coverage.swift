// Which channels of the update layers a run has trained, and how many weights each step updated.

/// Tracks channel coverage per weight-trained unit over a run.
public struct CoverageTracker: Equatable, Sendable, Codable {
    /// Unit → one flag per input channel, set once the channel has been trained.
    public private(set) var touched: [Int: [Bool]] = [:]
    /// Steps recorded.
    public private(set) var steps = 0
    /// Sum over steps of the conv weight values updated (for the per-step average).
    public private(set) var updatedConvWeights = 0
    /// Whether a dense step (every weight) has been recorded.
    public private(set) var sawDenseStep = false

    /// An empty tracker for the units of `layout`.
    public init(layout: SparseLayout, arch: Architecture) {
        for u in layout.weightChannels.keys { touched[u] = [Bool](repeating: false, count: arch.units[u].inChannels) }
    }

    /// Records one step's plan.
    public mutating func record(_ plan: UpdatePlan, arch: Architecture) {
        steps += 1
        if plan.dense {
            updatedConvWeights += SparseLayout.convWeightCount(arch)
            sawDenseStep = true
            return
        }
        for (u, chans) in plan.weightChannels {
            let s = arch.units[u]
            updatedConvWeights += (s.isDepthwise ? 1 : s.outChannels) * chans.count * s.kernel * s.kernel
            if var flags = touched[u] {
                for c in chans { flags[Int(c)] = true }
                touched[u] = flags
            }
        }
    }

    /// Fraction of channels trained at least once, per unit.
    public var perUnit: [Int: Double] {
        touched.mapValues { flags in flags.isEmpty ? 0 : Double(flags.filter { $0 }.count) / Double(flags.count) }
    }

    /// Fraction of all update-layer channels trained at least once (1 once a dense step ran).
    public var overall: Double {
        if sawDenseStep { return 1 }
        let all = touched.values.reduce(0) { $0 + $1.count }
        return all == 0 ? 0 : Double(touched.values.reduce(0) { $0 + $1.filter { $0 }.count }) / Double(all)
    }

    /// Fraction of the network's conv weights that were updated at least once.
    public func convWeightsEverUpdated(arch: Architecture) -> Double {
        if sawDenseStep { return 1 }
        var n = 0
        for (u, flags) in touched {
            let s = arch.units[u]
            n += flags.filter { $0 }.count * (s.isDepthwise ? 1 : s.outChannels) * s.kernel * s.kernel
        }
        return Double(n) / Double(SparseLayout.convWeightCount(arch))
    }

    /// Average fraction of the network's conv weights updated per step.
    public func convWeightsPerStep(arch: Architecture) -> Double {
        steps == 0 ? 0 : Double(updatedConvWeights) / Double(steps) / Double(SparseLayout.convWeightCount(arch))
    }
}
