// A small protocol conversation driven over any MessageChannel pair, used to show that the
// in-memory transport and real ZeroMQ sockets behave the same, and by the interop test.
import Transport
import Wire

/// Fixtures and a scripted coordinator ↔ node exchange.
enum ProtocolScript {
    /// conv [4, 8, 3, 3] + bias, linear [10, 8] + bias.
    static let schema = ModelSchema([
        TensorSpec(name: "conv.weight", shape: [4, 8, 3, 3]),
        TensorSpec(name: "conv.bias", shape: [4]),
        TensorSpec(name: "fc.weight", shape: [10, 8]),
        TensorSpec(name: "fc.bias", shape: [10]),
    ])

    /// A snapshot with deterministic values.
    static func snapshot(version: UInt64 = 1) -> ModelMessage {
        ModelMessage.snapshot(
            version: version, schema: schema,
            values: schema.tensors.map { spec in
                (0..<spec.elementCount).map { Float($0 % 13) / 13 - 0.5 }
            })
    }

    /// A task for `device` in `round` with the conv weight's channels [1, 3, 6] assigned.
    static func task(device: String, round: UInt64, encoding: PBValueEncoding, seed: UInt64 = 7) -> PBTask {
        var t = PBTask()
        t.round = round
        t.deviceID = device
        t.modelVersion = 1
        t.localSteps = 3
        t.learningRate = 0.01
        t.batchSize = 1
        t.policy.name = "interop-fixed"
        var a = PBChannelAssignment()
        a.tensor = "conv.weight"
        a.channels = [1, 3, 6]
        t.assignments = [a]
        t.deltaEncoding = encoding
        t.seed = seed
        return t
    }

    /// A JOIN of one device.
    static func join(device: String) -> PBJoin {
        var j = PBJoin()
        j.nodeName = "node-\(device)"
        var d = PBDeviceInfo()
        d.deviceID = device
        d.shardSize = 100
        d.memoryBudgetBytes = 262_144
        j.devices = [d]
        j.heartbeatIntervalMs = 1000
        return j
    }

    /// The node's answer to a task: the assigned channels' deterministic delta plus the bias.
    static func update(for t: PBTask) -> UpdateMessage {
        let conv = schema["conv.weight"]!
        let channels = t.assignments[0].channels.map(Int.init)
        let values = (0..<conv.valueCount(channels: channels.count)).map { Float(($0 % 5) - 2) / 100 }
        return UpdateMessage(
            deviceID: t.deviceID, round: t.round, baseModelVersion: t.modelVersion, sampleCount: 100,
            delta: SparseDelta([
                TensorDelta(name: "conv.weight", channels: .subset(channels), values: values),
                TensorDelta(name: "conv.bias", channels: .all, values: [0.01, -0.01, 0.02, 0]),
            ]))
    }

    /// Runs JOIN → MODEL, TASK → UPDATE, a bad message → ERROR, BYE over a router/dealer pair
    /// and returns every message each side received, in order (router side with identity).
    static func run(router: MessageChannel, dealer: MessageChannel, timeout: Int = 5000) throws -> [[[UInt8]]] {
        let codec = WireCodec()
        var log: [[[UInt8]]] = []
        func receive(_ c: MessageChannel) throws -> [[UInt8]] {
            guard let m = try c.receive(timeoutMilliseconds: timeout) else {
                throw TransportError.queueFull(peer: "timeout")
            }
            log.append(m)
            return m
        }
        try dealer.send(try codec.encode(.join(join(device: "dev-7"))))
        let joined = try receive(router)
        let peer = joined[0]
        guard case .join = try codec.decode(Array(joined.dropFirst())) else {
            throw WireError.unexpected(kind: .join, reason: "script")
        }
        try router.send([peer] + codec.encode(.model(snapshot())))
        try router.send([peer] + codec.encode(.task(task(device: "dev-7", round: 1, encoding: .f16)), schema: schema))

        guard case let .model(m) = try codec.decode(try receive(dealer)), case let .snapshot(nodeSchema) = m.form else {
            throw WireError.unexpected(kind: .model, reason: "script")
        }
        guard case let .task(t) = try codec.decode(try receive(dealer), schema: nodeSchema) else {
            throw WireError.unexpected(kind: .task, reason: "script")
        }
        try dealer.send(try codec.encode(.update(update(for: t)), schema: nodeSchema))
        let up = try receive(router)
        guard case let .update(u) = try codec.decode(Array(up.dropFirst()), schema: schema), u == update(for: t) else {
            throw WireError.unexpected(kind: .update, reason: "script: update differs")
        }
        // A lying update: the router replies with ERROR, and the node reads its code.
        var bad = try codec.encode(.update(update(for: t)), schema: nodeSchema)
        bad[2].removeLast()
        try dealer.send(bad)
        let badIn = try receive(router)
        guard case let .refused(_, reply?) = codec.inbound(Array(badIn.dropFirst()), schema: schema) else {
            throw WireError.unexpected(kind: .update, reason: "script: bad update accepted")
        }
        try router.send([peer] + reply)
        guard case let .error(e) = try codec.decode(try receive(dealer)), e.code == .checksumMismatch else {
            throw WireError.unexpected(kind: .error, reason: "script: no ERROR")
        }
        var bye = PBBye()
        bye.reason = "done"
        try dealer.send(try codec.encode(.bye(bye)))
        _ = try receive(router)
        return log
    }
}
