// The launcher's summary.json. Field names are STABLE (scripts and the README read them); add
// fields, never rename or remove them. Fractions are 0…1, percentages say so in their name.
import Federation
import Transport

/// The run's headline figures.
public struct FleetSummary: Codable, Equatable, Sendable {
    /// Format tag: `sparsefleet.fleet-summary/2` (2: real seconds and the byte totals moved to timing.json).
    public var schema = "sparsefleet.fleet-summary/2"
    /// Topology name (with the sweep cell appended, e.g. `policies-compared/policy-dgsu`).
    public var topology: String
    /// What the topology studies.
    public var about: String
    /// Model and input size, e.g. `efficientnet-lite0 @ 64x64 (pretrained)`.
    public var model: String
    /// Data set and partition, e.g. `fashion-mnist, iid`.
    public var data: String
    /// Devices configured.
    public var devices: Int
    /// Node processes.
    public var nodes: Int
    /// Rounds planned, completed and skipped.
    public var rounds: Rounds
    /// Global test accuracy before round 1 (fraction).
    public var initialGlobalAccuracy: Double
    /// Global test accuracy after the last round (fraction).
    public var finalGlobalAccuracy: Double
    /// Personalised accuracy (each device's private test split, final model) over devices.
    public var personalisedAccuracy: PersonalisedAccuracy
    /// Bytes on the wire and the comparison with dense FedAvg.
    public var bytes: Bytes
    /// Peak SRAM of one training step against the budget, per device group (from the planner).
    public var memory: [GroupPlan]
    /// Conv weights changed at least once in the global model over the run, % of all conv weights.
    public var weightsUpdatedPercent: Double
    /// Update-layer weight tensor → fraction of its channels touched at least once over the run.
    public var channelCoverage: [String: Double]
    /// Mean of `channelCoverage` (0 when no layer has channel subsets).
    public var meanChannelCoverage: Double
    /// Real and simulated wall time.
    public var wallTime: WallTime
    /// Device failures by reason (deadline, disconnected, …), summed over rounds.
    public var failures: [String: Int]
    /// Messages the coordinator refused with an ERROR reply (corrupted, stale, duplicate, …).
    public var refusedMessages: Int
    /// Whether the run was stopped (Ctrl-C) before its last round.
    public var interrupted: Bool
    /// Coordinated channel schedule: requested in the topology; implemented (false until issue 7).
    public var coordinatedSchedule: Coordinated
    /// Whether CURVE was on.
    public var curve: Bool
    /// What the fault proxy did on the real wire (`network.proxy: on`); nil without it.
    public var realWire: ProxyCounters? = nil
    /// Differential privacy: settings and ε spent (from the coordinator); nil without DP.
    public var privacy: PrivacySummary? = nil
    /// Membership attacks after the final round; nil when not run.
    public var membership: MembershipSummary? = nil
    /// Secure aggregation: mode, guarantee, what the coordinator saw, dropouts, overhead; nil without it.
    public var secureAggregation: SecureAggregationSummary? = nil
    /// The personalisation method and every device's before/after accuracy, bytes sent and peak
    /// memory against its budget; nil when the coordinator wrote no summary.
    public var personalisation: PersonalisationReport? = nil

    /// Rounds of the run.
    public struct Rounds: Codable, Equatable, Sendable {
        /// Rounds the topology asked for.
        public var planned: Int
        /// Rounds completed (aggregated or skipped).
        public var completed: Int
        /// Rounds skipped (too few updates).
        public var skipped: Int
    }

    /// Distribution of personalised accuracy.
    public struct PersonalisedAccuracy: Codable, Equatable, Sendable {
        /// Devices that reported.
        public var count: Int
        /// Mean.
        public var mean: Double?
        /// 10th percentile (nearest rank).
        public var p10: Double?
        /// Median.
        public var median: Double?
        /// Worst device.
        public var worst: Double?
        /// Best device.
        public var best: Double?
        /// Device → accuracy.
        public var perDevice: [String: Double]
    }

    /// Traffic.
    public struct Bytes: Codable, Equatable, Sendable {
        /// Everything the coordinator received (updates, joins, heartbeats, metrics).
        public var uplink: Int
        /// Of which aggregated UPDATE messages.
        public var uplinkUpdates: Int
        /// What dense FedAvg would have sent up: one f32 model per aggregated update.
        public var denseFedAvgUplink: Int
        /// uplinkUpdates / denseFedAvgUplink.
        public var uplinkRatioToDense: Double
        /// Everything the coordinator sent.
        public var downlink: Int
        /// The dense f32 model, bytes.
        public var denseModel: Int
        /// Mean UPDATE bytes per device per round.
        public var meanUpdate: Double

        public init(uplink: Int, uplinkUpdates: Int, denseFedAvgUplink: Int, uplinkRatioToDense: Double, downlink: Int,
                    denseModel: Int, meanUpdate: Double) {
            self.uplink = uplink; self.uplinkUpdates = uplinkUpdates; self.denseFedAvgUplink = denseFedAvgUplink
            self.uplinkRatioToDense = uplinkRatioToDense; self.downlink = downlink; self.denseModel = denseModel
            self.meanUpdate = meanUpdate
        }

        enum CodingKeys: String, CodingKey { case uplink, uplinkUpdates, denseFedAvgUplink, uplinkRatioToDense, downlink, denseModel, meanUpdate }

        /// The totals (uplink, downlink) count heartbeats, which run on a real-time clock, so they
        /// go to timing.json with the real seconds; what the updates carry stays in summary.json.
        public func encode(to encoder: Encoder) throws {
            var c = encoder.container(keyedBy: CodingKeys.self)
            try c.encode(uplinkUpdates, forKey: .uplinkUpdates)
            try c.encode(denseFedAvgUplink, forKey: .denseFedAvgUplink)
            try c.encode(uplinkRatioToDense, forKey: .uplinkRatioToDense)
            try c.encode(denseModel, forKey: .denseModel)
            try c.encode(meanUpdate, forKey: .meanUpdate)
        }

        public init(from decoder: Decoder) throws {
            let c = try decoder.container(keyedBy: CodingKeys.self)
            uplink = try c.decodeIfPresent(Int.self, forKey: .uplink) ?? 0
            uplinkUpdates = try c.decode(Int.self, forKey: .uplinkUpdates)
            denseFedAvgUplink = try c.decode(Int.self, forKey: .denseFedAvgUplink)
            uplinkRatioToDense = try c.decode(Double.self, forKey: .uplinkRatioToDense)
            downlink = try c.decodeIfPresent(Int.self, forKey: .downlink) ?? 0
            denseModel = try c.decode(Int.self, forKey: .denseModel)
            meanUpdate = try c.decode(Double.self, forKey: .meanUpdate)
        }
    }

    /// Wall time.
    public struct WallTime: Codable, Equatable, Sendable {
        /// Real seconds, launcher start to finish (processes starting, data loading and joins included).
        public var realSeconds: Double
        /// Real seconds of the rounds alone (sum of the coordinator's round times).
        public var realRoundSeconds: Double
        /// Simulated seconds of the rounds (FedScale-style device speed and network model).
        public var simulatedSeconds: Double
        /// Simulated timing per round.
        public var simulatedRounds: [SimulatedRound]
        /// Reporting devices past the simulated deadline, summed over rounds.
        public var simulatedStragglers: Int
        /// Simulated message losses (each retransmitted), summed over rounds.
        public var simulatedRetransmissions: Int

        public init(realSeconds: Double, realRoundSeconds: Double, simulatedSeconds: Double, simulatedRounds: [SimulatedRound],
                    simulatedStragglers: Int, simulatedRetransmissions: Int) {
            self.realSeconds = realSeconds; self.realRoundSeconds = realRoundSeconds; self.simulatedSeconds = simulatedSeconds
            self.simulatedRounds = simulatedRounds; self.simulatedStragglers = simulatedStragglers
            self.simulatedRetransmissions = simulatedRetransmissions
        }

        enum CodingKeys: String, CodingKey {
            case realSeconds, realRoundSeconds, simulatedSeconds, simulatedRounds, simulatedStragglers, simulatedRetransmissions
        }

        /// summary.json holds what the seed determines; the real seconds (this machine's speed) go
        /// to timing.json beside it (`SummaryBuilder.write`), so two runs of one topology and seed
        /// write the same summary.json wherever they ran. Older summaries with them still read.
        public func encode(to encoder: Encoder) throws {
            var c = encoder.container(keyedBy: CodingKeys.self)
            try c.encode(simulatedSeconds, forKey: .simulatedSeconds)
            try c.encode(simulatedRounds, forKey: .simulatedRounds)
            try c.encode(simulatedStragglers, forKey: .simulatedStragglers)
            try c.encode(simulatedRetransmissions, forKey: .simulatedRetransmissions)
        }

        public init(from decoder: Decoder) throws {
            let c = try decoder.container(keyedBy: CodingKeys.self)
            realSeconds = try c.decodeIfPresent(Double.self, forKey: .realSeconds) ?? .nan
            realRoundSeconds = try c.decodeIfPresent(Double.self, forKey: .realRoundSeconds) ?? .nan
            simulatedSeconds = try c.decode(Double.self, forKey: .simulatedSeconds)
            simulatedRounds = try c.decode([SimulatedRound].self, forKey: .simulatedRounds)
            simulatedStragglers = try c.decode(Int.self, forKey: .simulatedStragglers)
            simulatedRetransmissions = try c.decode(Int.self, forKey: .simulatedRetransmissions)
        }
    }

    /// timing.json: what a run measured on the real clock, kept out of summary.json: its real
    /// seconds, and the byte totals that include heartbeats.
    public struct Timing: Codable, Equatable, Sendable {
        public var realSeconds: Double
        public var realRoundSeconds: Double
        public var uplink: Int?
        public var downlink: Int?
    }

    /// The coordinated schedule flag.
    public struct Coordinated: Codable, Equatable, Sendable {
        /// Asked for by the topology.
        public var requested: Bool
        /// Whether the federation implements it (false: issue 7).
        public var implemented: Bool
    }
}
