// What every aggregation rule sees and returns. A rule is a pure function of
// (round, results, failures) plus the server state it carries between rounds (FedAvgM's
// momentum): same inputs, same bits out, whatever order the updates arrived in, because every
// rule visits contributions sorted by device id.
import Wire

/// One device's accepted update, values decoded to f32.
public struct DeviceResult: Equatable, Sendable {
    /// The device.
    public var deviceID: String
    /// n_k: its aggregation weight (training samples).
    public var sampleCount: UInt64
    /// The global version it trained from.
    public var baseVersion: UInt64
    /// Its touched-channel differences.
    public var delta: SparseDelta

    /// A result.
    public init(deviceID: String, sampleCount: UInt64, baseVersion: UInt64, delta: SparseDelta) {
        self.deviceID = deviceID; self.sampleCount = sampleCount; self.baseVersion = baseVersion; self.delta = delta
    }
}

/// Why a sampled device contributed nothing this round.
public enum FailureReason: String, Codable, Equatable, Sendable {
    /// No update before the deadline (a straggler).
    case deadline
    /// Its update was refused (malformed, stale, not trainable...).
    case refused
    /// Its node disconnected or was declared dead.
    case disconnected
    /// The device reported an error instead of an update (e.g. its budget overflowed).
    case deviceError = "device-error"
    /// Secure aggregation could not place it this round (no group for its layout, too few devices).
    case satOut = "sat-out"
}

/// A sampled device that contributed nothing.
public struct DeviceFailure: Equatable, Sendable {
    /// The device.
    public var deviceID: String
    /// Why.
    public var reason: FailureReason
    /// A failure.
    public init(deviceID: String, reason: FailureReason) { self.deviceID = deviceID; self.reason = reason }
}

/// State a rule carries from round to round.
public struct ServerState: Equatable, Sendable {
    /// FedAvgM momentum buffers, by schema position (created when a tensor is first touched).
    public var momentum: [Int: [Float]] = [:]
    /// Empty state.
    public init() {}
}

/// Everything a rule needs for one round.
public struct AggregationInput: Sendable {
    /// The round being aggregated.
    public var round: UInt64
    /// The model's schema.
    public var schema: ModelSchema
    /// The global model before the round, one dense array per schema tensor.
    public var model: [[Float]]
    /// The accepted updates (any order).
    public var results: [DeviceResult]
    /// The sampled devices that contributed nothing.
    public var failures: [DeviceFailure]
    /// State carried from the previous round.
    public var state: ServerState

    /// An input.
    public init(round: UInt64, schema: ModelSchema, model: [[Float]], results: [DeviceResult],
                failures: [DeviceFailure] = [], state: ServerState = ServerState()) {
        self.round = round; self.schema = schema; self.model = model; self.results = results
        self.failures = failures; self.state = state
    }
}

/// What a rule returns.
public struct AggregationOutcome: Sendable {
    /// The next global model.
    public var model: [[Float]]
    /// The state for the next round.
    public var state: ServerState
    /// Schema position → channels (sorted) touched by at least one accepted update.
    public var touchedChannels: [Int: [Int]]
    /// Touched coordinates left unchanged for fewer than the rule's minimum contributors.
    public var heldBackCoordinates: Int = 0

    /// An outcome.
    public init(model: [[Float]], state: ServerState, touchedChannels: [Int: [Int]], heldBackCoordinates: Int = 0) {
        self.model = model; self.state = state; self.touchedChannels = touchedChannels; self.heldBackCoordinates = heldBackCoordinates
    }
}

/// A server-side aggregation rule.
public protocol AggregationRule: Sendable {
    /// Name for logs and metrics.
    var name: String { get }
    /// The next model from the round's results. Coordinates no result touched are unchanged.
    func aggregate(_ input: AggregationInput) -> AggregationOutcome
}
