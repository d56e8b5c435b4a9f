import XCTest
@testable import Wire

/// Every message kind survives encode → decode, and re-encoding gives the same bytes.
final class CodecRoundTripTests: XCTestCase {
    let codec = WireCodec()

    func testEveryKindRoundTripsByteForByte() throws {
        for message in Fixtures.allMessages() {
            let frames = try codec.encode(message, schema: Fixtures.schema)
            XCTAssertEqual(try Envelope.decode(frames[0]).kind, message.kind)
            let decoded = try codec.decode(frames, schema: Fixtures.schema)
            XCTAssertEqual(decoded.kind, message.kind)
            XCTAssertEqual(try codec.encode(decoded, schema: Fixtures.schema), frames, "\(message.kind) re-encodes differently")
        }
    }

    func testF32UpdateIsExact() throws {
        let u = Fixtures.update()
        let frames = try codec.encode(.update(u), schema: Fixtures.schema)
        XCTAssertEqual(frames.count, 2 + u.delta.tensors.count)
        XCTAssertEqual(try codec.decode(frames, schema: Fixtures.schema), .update(u))
    }

    func testF16AndInt8StayWithinTheirPrecision() throws {
        for (encoding, tolerance) in [(ValueEncoding.f16, Float(1e-5)), (.int8, Float(0.01 / 127 * 0.51))] {
            let u = Fixtures.update(encoding: encoding)
            guard case let .update(back) = try codec.decode(try codec.encode(.update(u), schema: Fixtures.schema), schema: Fixtures.schema) else {
                return XCTFail("not an update")
            }
            for (a, b) in zip(u.delta.tensors, back.delta.tensors) {
                XCTAssertEqual(a.name, b.name)
                XCTAssertEqual(a.channels, b.channels)
                XCTAssertEqual(b.encoding, encoding)
                for (x, y) in zip(a.values, b.values) { XCTAssertEqual(x, y, accuracy: tolerance, "\(encoding) \(a.name)") }
            }
        }
    }

    func testFrameSizesFollowTheSpec() throws {
        // conv.weight: 3 channels of [8, 16, 3, 3] → 8·3·9 = 216 values; u16 indices.
        let frames = try codec.encode(.update(Fixtures.update(encoding: .int8)), schema: Fixtures.schema)
        XCTAssertEqual(frames[0].count, 8)
        XCTAssertEqual(frames[2].count, 4 + 3 * 2 + 216 * 1)
        XCTAssertEqual(frames[3].count, 4 + 8)  // conv.bias, all channels, no indices
        let f32 = try codec.encode(.update(Fixtures.update()), schema: Fixtures.schema)
        XCTAssertEqual(f32[2].count, 3 * 2 + 216 * 4)
    }

    func testWideChannelCountsUseU32Indices() throws {
        let spec = TensorSpec(name: "wide", shape: [1, 70_000])
        let schema = ModelSchema([spec])
        let delta = TensorDelta(name: "wide", channels: .subset([5, 69_999]), values: [0.5, -0.25])
        let (payload, frame) = try TensorFrame.encode(delta, spec: spec)
        XCTAssertEqual(payload.indexWidth, .u32)
        XCTAssertEqual(frame.count, 2 * 4 + 2 * 4)
        let u = UpdateMessage(deviceID: "d", round: 1, baseModelVersion: 1, sampleCount: 1, delta: SparseDelta([delta]))
        XCTAssertEqual(try codec.decode(try codec.encode(.update(u), schema: schema), schema: schema), .update(u))
    }

    func testSnapshotCarriesItsSchemaAndPatchNeedsOne() throws {
        let frames = try codec.encode(.model(Fixtures.snapshot()))
        guard case let .model(m) = try codec.decode(frames) else { return XCTFail("not a model") }
        XCTAssertEqual(m, Fixtures.snapshot())
        guard case let .snapshot(schema) = m.form else { return XCTFail("not a snapshot") }
        XCTAssertEqual(schema, Fixtures.schema)

        let patch = try codec.encode(.model(Fixtures.patch()), schema: schema)
        XCTAssertThrowsError(try codec.decode(patch)) { XCTAssertEqual(($0 as? WireError)?.code, .schemaMismatch) }
        XCTAssertEqual(try codec.decode(patch, schema: schema), .model(Fixtures.patch()))
    }

    func testEncoderRefusesWhatTheDecoderWould() {
        var u = Fixtures.update()
        u.delta.tensors[0].values[3] = .nan
        XCTAssertThrowsError(try codec.encode(.update(u), schema: Fixtures.schema)) {
            XCTAssertEqual($0 as? WireError, .nonFinite(tensor: "conv.weight", index: 3))
        }
        var big = Fixtures.update(encoding: .f16)
        big.delta.tensors[1].values[0] = 70_000
        XCTAssertThrowsError(try codec.encode(.update(big), schema: Fixtures.schema)) { XCTAssertTrue("\($0)".contains("overflows f16"), "\($0)") }
        XCTAssertThrowsError(try codec.encode(.update(Fixtures.update()))) { XCTAssertEqual(($0 as? WireError)?.code, .schemaMismatch) }
    }

    func testAllZeroInt8SliceHasZeroScale() throws {
        let spec = Fixtures.schema["fc.bias"]!
        let (_, frame) = try TensorFrame.encode(TensorDelta(name: "fc.bias", channels: .all, values: [Float](repeating: 0, count: 10), encoding: .int8), spec: spec)
        XCTAssertEqual(Array(frame[0..<4]), [0, 0, 0, 0])
        XCTAssertEqual(frame.count, 14)
    }
}
