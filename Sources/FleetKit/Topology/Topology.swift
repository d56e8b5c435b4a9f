// A fleet scenario as read from a topology YAML file (see topologies/README.md for the format):
// data, model, device groups, partitioning, rounds, aggregation, security, personalisation,
// node processes, the simulated device speed and network, and injected faults.
import Engine
import Federation

/// A whole fleet scenario.
public struct Topology: Equatable, Sendable {
    /// Short name, used for run folders.
    public var name: String
    /// What the scenario studies (the file's opening comment).
    public var about: String
    /// Master seed.
    public var seed: UInt64
    /// Data set and preprocessing.
    public var dataset: DatasetConfig
    /// Model, weights and input resolution.
    public var model: ModelConfig
    /// Memory model of every device.
    public var memory: MemoryOptions
    /// Layout search knobs of every device.
    public var search: LayoutSearchOptions
    /// Device groups, in file order.
    public var groups: [DeviceGroup]
    /// Partition of the training set.
    public var partition: PartitionConfig
    /// Round schedule.
    public var rounds: RoundConfig
    /// Server aggregation.
    public var aggregation: AggregationConfig
    /// Device-level differential privacy (off by default).
    public var privacy = PrivacyConfig()
    /// Secure aggregation (off by default).
    public var secureAggregation = SecureAggregationConfig()
    /// Attacks after the final round (none by default).
    public var attacks = AttacksConfig()
    /// Delta value encoding.
    public var encoding: EncodingName
    /// Whether the coordinator deals each device its channel blocks (the coordinated schedule).
    public var coordinatedSchedule: Bool
    /// Whether CURVE security is on.
    public var curve: Bool
    /// Personalisation settings.
    public var personalisation: PersonalisationConfig
    /// Node processes.
    public var nodes: NodeLayout
    /// Deadline of a round on the simulated clock, ms (nil: rounds wait for the slowest device).
    public var simulatedDeadlineMs: Int? = nil
    /// Simulated network used for the simulated wall clock.
    public var network: NetworkModel
    /// Faults the launcher injects.
    public var faults: Faults
    /// Heartbeat interval, ms.
    public var heartbeatMs: Int
    /// The swept keys (`sweep:`), empty for a single run.
    public var sweep: [SweepAxis] = []
    /// The cells of the sweep's grid, empty for a single run (each cell's topology has none).
    public var cells: [SweepCell] = []

    /// All devices, in id order.
    public var deviceCount: Int { groups.reduce(0) { $0 + $1.count } }
}

/// A group of identical devices.
public struct DeviceGroup: Equatable, Sendable {
    /// Group name (device ids are `<name>-<index>`).
    public var name: String
    /// Devices in the group.
    public var count: Int
    /// SRAM budget, bytes.
    public var budget: Int
    /// Sparse-update policy.
    public var policy: PolicyKind
    /// Local SGD steps per round.
    public var localSteps: Int
    /// Samples per step.
    public var batch: Int
    /// SGD learning rate.
    public var learningRate: LearningRates
    /// Schedule of the rates over each task's local steps.
    public var localSchedule: LearningRateSchedule = .constant
    /// Simulated compute speed of one device, MFLOP/s (FedScale-style device profile).
    public var mflops: Double
    /// Line of the group's `budget` (or of the group) in the file, for budget errors.
    public var budgetLine: Int? = nil

    /// Device ids of the group.
    public var deviceIDs: [String] {
        let width = max(2, String(count - 1).count)
        return (0..<count).map { i in
            let n = String(i)
            return "\(name)-" + String(repeating: "0", count: max(0, width - n.count)) + n
        }
    }
}

/// How devices are spread over node processes.
public struct NodeLayout: Equatable, Sendable {
    /// Node processes.
    public var count: Int
    /// `round-robin` (device i → node i mod count) or `contiguous` (blocks of consecutive devices).
    public var split: String
}

/// The network between devices and the coordinator: always the simulated clock's link model;
/// with `proxy`, also real faults on the wire (a FaultProxy between nodes and the coordinator).
public struct NetworkModel: Equatable, Sendable {
    /// One-way latency, ms (simulated clock; with `proxy`, also added to every real message).
    public var latencyMs: Double
    /// Link bandwidth, kbit/s (both directions; simulated clock only).
    public var bandwidthKbps: Double
    /// Probability that one message is lost (simulated clock: and sent again; with `proxy`, also
    /// really dropped on the wire, where only the protocol's own recovery brings it back).
    public var dropProbability: Double
    /// Whether `fleet run` puts a fault-injecting proxy between the nodes and the coordinator.
    public var proxy = false
    /// With `proxy`: probability that a real message is delivered twice.
    public var duplicateProbability = 0.0
    /// With `proxy`: probability that a real message is held back behind the next one of its connection.
    public var reorderProbability = 0.0
    /// With `proxy`: extra real delay per message, uniform in [0, jitterMs), ms.
    public var jitterMs = 0.0
}

/// Faults the launcher injects into a run.
public struct Faults: Equatable, Sendable {
    /// Node (1-based) the launcher kills with SIGKILL, if any.
    public var killNode: Int?
    /// The kill happens once this many rounds are in metrics.jsonl.
    public var killAfterRound: Int
    /// Node (1-based) that sends one corrupted UPDATE, if any.
    public var corruptNode: Int?
    /// Round of the corrupted UPDATE.
    public var corruptRound: Int
}
