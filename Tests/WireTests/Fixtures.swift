// A small model schema and one valid message of every kind, shared by the Wire tests.
@testable import Wire

/// Test fixtures: a tiny CNN-like schema and sample messages.
enum Fixtures {
    /// conv [8, 16, 3, 3] + bias, a depthwise conv sliced along axis 0, a linear [10, 32] + bias.
    static let schema = ModelSchema([
        TensorSpec(name: "conv.weight", shape: [8, 16, 3, 3]),
        TensorSpec(name: "conv.bias", shape: [8]),
        TensorSpec(name: "dw.weight", shape: [16, 1, 3, 3], channelAxis: 0),
        TensorSpec(name: "fc.weight", shape: [10, 32]),
        TensorSpec(name: "fc.bias", shape: [10]),
    ])

    /// Deterministic pseudo-random values in [-scale, scale).
    static func values(_ n: Int, seed: UInt64, scale: Float = 0.01) -> [Float] {
        var s = seed &* 0x9E37_79B9_7F4A_7C15 | 1
        return (0..<n).map { _ in
            s ^= s << 13; s ^= s >> 7; s ^= s << 17
            return (Float(s >> 40) / Float(1 << 24) * 2 - 1) * scale
        }
    }

    /// A sparse delta touching channels of the conv and fc weights, and both biases whole.
    static func delta(encoding: ValueEncoding = .f32) -> SparseDelta {
        let conv = schema["conv.weight"]!, fc = schema["fc.weight"]!
        return SparseDelta([
            TensorDelta(name: "conv.weight", channels: .subset([1, 4, 9]), values: values(conv.valueCount(channels: 3), seed: 1), encoding: encoding),
            TensorDelta(name: "conv.bias", channels: .all, values: values(8, seed: 2), encoding: encoding),
            TensorDelta(name: "fc.weight", channels: .subset([0, 31]), values: values(fc.valueCount(channels: 2), seed: 3), encoding: encoding),
            TensorDelta(name: "fc.bias", channels: .all, values: values(10, seed: 4), encoding: encoding),
        ])
    }

    /// A valid UPDATE for device "dev-1", round 3, from version 2.
    static func update(encoding: ValueEncoding = .f32) -> UpdateMessage {
        var m = PBTrainingMetrics()
        m.steps = 5
        m.lossFirst = 2.3
        m.lossLast = 1.9
        m.accuracy = 0.4
        m.peakMemoryBytes = 190_000
        return UpdateMessage(deviceID: "dev-1", round: 3, baseModelVersion: 2, sampleCount: 600, metrics: m, delta: delta(encoding: encoding))
    }

    /// A valid snapshot of version 1 with deterministic weights.
    static func snapshot() -> ModelMessage {
        ModelMessage.snapshot(version: 1, schema: schema,
                              values: schema.tensors.enumerated().map { values($1.elementCount, seed: UInt64(10 + $0), scale: 0.5) })
    }

    /// A valid patch from version 1 to 2 changing two channels of the conv weight.
    static func patch() -> ModelMessage {
        let conv = schema["conv.weight"]!
        return ModelMessage(version: 2, form: .patch(baseVersion: 1), tensors: [
            TensorDelta(name: "conv.weight", channels: .subset([0, 15]), values: values(conv.valueCount(channels: 2), seed: 20)),
        ])
    }

    /// A valid JOIN of a node hosting two devices.
    static func join() -> PBJoin {
        var j = PBJoin()
        j.nodeName = "node-a"
        j.devices = ["dev-1", "dev-2"].map { id in
            var d = PBDeviceInfo()
            d.deviceID = id
            d.shardSize = 600
            d.memoryBudgetBytes = 262_144
            return d
        }
        j.encodings = [.f32, .f16, .int8]
        j.policies = ["dgsu", "trady"]
        j.heartbeatIntervalMs = 1000
        j.capabilities = ["u32-indices"]
        return j
    }

    /// A valid TASK with a channel assignment for the conv weight.
    static func task() -> PBTask {
        var t = PBTask()
        t.round = 3
        t.deviceID = "dev-1"
        t.modelVersion = 2
        t.localSteps = 5
        t.learningRate = 0.05
        t.batchSize = 1
        t.policy.name = "dgsu"
        t.policy.params = ["ratio": 0.25, "layers": 2]
        var a = PBChannelAssignment()
        a.tensor = "conv.weight"
        a.channels = [1, 4, 9]
        t.assignments = [a]
        t.deltaEncoding = .f16
        t.seed = 42
        return t
    }

    /// One valid message of every kind.
    static func allMessages() -> [WireMessage] {
        var metrics = PBMetrics()
        metrics.deviceID = "dev-1"
        metrics.round = 3
        metrics.values = ["test_accuracy": 0.81, "not_measured": .nan]
        var hb = PBHeartbeat()
        hb.sequence = 7
        hb.intervalMs = 1000
        var bye = PBBye()
        bye.reason = "shutting down"
        var err = PBError()
        err.code = .stale
        err.message = "round closed"
        return [.join(join()), .model(snapshot()), .model(patch()), .task(task()), .update(update()),
                .update(update(encoding: .f16)), .update(update(encoding: .int8)), .metrics(metrics),
                .heartbeat(hb), .bye(bye), .error(err)]
    }
}
