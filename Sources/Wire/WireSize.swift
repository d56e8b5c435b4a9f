// Bytes on the wire: the real encoded size of an UPDATE against the dense f32 model.

/// The measured size of one encoded UPDATE next to the dense model it updates.
public struct WireSizeReport: Equatable, Sendable {
    /// Every frame of the encoded UPDATE (envelope, header, tensor frames), in bytes.
    public let updateBytes: Int
    /// The protobuf header frame alone.
    public let headerBytes: Int
    /// The tensor frames alone.
    public let payloadBytes: Int
    /// Values carried (touched coordinates).
    public let valueCount: Int
    /// The whole model, dense, in f32.
    public let denseF32Bytes: Int

    /// updateBytes / denseF32Bytes.
    public var ratio: Double { Double(updateBytes) / Double(denseF32Bytes) }
}

/// Measures encoded message sizes by encoding them.
public enum WireSize {
    /// Encodes `update` for real and reports its size against `schema`'s dense f32 size.
    public static func report(update: UpdateMessage, schema: ModelSchema, codec: WireCodec = WireCodec()) throws -> WireSizeReport {
        let frames = try codec.encode(.update(update), schema: schema)
        return WireSizeReport(updateBytes: frames.reduce(0) { $0 + $1.count }, headerBytes: frames[1].count,
                              payloadBytes: frames[2...].reduce(0) { $0 + $1.count },
                              valueCount: update.delta.valueCount, denseF32Bytes: schema.denseF32Bytes)
    }

    /// Reports `delta` sent as a typical update (device "device-00000", round 1, version 1,
    /// 1000 samples, 5 metrics), every slice re-encoded with `encoding`.
    public static func report(delta: SparseDelta, schema: ModelSchema, encoding: ValueEncoding = .f32) throws -> WireSizeReport {
        var d = delta
        for i in d.tensors.indices { d.tensors[i].encoding = encoding }
        var metrics = PBTrainingMetrics()
        metrics.steps = 10
        metrics.lossFirst = 2.302
        metrics.lossLast = 1.5
        metrics.peakMemoryBytes = 200_000
        metrics.computeSeconds = 0.25
        let update = UpdateMessage(deviceID: "device-00000", round: 1, baseModelVersion: 1, sampleCount: 1000,
                                   metrics: metrics, delta: d)
        return try report(update: update, schema: schema)
    }
}
