// What one secure round did and what the coordinator could see (a metrics.jsonl field), and the
// run's tally of them (a summary.json block): the mode and its guarantee, the parameters, the
// dropouts survived, and the cost.
import Foundation

/// One secure round, as the coordinator saw it.
public struct SecureRoundReport: Codable, Equatable, Sendable {
    /// candidates, dealt or dealt+dgsu.
    public var mode: String
    /// Participants n, fewest neighbours k, threshold t.
    public var participants: Int, neighbours: Int, threshold: Int
    /// Ring width b and value bits.
    public var ringBits: Int, valueBits: Int
    /// The per-coordinate clip c.
    public var clip: Double
    /// Elements of the unmasked sum, and of a participant's masked vector (mean).
    public var sumLength: Int, maskedLengthPerDevice: Double
    /// Participants that completed each phase.
    public var advertised: Int, dealt: Int, maskedInputs: Int, unmasked: Int
    /// Participants dropped, with the phase they missed or the refusal.
    public var dropped: [String: String]
    /// Sampled devices that could not take part, and why.
    public var satOut: [String: String]
    /// Why the sum could not be unmasked (the round was not applied), if it could not.
    public var failure: String?
    /// Coordinates of the sum that some survivor touched.
    public var touchedCoordinates: Int
    /// Seconds per phase (advertise includes the devices' training).
    public var phaseSeconds: [String: Double]
    /// Distributed DP: each device's noise standard deviation per coordinate.
    public var noiseStddev: Double
    /// What the coordinator saw this round.
    public var coordinatorSaw: String
}

/// The run's secure rounds (summary.json `secureAggregation`).
public struct SecureAggregationSummary: Codable, Equatable, Sendable {
    /// The mode.
    public var mode: String
    /// What the mode guarantees, and against whom.
    public var guarantee: String
    /// What the coordinator sees.
    public var coordinatorSees: String
    /// Secure rounds run, unmasked, and refused (too few survivors or shares).
    public var rounds = 0, unmaskedRounds = 0, refusedRounds = 0
    /// Dropouts within rounds whose sum was still unmasked.
    public var dropoutsSurvived = 0
    /// Devices that sat out a round (no group for their layout).
    public var satOut = 0
    /// Bytes each participating device sent per round, mean (all SECAGG phases, framing included).
    public var meanUplinkBytesPerDevice = 0.0
    /// The last round's n, k, t, b, value bits and clip.
    public var participants = 0, neighbours = 0, threshold = 0, ringBits = 0, valueBits = 0
    /// The clip c.
    public var clip = 0.0
    /// Bytes the summed devices sent over the secure rounds, and their device-rounds.
    public var uplinkBytes = 0.0, deviceRounds = 0

    /// A tally for `mode`.
    public init(mode: SecureAggregationMode) {
        self.mode = mode.rawValue
        (guarantee, coordinatorSees) = Self.describe(mode)
    }

    /// Adds one round and its devices' uplink bytes.
    public mutating func record(_ r: SecureRoundReport, uplink: [Int]) {
        rounds += 1
        if r.failure == nil { unmaskedRounds += 1; dropoutsSurvived += r.dropped.count } else { refusedRounds += 1 }
        satOut += r.satOut.count
        uplinkBytes += Double(uplink.reduce(0, +)); deviceRounds += uplink.count
        meanUplinkBytesPerDevice = deviceRounds == 0 ? 0 : uplinkBytes / Double(deviceRounds)
        (participants, neighbours, threshold, ringBits, valueBits, clip) = (r.participants, r.neighbours, r.threshold, r.ringBits, r.valueBits, r.clip)
    }

    /// The guarantee and the coordinator's view of `mode`.
    public static func describe(_ mode: SecureAggregationMode) -> (guarantee: String, sees: String) {
        let base = "Against a coordinator that follows the protocol (honest-but-curious) and any set of fewer than t colluding devices: "
            + "no single device's update is revealed, only the sum of a round's survivors (SecAgg+, Bell et al. 2020). "
            + "Devices may be hostile, but their inputs cannot be checked under the mask: each coordinate is bounded by the clip c, nothing more. "
        switch mode {
        case .off: return ("none", "every update in plaintext")
        case .candidates:
            return (base + "Which channels a device trained is hidden too: every device masks every candidate coordinate.",
                    "masked vectors over every candidate coordinate; then the sum of the survivors' values and counts (the per-coordinate mean)")
        case .dealt:
            return (base + "The blocks are dealt publicly, so which channels a device trained is public; within a block the coordinator learns only the group's sum.",
                    "each device's dealt block (public) and its masked vector over it; then each group's sum over its block")
        case .dealtDGSU:
            return (base + "The superset blocks are public; which channels inside its block a device's DGSU chose is hidden (the counts are masked too).",
                    "each device's dealt superset block (public) and its masked vector over it; then each group's sum of values and counts over its block")
        }
    }
}
