// Secure aggregation of sparse updates (SecAgg+, PROTOCOL.md §4.9): the coordinator learns only
// the sum of a round's updates. Settings, their defaults and their refusals:
//
//   "secureAggregation": {"mode": "candidates",   // off | candidates | dealt | dealt+dgsu
//                         "neighbours": null,     // k; null: 2⌈log2 n⌉ (at most n − 1) per round of n
//                         "threshold": null,      // t; null: ⌊k/2⌋ + 1
//                         "valueBits": 20,        // bits of one quantised coordinate (sign included)
//                         "clip": null,           // c: coordinates clipped to [−c, c]; null: privacy.clip under DP, else 1
//                         "phaseDeadlineMs": 10000,  // each phase after the training one
//                         "groupSize": 4,         // dealt modes: devices that share one public block (a group of g
//                                                 //   survives g − 1 − t dropouts after dealing)
//                         "blockFactor": 3,       // dealt+dgsu: the block is this many times the per-step channels
//                         "randomness": "seeded"} // seeded (reproducible from the run's seed) | system
//
// What the coordinator sees, per mode:
//   - candidates: every device masks a vector over every candidate coordinate (the shared
//     tensors of every update layer): the index set is hidden, the upload is dense over them.
//   - dealt: the coordinator deals each group of `groupSize` devices one public block (the
//     coordinated schedule); each device trains exactly its block and masks over it only with
//     its group. The upload stays sparse; which channels a device trained is public by design.
//   - dealt+dgsu: as dealt, but the block is `blockFactor` × the per-step channels and inside it
//     the device runs DGSU every step. Which channels inside the block it chose stays hidden.
import Foundation
import SecureAggregation

/// Which coordinates a device masks.
public enum SecureAggregationMode: String, Codable, Sendable, CaseIterable {
    /// Plain aggregation: the coordinator sees every update.
    case off
    /// Every candidate coordinate of the layout (hides the index set; dense upload).
    case candidates
    /// The publicly dealt block only (sparse upload; the index set is public).
    case dealt
    /// A public superset block, DGSU inside it (sparse upload; the choice inside the block hidden).
    case dealtDGSU = "dealt+dgsu"
}

/// Where a device's protocol secrets come from.
public enum SecAggRandomness: String, Codable, Sendable, CaseIterable {
    /// Derived from the run's seed, the device and the round: runs are bitwise reproducible, but
    /// anyone who knows the topology's seed can derive every device's secrets (a simulation).
    case seeded
    /// The operating system's generator: secrets no one else can derive; runs are not reproducible.
    case system
}

/// Secure-aggregation settings.
public struct SecureAggregationConfig: Codable, Equatable, Sendable {
    /// off, candidates, dealt or dealt+dgsu.
    public var mode: SecureAggregationMode = .off
    /// Neighbours per device k; nil: 2⌈log2 n⌉ (even), at most n − 1.
    public var neighbours: Int? = nil
    /// Shares needed to rebuild a secret t; nil: ⌊k/2⌋ + 1.
    public var threshold: Int? = nil
    /// Bits of one quantised coordinate.
    public var valueBits = 20
    /// Per-coordinate clip c; nil: privacy.clip under DP, else 1.
    public var clip: Double? = nil
    /// Milliseconds each phase after training waits.
    public var phaseDeadlineMs = 10_000
    /// dealt modes: devices per block.
    public var groupSize = 4
    /// dealt+dgsu: block width as a multiple of the per-step channels.
    public var blockFactor = 3
    /// seeded or system.
    public var randomness: SecAggRandomness = .seeded
    /// Off.
    public init() {}

    /// Whether secure aggregation is on.
    public var enabled: Bool { mode != .off }
    /// Whether blocks are dealt (dealt, dealt+dgsu).
    public var dealsBlocks: Bool { mode == .dealt || mode == .dealtDGSU }

    /// The clip c in force under `privacy`.
    public func resolvedClip(_ privacy: PrivacyConfig) -> Double { clip ?? (privacy.enabled ? privacy.clip : 1) }

    /// k for a round of `n` devices: as configured or 2⌈log2 n⌉, made even, at most n − 1.
    public func degree(participants n: Int) -> Int {
        guard n > 1 else { return 0 }
        let log2n = 64 - UInt64(n - 1).leadingZeroBitCount
        let k = neighbours ?? max(2, 2 * log2n)
        let even = k + k % 2
        return even >= n - 1 ? n - 1 : even
    }

    /// t for a round whose devices have at least `k` neighbours.
    public func resolvedThreshold(degree k: Int) -> Int { min(k, threshold ?? k / 2 + 1) }

    /// Every rule of the block; throws naming the key and what is allowed.
    public func validate(_ config: FederationConfig) throws {
        guard enabled else {
            if config.privacy.mode == .distributed {
                throw ConfigError.invalid(path: "privacy.mode", reason: "distributed noise needs secure aggregation (each device adds a share that only the masked sum completes); set secureAggregation.mode, or use central")
            }
            return
        }
        func bad(_ key: String, _ reason: String) -> ConfigError { .invalid(path: "secureAggregation.\(key)", reason: reason) }
        if config.aggregation.rule != .mean {
            throw ConfigError.invalid(path: "aggregation.rule", reason: "'\(config.aggregation.rule.rawValue)' is refused under secure aggregation: the coordinator sees only the masked sum, and a median or trimmed mean needs every device's value; use mean")
        }
        if config.privacy.mode == .local {
            throw ConfigError.invalid(path: "privacy.mode", reason: "local noise under secure aggregation adds n times the noise the sum needs; use distributed (each device adds its 1/n share)")
        }
        if let k = neighbours, k < 2 { throw bad("neighbours", "must be at least 2 (null: 2⌈log2 n⌉ per round)") }
        if let t = threshold {
            guard t >= 2 else { throw bad("threshold", "must be at least 2 (null: ⌊k/2⌋ + 1)") }
            if let k = neighbours, t > k { throw bad("threshold", "\(t) exceeds neighbours \(k): a secret is dealt to k neighbours, so at most k shares exist") }
            if dealsBlocks, t > groupSize - 1 { throw bad("threshold", "\(t) exceeds groupSize − 1 = \(groupSize - 1): in the dealt modes a device's neighbours are the others of its group") }
        }
        guard (2...30).contains(valueBits) else { throw bad("valueBits", "must be 2...30 (20: a resolution of c / 524287)") }
        if let c = clip, !(c > 0 && c.isFinite) { throw bad("clip", "must be finite and > 0 (null: privacy.clip under DP, else 1)") }
        guard phaseDeadlineMs >= 1 else { throw bad("phaseDeadlineMs", "must be at least 1 ms") }
        guard (3...64).contains(groupSize) else { throw bad("groupSize", "must be 3...64 devices per block (each device masks with at least 2 others)") }
        guard (1...16).contains(blockFactor) else { throw bad("blockFactor", "must be 1...16 (the block is that many times the per-step channels)") }
        if dealsBlocks && config.rounds.coordinatedSchedule {
            throw ConfigError.invalid(path: "rounds.coordinatedSchedule", reason: "the \(mode.rawValue) mode deals the blocks itself; remove coordinatedSchedule")
        }
        if !dealsBlocks, config.rounds.coordinatedSchedule {
            throw ConfigError.invalid(path: "rounds.coordinatedSchedule", reason: "under candidates a coordinated schedule would mask the whole layout for blocks that are public anyway; use mode: dealt")
        }
        if mode == .dealtDGSU, let d = config.resolvedDevices.first(where: { $0.policy != .dgsu }) {
            throw ConfigError.invalid(path: "devices[\(d.id)].policy", reason: "dealt+dgsu runs DGSU inside each dealt block; '\(d.policy.rawValue)' cannot; use policy dgsu, or mode dealt")
        }
        let n = config.devices.count
        guard n >= 3 else { throw ConfigError.invalid(path: "devices", reason: "secure aggregation needs at least 3 devices (each one masks with at least 2 neighbours); add devices or turn it off") }
        // The ring the round's quantiser would need (RingQuantiser: valueBits + ⌈log2 n⌉ bits).
        guard RingQuantiser(clip: 1, valueBits: valueBits, maxContributors: n) != nil else {
            throw bad("valueBits", "\(valueBits) value bits for up to \(n) devices need more than a 32-bit ring; use at most \(32 - (64 - UInt64(n - 1).leadingZeroBitCount))")
        }
    }
}
