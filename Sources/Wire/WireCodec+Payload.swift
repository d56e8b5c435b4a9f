// MODEL and UPDATE: headers that describe tensor frames, the frames, and their checksum.
import SwiftProtobuf

extension WireCodec {
    // MARK: - UPDATE (PROTOCOL.md §4.4)

    /// Frames 1... of an UPDATE: header, then one tensor frame per delta slice.
    func encodeUpdate(_ u: UpdateMessage, schema: ModelSchema?) throws -> [[UInt8]] {
        guard let schema else {
            throw WireError.schemaMismatch(tensor: u.delta.tensors.first?.name ?? "-", reason: "encoding an UPDATE needs the model schema")
        }
        var h = PBUpdate()
        h.deviceID = u.deviceID
        h.round = u.round
        h.baseModelVersion = u.baseModelVersion
        h.sampleCount = u.sampleCount
        h.metrics = u.metrics
        try updateRules(h)
        try u.delta.validate(against: schema, limits: limits)
        var frames: [[UInt8]] = []
        for t in u.delta.tensors {
            let (payload, frame) = try TensorFrame.encode(t, spec: schema[t.name]!)
            h.tensors.append(payload)
            frames.append(frame)
        }
        h.payloadCrc32 = CRC32.checksum(frames: frames)
        return [try serialize(h)] + frames
    }

    /// Decodes an UPDATE against the receiver's schema.
    func decodeUpdate(_ frames: [[UInt8]], schema: ModelSchema?) throws -> UpdateMessage {
        let h = try parse(PBUpdate.self, frames[1])
        try updateRules(h)
        guard let schema else {
            throw WireError.schemaMismatch(tensor: h.tensors.first?.name ?? "-", reason: "no model schema is known to decode an UPDATE")
        }
        let tensors = try decodeTensors(frames, payloads: h.tensors, crc: h.payloadCrc32, kind: .update) { name, _ in
            guard let spec = schema[name] else { throw WireError.schemaMismatch(tensor: name, reason: "the model has no such tensor") }
            return spec
        }
        return UpdateMessage(deviceID: h.deviceID, round: h.round, baseModelVersion: h.baseModelVersion,
                             sampleCount: h.sampleCount, metrics: h.metrics, delta: SparseDelta(tensors))
    }

    /// Header rules of an UPDATE that need no schema.
    private func updateRules(_ h: PBUpdate) throws {
        try Validate.identifier(h.deviceID, field: "Update.device_id", limits: limits)
        try Validate.positive(h.round, field: "Update.round")
        try Validate.positive(h.baseModelVersion, field: "Update.base_model_version")
        try Validate.positive(h.sampleCount, field: "Update.sample_count")
    }

    // MARK: - MODEL (PROTOCOL.md §4.2)

    /// Frames 1... of a MODEL: header (with the schema for a snapshot), then tensor frames.
    func encodeModel(_ m: ModelMessage, schema given: ModelSchema?) throws -> [[UInt8]] {
        var h = PBModel()
        h.version = m.version
        let schema: ModelSchema
        switch m.form {
        case let .snapshot(s):
            schema = s
            h.form = .snapshot
            h.schema = s.pb
            guard m.tensors.map(\.name) == s.tensors.map(\.name), m.tensors.allSatisfy({ $0.channels == .all }) else {
                throw WireError.schemaMismatch(tensor: "-", reason: "a SNAPSHOT must hold every schema tensor, full, in schema order")
            }
        case let .patch(base):
            guard let given else { throw WireError.schemaMismatch(tensor: "-", reason: "encoding a PATCH needs the model schema") }
            schema = given
            h.form = .patch
            h.baseVersion = base
        }
        try modelRules(h)
        try SparseDelta(m.tensors).validate(against: schema, limits: limits)
        var frames: [[UInt8]] = []
        for t in m.tensors {
            let (payload, frame) = try TensorFrame.encode(t, spec: schema[t.name]!)
            h.tensors.append(payload)
            frames.append(frame)
        }
        h.payloadCrc32 = CRC32.checksum(frames: frames)
        return [try serialize(h)] + frames
    }

    /// Decodes a MODEL; a snapshot brings its own schema, a patch uses the receiver's.
    func decodeModel(_ frames: [[UInt8]], schema given: ModelSchema?) throws -> ModelMessage {
        let h = try parse(PBModel.self, frames[1])
        try modelRules(h)
        let schema: ModelSchema
        let form: ModelForm
        if h.form == .snapshot {
            schema = try ModelSchema(validating: h.schema, limits: limits)
            guard h.tensors.count == schema.tensors.count else {
                throw WireError.schemaMismatch(tensor: "-", reason: "a SNAPSHOT lists \(h.tensors.count) tensors for a schema of \(schema.tensors.count)")
            }
            for (p, s) in zip(h.tensors, schema.tensors) where p.name != s.name || p.indexWidth != PBIndexWidth.none {
                throw WireError.schemaMismatch(tensor: p.name, reason: "a SNAPSHOT must hold every schema tensor, full, in schema order ('\(s.name)' expected here)")
            }
            form = .snapshot(schema)
        } else {
            guard let given else {
                throw WireError.schemaMismatch(tensor: h.tensors.first?.name ?? "-", reason: "a PATCH needs a model schema; ask for a SNAPSHOT first")
            }
            schema = given
            form = .patch(baseVersion: h.baseVersion)
        }
        let tensors = try decodeTensors(frames, payloads: h.tensors, crc: h.payloadCrc32, kind: .model) { name, _ in
            guard let spec = schema[name] else { throw WireError.schemaMismatch(tensor: name, reason: "the model has no such tensor") }
            return spec
        }
        return ModelMessage(version: h.version, form: form, tensors: tensors)
    }

    /// Header rules of a MODEL that need no schema.
    private func modelRules(_ h: PBModel) throws {
        try Validate.positive(h.version, field: "Model.version")
        switch h.form {
        case .snapshot:
            guard h.baseVersion == 0 else { throw WireError.invalid(field: "Model.base_version", reason: "must be 0 in a SNAPSHOT") }
        case .patch:
            guard h.schema.isEmpty else { throw WireError.invalid(field: "Model.schema", reason: "must be empty in a PATCH") }
            guard h.baseVersion >= 1, h.baseVersion < h.version else {
                throw WireError.invalid(field: "Model.base_version", reason: "\(h.baseVersion) must be in 1..<\(h.version) for a PATCH")
            }
        default:
            throw WireError.invalid(field: "Model.form", reason: "value \(h.form.rawValue) is not SNAPSHOT or PATCH")
        }
    }

    // MARK: - Tensor frames

    /// Checks the frame count, names and checksum, then decodes frames 2... in order.
    private func decodeTensors(_ frames: [[UInt8]], payloads: [PBTensorPayload], crc: UInt32, kind: MessageKind,
                               spec: (String, Int) throws -> TensorSpec) throws -> [TensorDelta] {
        try Validate.count(payloads.count, field: "\(kind) tensor count", limit: limits.maxTensors)
        guard frames.count == 2 + payloads.count else {
            throw WireError.invalid(field: "\(kind) message", reason: "header describes \(payloads.count) tensor frames but \(frames.count - 2) follow (lengths that lie)")
        }
        var specs: [TensorSpec] = []
        specs.reserveCapacity(payloads.count)
        var seen = Set<String>()
        for (i, p) in payloads.enumerated() {
            try Validate.identifier(p.name, field: "TensorPayload.name", limits: limits)
            guard seen.insert(p.name).inserted else { throw WireError.schemaMismatch(tensor: p.name, reason: "listed twice in one message") }
            specs.append(try spec(p.name, i))
        }
        let actual = CRC32.checksum(frames: frames[2...])
        guard actual == crc else { throw WireError.checksumMismatch(expected: crc, actual: actual) }
        var out: [TensorDelta] = []
        out.reserveCapacity(payloads.count)
        for (i, p) in payloads.enumerated() {
            out.append(try TensorFrame.decode(frames[2 + i], payload: p, spec: specs[i]))
        }
        return out
    }
}
