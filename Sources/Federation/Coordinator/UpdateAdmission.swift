// The one admission function for UPDATEs (PROTOCOL.md §4.4): everything the coordinator checks
// between a decoded UPDATE and the aggregation, in one place and in a fixed order. It trusts no
// field a peer claims: the device must belong to the sending connection, the round and version
// must be the open ones, the encoding the TASK's, the tensors inside the device's layout, the
// delta's L2 norm within its bound, and the aggregation weight is the shard size the
// coordinator computed from the configuration, never the claimed `sample_count`.
import Foundation
import Privacy
import Wire

/// A round the coordinator has open.
public struct OpenRound: Sendable {
    /// The round.
    public var round: UInt64
    /// The model version its tasks start from.
    public var version: UInt64
    /// Sampled devices.
    public var sampled: [String]
    /// Sampled devices with no update, error or failure yet.
    public var pending: Set<String>
    /// Accepted updates.
    public var results: [String: DeviceResult] = [:]
    /// Bytes of each accepted UPDATE.
    public var updateBytes: [String: Int] = [:]
    /// Sampled devices that contributed nothing, and why.
    public var failures: [String: FailureReason] = [:]
    /// What each reporting device said it measured while training (UPDATE.metrics).
    public var training: [String: PBTrainingMetrics] = [:]
    /// The L2 norm of each accepted update's delta.
    public var norms: [String: Double] = [:]
    /// Personalised accuracies reported this round (METRICS).
    public var before: [String: Double] = [:]
    /// After local training.
    public var after: [String: Double] = [:]
    /// Under DP: whether each device reported that clipping scaled its update down.
    public var clipped: [String: Bool] = [:]
    /// Under secure aggregation: the survivors whose masked inputs the aggregate sums (the
    /// round's reporting devices; `results` then holds the one unmasked aggregate).
    public var secureSurvivors: [String]? = nil
    /// `personalisation.method: local`: the devices whose METRICS said they finished the task's
    /// local steps (they send no UPDATE; they are the round's reporting devices).
    public var localDone: Set<String> = []

    /// A round with nothing received yet.
    public init(round: UInt64, version: UInt64, sampled: [String]) {
        self.round = round; self.version = version; self.sampled = sampled; pending = Set(sampled)
    }
}

/// A refused UPDATE: the error the peer gets, and whether the device's task fails for the round
/// (a delta that can never be admitted) or stays open (a stray or repeated message).
public struct UpdateRefusal: Error, Equatable, Sendable {
    /// The ERROR sent back.
    public var error: WireError
    /// Whether the device counts as failed (refused) for the open round.
    public var failsTask: Bool
}

/// The coordinator's checks of UPDATEs.
public struct UpdateAdmission: Sendable {
    /// The model's schema.
    public let schema: ModelSchema
    /// Device → schema positions its layout may update.
    public let trainable: [String: Set<Int>]
    /// Device → its aggregation weight n_k: its training-shard size, from the configuration.
    public let weights: [String: UInt64]
    /// Device → largest admitted L2 norm of its delta.
    public let maxNorms: [String: Double]
    /// Device → local steps its TASK asks for (UPDATE.metrics.steps may not exceed it).
    public let localSteps: [String: UInt32]
    /// The encoding every TASK asks for.
    public let encoding: ValueEncoding

    /// Admission for the configured devices.
    public init(schema: ModelSchema, trainable: [String: Set<Int>], weights: [String: UInt64], maxNorms: [String: Double],
                localSteps: [String: UInt32], encoding: ValueEncoding) {
        self.schema = schema; self.trainable = trainable; self.weights = weights; self.maxNorms = maxNorms
        self.localSteps = localSteps; self.encoding = encoding
    }

    /// The result to aggregate, or the refusal. `owned`: whether the sending connection joined
    /// (and, with CURVE, its key holds) the update's device; `round`: the open round, if any.
    public func admit(_ u: UpdateMessage, owned: Bool, round r: OpenRound?) -> Result<DeviceResult, UpdateRefusal> {
        let id = u.deviceID
        func refuse(_ e: WireError, fails: Bool = false) -> Result<DeviceResult, UpdateRefusal> { .failure(UpdateRefusal(error: e, failsTask: fails)) }
        guard owned, let weight = weights[id] else { return refuse(.unknownDevice(deviceID: id)) }
        guard let r else { return refuse(.stale(deviceID: id, reason: "round \(u.round) is closed and no round is open")) }
        if u.round < r.round { return refuse(.stale(deviceID: id, reason: "round \(u.round) is closed (open round: \(r.round))")) }
        guard u.round == r.round, r.sampled.contains(id) else {
            return refuse(.unexpected(kind: .update, reason: "device '\(id)' has no task in round \(u.round)"))
        }
        guard u.baseModelVersion <= r.version else {
            return refuse(.unexpected(kind: .update, reason: "base model version \(u.baseModelVersion) is newer than the coordinator's \(r.version)"))
        }
        guard u.baseModelVersion == r.version else {
            return refuse(.stale(deviceID: id, reason: "base model version \(u.baseModelVersion) is behind the round's version \(r.version)"))
        }
        guard r.results[id] == nil else { return refuse(.duplicate(deviceID: id, round: u.round)) }
        guard r.pending.contains(id) else {
            return refuse(.unexpected(kind: .update, reason: "device '\(id)' already failed round \(u.round) (\(r.failures[id]?.rawValue ?? "closed"))"))
        }
        // From here on the update is a real answer to the task, and a bad one fails it.
        if let bad = u.delta.tensors.first(where: { $0.encoding != encoding }) {
            return refuse(.invalid(field: "Update tensor '\(bad.name)' encoding", reason: "\(bad.encoding) but the TASK asked for \(encoding) (PROTOCOL.md §4.3)"), fails: true)
        }
        let allowed = trainable[id] ?? []
        if let bad = u.delta.tensors.first(where: { !allowed.contains(schema.position(of: $0.name) ?? -1) }) {
            return refuse(.schemaMismatch(tensor: bad.name, reason: "not trainable under device '\(id)''s sparse layout"), fails: true)
        }
        let norm = Self.norm(u.delta)
        let bound = maxNorms[id] ?? 0
        guard norm.isFinite, norm <= bound else {
            return refuse(.outOfRange(field: "Update delta L2 norm", reason: "\(norm) exceeds aggregation.maxUpdateNorm \(bound) for device '\(id)'"), fails: true)
        }
        if let problem = trainingProblem(u.metrics, device: id) { return refuse(problem, fails: true) }
        return .success(DeviceResult(deviceID: id, sampleCount: weight, baseVersion: u.baseModelVersion, delta: u.delta))
    }

    /// The L2 norm of every value of `delta`, accumulated in f64.
    public static func norm(_ delta: SparseDelta) -> Double { L2Clipping.norm(delta.tensors.map(\.values)) }

    /// Why UPDATE.metrics cannot be true, if it cannot: more steps than the task asked for, or
    /// non-finite or negative numbers, or an accuracy outside [0, 1].
    func trainingProblem(_ m: PBTrainingMetrics, device: String) -> WireError? {
        if m.steps > (localSteps[device] ?? 0) {
            return .outOfRange(field: "Update.metrics.steps", reason: "\(m.steps) local steps, the task asked for \(localSteps[device] ?? 0)")
        }
        for (name, v) in [("loss_first", m.lossFirst), ("loss_last", m.lossLast), ("compute_seconds", m.computeSeconds)] where !(v.isFinite && v >= 0) {
            return .outOfRange(field: "Update.metrics.\(name)", reason: "\(v) must be finite and ≥ 0")
        }
        if !m.accuracy.isNaN, !(0...1).contains(m.accuracy) {
            return .outOfRange(field: "Update.metrics.accuracy", reason: "\(m.accuracy) is not NaN (not measured) or in [0, 1]")
        }
        return nil
    }
}
