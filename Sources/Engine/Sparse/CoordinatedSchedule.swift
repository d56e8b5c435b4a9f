// The coordinated channel schedule: the coordinator deals each sampled device a disjoint block of
// input channels per update layer, rotating every round, so the fleet covers every channel of
// the update layers every few rounds — fleet-level traversal on top of DGSU's traversal in time.
//
// For a layer with C input channels and k channels per device, the channels are cut into
// ⌈C/k⌉ blocks of k consecutive indices after a seeded permutation (fixed for the run). In round
// r the i-th sampled device (devices sorted by id) gets block (r·D + i) mod ⌈C/k⌉, D the number
// of sampled devices. So D devices cover D·k channels per round, every channel within
// ⌈C/(D·k)⌉ rounds, and no two devices of a round share a block while D ≤ ⌈C/k⌉.

/// Deals channel blocks to devices, round by round.
public struct CoordinatedSchedule: Equatable, Sendable, Codable {
    /// Unit → channels per device.
    public let perDevice: [Int: Int]
    /// Unit → the run's fixed channel permutation.
    public let permutations: [Int: [Int32]]

    /// A schedule for `layout` on `arch`, its permutations drawn from `seed`; each block is
    /// `blockFactor` times the layout's per-step channels (at most the layer's channels).
    public init(layout: SparseLayout, arch: Architecture, seed: UInt64, blockFactor: Int = 1) {
        precondition(blockFactor >= 1, "CoordinatedSchedule: the block factor must be at least 1")
        var rng = SplitMix64(seed: seed)
        perDevice = Dictionary(uniqueKeysWithValues: layout.weightChannels.map { u, k in (u, min(k * blockFactor, arch.units[u].inChannels)) })
        var perms: [Int: [Int32]] = [:]
        for u in layout.weightChannels.keys.sorted() {
            var p = (0..<Int32(arch.units[u].inChannels)).map { $0 }
            p.shuffle(using: &rng)
            perms[u] = p
        }
        permutations = perms
    }

    /// Channels (sorted) of every update layer for each of `devices` in `round`.
    public func assign(round: Int, devices: [String]) -> [String: [Int: [Int32]]] {
        let sorted = devices.sorted()
        var out: [String: [Int: [Int32]]] = [:]
        for (i, d) in sorted.enumerated() {
            var units: [Int: [Int32]] = [:]
            for (u, k) in perDevice {
                let perm = permutations[u]!
                let blocks = (perm.count + k - 1) / k
                let b = (round * sorted.count + i) % blocks
                // The last block wraps around to stay k wide.
                units[u] = (0..<k).map { perm[(b * k + $0) % perm.count] }.sorted()
            }
            out[d] = units
        }
        return out
    }

    /// Rounds for `devices` sampled devices to cover every channel of every update layer.
    public func roundsToCover(devices: Int) -> Int {
        perDevice.map { u, k in
            let blocks = (permutations[u]!.count + k - 1) / k
            return (blocks + devices - 1) / max(1, devices)
        }.max() ?? 0
    }
}

/// Trains the channels the coordinator assigned this round, every local step.
public struct AssignedPolicy: UpdatePolicy, Codable {
    /// `coordinated`.
    public var name: String { "coordinated" }
    /// The layout (its bias units and classifier still train).
    public let layout: SparseLayout
    /// Unit → assigned channels for the current round.
    public var assignment: [Int: [Int32]]

    /// A policy over `layout` with this round's `assignment`.
    public init(layout: SparseLayout, assignment: [Int: [Int32]]) {
        precondition(Set(assignment.keys) == Set(layout.weightChannels.keys), "AssignedPolicy: assignment must cover exactly the layout's weight layers")
        self.layout = layout
        self.assignment = assignment
    }

    /// The assigned plan.
    public mutating func nextPlan() -> UpdatePlan {
        UpdatePlan(biasUnits: Set(layout.biasUnits), weightChannels: assignment, trainClassifier: layout.trainClassifier)
    }
}
