// The coordinator's plan of one secure round (PROTOCOL.md §4.9), a pure function of the round,
// its sample and the configuration: who takes part with which index, the neighbour graph, the
// round's parameters, which coordinates each device masks, and each device's SecAggSetup.
//   - candidates: every participant masks every coordinate of every shared tensor any sampled
//     device can train; the graph is a random Harary graph of degree k.
//   - dealt / dealt+dgsu: sampled devices with the same layout are shuffled into groups of
//     `groupSize` (a remainder joins the groups one by one); each group gets one block of the
//     coordinated schedule (× blockFactor for dealt+dgsu) and masks it with its own members only
//     (a graph of cliques). A layout with too few sampled devices to form a group sits out the
//     round, named in `excluded`.
import Engine
import Foundation
import Privacy
import SecureAggregation
import Wire

/// One secure round's public plan.
public struct SecureRoundPlan: Sendable {
    /// The round.
    public let round: UInt64
    /// The mode.
    public let mode: SecureAggregationMode
    /// Participants in index order.
    public let participants: [String]
    /// Device → its index.
    public let index: [String: Int]
    /// The graph.
    public let graph: NeighbourGraph
    /// Dealt modes: the groups (indices).
    public let groups: [[Int]]
    /// The server's parameters (length: the sum's).
    public let parameters: SecAggParameters
    /// The sum's encoding (whole tensors).
    public let sum: MaskedUpdateEncoding
    /// Per participant, its coordinates in the sum (dealt modes), else nil.
    public let supports: [[Int32]]?
    /// Each participant's TASK setup.
    public let setups: [String: PBSecAggSetup]
    /// dealt: the channels each participant trains (its TASK's assignments).
    public let assignments: [String: [PBChannelAssignment]]
    /// Sampled devices that cannot take part this round, and why.
    public let excluded: [String: String]
    /// Each participant's distributed-noise standard deviation per coordinate (0: none).
    public let noiseStddev: Double

    /// Why a round cannot be run securely.
    public struct Refusal: Error, CustomStringConvertible {
        /// The reason.
        public var description: String
    }

    /// The plan of `round` over `sampled` devices, whose layouts, weights (n_k) and the model's
    /// schema the coordinator knows. `noiseMultiplier` is the run's z (distributed DP).
    public static func make(round: UInt64, sampled: [String], config: FederationConfig, layouts: [String: SparseLayout],
                            weights: [String: UInt64], arch: Architecture, schema: ModelSchema, noiseMultiplier: Double) throws -> SecureRoundPlan {
        let sa = config.secureAggregation
        let personalisation = config.personalisation
        func shared(_ id: String) -> [Int] { personalisation.sharedTensors(layouts[id]!, arch: arch).sorted() }
        var excluded: [String: String] = [:]
        var order: [String] = [], groups: [[Int]] = [], blocks: [String: [Int: [Int32]]] = [:]
        var rng = SplitMix64(seed: config.seed ^ 0x5EC_A66 ^ (round &* 0x9E37_79B9_7F4A_7C15))
        let candidates = sampled.sorted().filter { !shared($0).isEmpty }
        for id in sampled where shared(id).isEmpty { excluded[id] = "its layout shares no tensor (every trainable tensor is personal)" }
        if sa.dealsBlocks {
            // Layout classes in a fixed order (the first device's id), members shuffled per round.
            var classes: [(SparseLayout, [String])] = []
            for id in candidates {
                if let i = classes.firstIndex(where: { $0.0 == layouts[id]! }) { classes[i].1.append(id) } else { classes.append((layouts[id]!, [id])) }
            }
            // A group needs t + 1 members (t ≥ 2) to survive one dropout.
            let required = max(3, (sa.threshold ?? 2) + 1)
            for (c, (layout, members)) in classes.enumerated() {
                guard members.count >= required else {
                    for m in members { excluded[m] = "fewer than \(required) sampled devices share its layout this round" }
                    continue
                }
                let shuffled = members.shuffled(using: &rng)
                let size = max(required, min(sa.groupSize, members.count))
                let count = members.count / size
                var chunks = (0..<count).map { Array(shuffled[$0 * size..<($0 + 1) * size]) }
                for (j, m) in shuffled[(count * size)...].enumerated() { chunks[j % count].append(m) }
                let schedule = CoordinatedSchedule(layout: layout, arch: arch, seed: config.seed ^ 0xB10C_5EED &+ UInt64(c),
                                                   blockFactor: sa.mode == .dealtDGSU ? sa.blockFactor : 1)
                let names = (0..<count).map { "group-\($0)" }
                let dealt = schedule.assign(round: Int(round), devices: names)
                for (g, chunk) in chunks.enumerated() {
                    groups.append(Array(order.count..<order.count + chunk.count))
                    for m in chunk { order.append(m); blocks[m] = dealt[names[g]]! }
                }
            }
        } else {
            order = candidates
        }
        let n = order.count
        guard n >= 3 else {
            throw Refusal(description: "\(n) device\(n == 1 ? "" : "s") can take part securely this round; secure aggregation needs at least 3"
                          + (excluded.isEmpty ? "" : " (\(excluded.count) sampled sat out: \(excluded.values.sorted().first!))"))
        }
        let graph: NeighbourGraph
        if sa.dealsBlocks {
            graph = NeighbourGraph(groups: groups, count: n)
        } else {
            var g = ChaChaGenerator(seed: LittleEndian.bytes(config.seed, round, 0x6EA9_4000_0000_0001, 0x5EC_A66))
            graph = NeighbourGraph(count: n, degree: sa.degree(participants: n), using: &g)
        }
        let k = graph.minimumDegree
        let t = sa.resolvedThreshold(degree: k)
        guard t >= 2 else { throw Refusal(description: "participants have \(k) neighbours; a threshold of at least 2 needs at least 2") }

        // Values and the clip: weighted with counts, or (DP) unweighted with the noise share.
        let dp = config.privacy.enabled
        let maxWeight = dp ? 0 : max(1, order.map { weights[$0] ?? 1 }.max() ?? 1)
        let perCoordinate = sa.dealsBlocks ? max(2, groups.map(\.count).min() ?? 2) : n
        let noise = config.privacy.mode == .distributed ? noiseMultiplier * config.privacy.clip / Double(perCoordinate).squareRoot() : 0
        let clip = sa.clip ?? (sa.resolvedClip(config.privacy) + 6 * noise)
        let tensors = Array(Set(order.flatMap(shared))).sorted()
        let sum = try MaskedUpdateEncoding(tensors: tensors.map { schema.tensors[$0] }, clip: clip, valueBits: sa.valueBits,
                                           contributors: n, maxWeight: maxWeight)
        var supports: [[Int32]]? = nil
        var setups: [String: PBSecAggSetup] = [:], assignments: [String: [PBChannelAssignment]] = [:]
        for (i, id) in order.enumerated() {
            var s = PBSecAggSetup()
            s.participant = UInt32(i); s.participants = UInt32(n)
            s.neighbours = graph.neighbours[i].map(UInt32.init)
            s.threshold = UInt32(t); s.ringBits = UInt32(sum.quantiser.ringBits); s.valueBits = UInt32(sa.valueBits)
            s.clip = clip; s.maxWeight = maxWeight; s.phaseDeadlineMs = UInt64(sa.phaseDeadlineMs)
            s.mode = sa.mode.rawValue; s.noiseStddev = noise
            s.tensors = (sa.dealsBlocks ? shared(id) : tensors).map { schema.tensors[$0].name }
            if let b = blocks[id] {
                s.block = b.keys.sorted().map { u in
                    var a = PBChannelAssignment()
                    a.tensor = schema.tensors[2 * u].name
                    a.channels = b[u]!.map { UInt32($0) }
                    return a
                }.filter { s.tensors.contains($0.tensor) }.sorted { $0.tensor < $1.tensor }
                if sa.mode == .dealt { assignments[id] = s.block }
            }
            setups[id] = s
        }
        if sa.dealsBlocks {
            supports = try order.map { id in
                guard let sup = sum.support(of: try SecureRoundPlan.encoding(setups[id]!, schema: schema)) else {
                    throw Refusal(description: "device '\(id)': its masked tensors are not the round's")
                }
                return sup
            }
        }
        let parameters = try SecAggParameters(round: round, participants: n, degree: k, threshold: t, length: sum.length,
                                              ringBits: sum.quantiser.ringBits, harary: !sa.dealsBlocks)
        return SecureRoundPlan(round: round, mode: sa.mode, participants: order, index: Dictionary(uniqueKeysWithValues: order.enumerated().map { ($1, $0) }),
                               graph: graph, groups: groups, parameters: parameters, sum: sum, supports: supports, setups: setups,
                               assignments: assignments, excluded: excluded, noiseStddev: noise)
    }

    /// The encoding a device's `setup` describes: its masked tensors, each restricted to its
    /// block where it has one. Throws (a typed refusal) when the setup names what the model lacks.
    public static func encoding(_ setup: PBSecAggSetup, schema: ModelSchema) throws -> MaskedUpdateEncoding {
        let blocks = Dictionary(setup.block.map { ($0.tensor, $0.channels.map(Int.init)) }, uniquingKeysWith: { a, _ in a })
        let slots = try setup.tensors.map { name -> MaskedSlot in
            guard let spec = schema[name] else { throw SecAggError.parameters("the model has no tensor '\(name)'") }
            return MaskedSlot(spec: spec, channels: blocks[name].map { $0.count == spec.channelCount ? .all : .subset($0) } ?? .all)
        }
        return try MaskedUpdateEncoding(slots: slots, clip: setup.clip, valueBits: Int(setup.valueBits), contributors: Int(setup.participants),
                                        maxWeight: setup.maxWeight)
    }

    /// The vector length participant `id` must send.
    public func length(of id: String) -> Int? { index[id].map { supports?[$0].count ?? parameters.length } }
}
