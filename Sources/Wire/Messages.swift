// The decoded, validated messages of SPFL/1 (PROTOCOL.md §4). Control-only messages are their
// protobuf headers; MODEL and UPDATE pair a header with decoded tensor slices.

/// One SparseFleet message, as encoded by `WireCodec.encode` and returned by `WireCodec.decode`.
public enum WireMessage: Equatable, Sendable {
    /// Node → coordinator: the devices a node hosts.
    case join(PBJoin)
    /// Coordinator → node: a global model version, whole or patched.
    case model(ModelMessage)
    /// Coordinator → node: train one device for one round.
    case task(PBTask)
    /// Node → coordinator: the sparse delta of one device for one round.
    case update(UpdateMessage)
    /// Either direction: evaluation or progress numbers.
    case metrics(PBMetrics)
    /// Either direction: proof of life when nothing else was sent.
    case heartbeat(PBHeartbeat)
    /// Either direction: orderly goodbye.
    case bye(PBBye)
    /// Either direction: the reply to a refused message.
    case error(PBError)
    /// Either direction: one phase of a secure-aggregation round (§4.9, draft).
    case secAgg(SecAggMessage)

    /// The envelope kind of this message.
    public var kind: MessageKind {
        switch self {
        case .join: return .join
        case .model: return .model
        case .task: return .task
        case .update: return .update
        case .metrics: return .metrics
        case .heartbeat: return .heartbeat
        case .bye: return .bye
        case .error: return .error
        case .secAgg: return .secAgg
        }
    }
}

/// Whether a MODEL carries the whole model or patches a version the node holds.
public enum ModelForm: Equatable, Sendable {
    /// Every tensor, full, with the schema that describes them.
    case snapshot(ModelSchema)
    /// The new absolute values of the channels that changed since `baseVersion`.
    case patch(baseVersion: UInt64)
}

/// A MODEL message: a global model version and its tensor values.
public struct ModelMessage: Equatable, Sendable {
    /// The global model version this message brings (≥ 1).
    public var version: UInt64
    /// Snapshot (with schema) or patch (against a base version).
    public var form: ModelForm
    /// Absolute values: every tensor in schema order (snapshot) or changed channels (patch).
    public var tensors: [TensorDelta]

    /// A model message; see PROTOCOL.md §4.2 for the rules the codec enforces.
    public init(version: UInt64, form: ModelForm, tensors: [TensorDelta]) {
        self.version = version
        self.form = form
        self.tensors = tensors
    }

    /// A snapshot of dense tensors given in schema order, one array per tensor.
    public static func snapshot(version: UInt64, schema: ModelSchema, values: [[Float]]) -> ModelMessage {
        precondition(
            values.count == schema.tensors.count,
            "ModelMessage.snapshot: \(values.count) value arrays for \(schema.tensors.count) tensors")
        let tensors = zip(schema.tensors, values).map { TensorDelta(name: $0.name, channels: .all, values: $1) }
        return ModelMessage(version: version, form: .snapshot(schema), tensors: tensors)
    }
}

/// An UPDATE message: one device's sparse delta for one round, with its aggregation weight.
public struct UpdateMessage: Equatable, Sendable {
    /// The device that trained.
    public var deviceID: String
    /// The round of the task.
    public var round: UInt64
    /// The global model version the device trained from.
    public var baseModelVersion: UInt64
    /// n_k: the number of training samples, the device's aggregation weight (≥ 1).
    public var sampleCount: UInt64
    /// What the device measured while training.
    public var metrics: PBTrainingMetrics
    /// The touched channels' differences `w_after - w_before`, weights and biases.
    public var delta: SparseDelta

    /// An update; see PROTOCOL.md §4.4 for the rules the codec enforces.
    public init(
        deviceID: String, round: UInt64, baseModelVersion: UInt64, sampleCount: UInt64,
        metrics: PBTrainingMetrics = PBTrainingMetrics(), delta: SparseDelta
    ) {
        self.deviceID = deviceID
        self.round = round
        self.baseModelVersion = baseModelVersion
        self.sampleCount = sampleCount
        self.metrics = metrics
        self.delta = delta
    }
}

/// A SECAGG message: its header and, in the MASKED phase, the masked ring vector (frame 2).
public struct SecAggMessage: Equatable, Sendable {
    /// The phase's fields.
    public var header: PBSecAgg
    /// MASKED: `header.maskedLength` ring elements; empty in every other phase.
    public var masked: [UInt32]

    /// A message of `header`'s phase.
    public init(header: PBSecAgg, masked: [UInt32] = []) {
        self.header = header
        self.masked = masked
    }
}
