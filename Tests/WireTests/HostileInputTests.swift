import SwiftProtobuf
import XCTest

@testable import Wire

/// Each kind of malformed input from the issue is refused with its typed error and the ERROR
/// code the peer receives.
final class HostileInputTests: XCTestCase {
    let codec = WireCodec()
    let schema = Fixtures.schema

    func updateFrames(_ u: UpdateMessage = Fixtures.update()) throws -> [[UInt8]] {
        try codec.encode(.update(u), schema: schema)
    }

    /// Re-serialises the header of an update after `edit`, fixing nothing else.
    func withHeader(_ frames: [[UInt8]], _ edit: (inout PBUpdate) -> Void) throws -> [[UInt8]] {
        var h = try PBUpdate(serializedBytes: frames[1])
        edit(&h)
        var f = frames
        f[1] = try h.serializedBytes()
        return f
    }

    /// Replaces tensor frame `i` and repairs the checksum, so deeper checks are reached.
    func withTensorFrame(_ frames: [[UInt8]], _ i: Int, _ edit: (inout [UInt8]) -> Void) throws -> [[UInt8]] {
        var f = frames
        edit(&f[2 + i])
        return try withHeader(f) { $0.payloadCrc32 = CRC32.checksum(frames: f[2...]) }
    }

    func assertRefused(
        _ frames: [[UInt8]], _ code: PBErrorCode, _ detail: String? = nil, file: StaticString = #filePath,
        line: UInt = #line
    ) {
        XCTAssertThrowsError(try codec.decode(frames, schema: schema), file: file, line: line) { error in
            guard let e = error as? WireError else {
                return XCTFail("not a WireError: \(error)", file: file, line: line)
            }
            XCTAssertEqual(e.code, code, "\(e)", file: file, line: line)
            if let detail {
                XCTAssertTrue(e.description.contains(detail), "'\(e)' lacks '\(detail)'", file: file, line: line)
            }
        }
    }

    func testTruncatedFrames() throws {
        let f = try updateFrames()
        assertRefused([], .malformed)
        assertRefused([f[0]], .malformed, "missing the header")
        assertRefused([Array(f[0].prefix(5))] + f.dropFirst(), .malformed, "8 bytes")
        assertRefused([f[0], Array(f[1].dropLast(3))] + f.dropFirst(2), .malformed, "protobuf")
        assertRefused(Array(f.dropLast()), .malformed, "lengths that lie")
        assertRefused(try withTensorFrame(f, 0) { $0.removeLast() }, .malformed, "lengths that lie")
    }

    func testWrongVersionAndMagicAndKind() throws {
        var f = try updateFrames()
        f[0][4] = 2
        assertRefused(f, .unsupportedVersion, "version 2")
        f[0][4] = 1; f[0][0] = 0x58
        assertRefused(f, .malformed, "not a SparseFleet message")
        f[0][0] = 0x53; f[0][6] = 99
        assertRefused(f, .malformed, "unknown kind")
    }

    func testLengthsThatLie() throws {
        let f = try updateFrames()
        // Header claims more channels than the frame holds.
        assertRefused(try withHeader(f) { $0.tensors[0].channelCount = 4 }, .malformed, "lengths that lie")
        // Header claims a huge channel count: refused as out of range, nothing allocated.
        assertRefused(try withHeader(f) { $0.tensors[0].channelCount = .max }, .badChannels)
        // Index width NONE with a channel count.
        assertRefused(try withHeader(f) { $0.tensors[1].channelCount = 3 }, .malformed, "must be 0")
        // Header describes fewer tensors than frames follow.
        assertRefused(try withHeader(f) { $0.tensors.removeLast() }, .malformed, "tensor frames")
        // Extra frame on a control message.
        var join = try codec.encode(.join(Fixtures.join()))
        join.append([1, 2, 3])
        assertRefused(join, .malformed, "expected 2")
        // Unknown encoding / index width values.
        assertRefused(try withHeader(f) { $0.tensors[0].encoding = .UNRECOGNIZED(9) }, .malformed, "encoding")
        assertRefused(try withHeader(f) { $0.tensors[0].indexWidth = .UNRECOGNIZED(3) }, .malformed, "index_width")
    }

    func testChannelIndicesOutOfRangeUnsortedDuplicated() throws {
        let f = try updateFrames()  // conv.weight indices [1, 4, 9] as u16 at the frame start
        assertRefused(try withTensorFrame(f, 0) { $0[4] = 16 }, .badChannels, "out of range")  // 9 → 16 (C = 16)
        assertRefused(try withTensorFrame(f, 0) { $0[2] = 0 }, .badChannels, "unsorted or duplicated")  // [1, 0, 9]
        assertRefused(try withTensorFrame(f, 0) { $0[2] = 1 }, .badChannels, "unsorted or duplicated")  // [1, 1, 9]
        var u = Fixtures.update()
        u.delta.tensors[0].channels = .subset([4, 1, 9])
        XCTAssertThrowsError(try codec.encode(.update(u), schema: schema)) {
            XCTAssertEqual(($0 as? WireError)?.code, .badChannels)
        }
    }

    func testShapeMismatchWithTheSchema() throws {
        let f = try updateFrames()
        assertRefused(try withHeader(f) { $0.tensors[0].name = "no.such.tensor" }, .schemaMismatch, "no such tensor")
        assertRefused(try withHeader(f) { $0.tensors[2].name = "conv.weight" }, .schemaMismatch, "twice")
        // The same frames against a model whose conv has other dimensions.
        let other = ModelSchema([TensorSpec(name: "conv.weight", shape: [8, 16, 1, 1])] + schema.tensors.dropFirst())
        XCTAssertThrowsError(try codec.decode(f, schema: other)) {
            XCTAssertEqual(($0 as? WireError)?.code, .malformed)
        }
        var u = Fixtures.update()
        u.delta.tensors[0].values.removeLast()
        XCTAssertThrowsError(try codec.encode(.update(u), schema: schema)) {
            XCTAssertEqual(($0 as? WireError)?.code, .schemaMismatch)
        }
    }

    func testNaNAndInfinity() throws {
        let f = try updateFrames()
        let nan = Float.nan.bitPattern, inf = Float.infinity.bitPattern
        for bits in [nan, inf] {
            // conv.weight f32 values start after 3 u16 indices.
            let bad = try withTensorFrame(f, 0) { frame in
                withUnsafeBytes(of: bits.littleEndian) { frame.replaceSubrange(6 + 4 * 5..<6 + 4 * 6, with: $0) }
            }
            assertRefused(bad, .nonFinite, "value 5")
        }
        let half = try codec.encode(.update(Fixtures.update(encoding: .f16)), schema: schema)
        assertRefused(
            try withTensorFrame(half, 1) {
                $0[2] = 0x00; $0[3] = 0x7C
            }, .nonFinite)  // +inf half
        let int8 = try codec.encode(.update(Fixtures.update(encoding: .int8)), schema: schema)
        assertRefused(try withTensorFrame(int8, 1) { $0.replaceSubrange(0..<4, with: [0, 0, 0xC0, 0x7F]) }, .nonFinite)  // NaN scale
        assertRefused(
            try withTensorFrame(int8, 1) { $0.replaceSubrange(0..<4, with: [0xFF, 0xFF, 0x7F, 0x7F]) }, .nonFinite)  // q·scale overflows
        assertRefused(try withTensorFrame(int8, 1) { $0[3] = 0xBF }, .malformed, "negative")
    }

    func testChecksumMismatch() throws {
        var f = try updateFrames()
        f[3][0] ^= 0x01
        assertRefused(f, .checksumMismatch, "checksum")
        assertRefused(try withHeader(try updateFrames()) { $0.payloadCrc32 ^= 1 }, .checksumMismatch)
    }

    func testOversizedMessages() throws {
        let f = try updateFrames()
        let total = f.reduce(0) { $0 + $1.count }
        var small = WireLimits.default
        small.maxMessageBytes = total - 1
        XCTAssertThrowsError(try WireCodec(limits: small).decode(f, schema: schema)) {
            XCTAssertEqual($0 as? WireError, .tooLarge(field: "message bytes", size: total, limit: total - 1))
        }
        XCTAssertThrowsError(try WireCodec(limits: small).encode(.update(Fixtures.update()), schema: schema)) {
            XCTAssertEqual(($0 as? WireError)?.code, .tooLarge)
        }
        small = .default
        small.maxTensors = 2
        XCTAssertThrowsError(try WireCodec(limits: small).decode(f, schema: schema)) {
            XCTAssertEqual(($0 as? WireError)?.code, .tooLarge)
        }
        small = .default
        small.maxHeaderBytes = 8
        XCTAssertThrowsError(try WireCodec(limits: small).decode(f, schema: schema)) {
            XCTAssertEqual(($0 as? WireError)?.code, .tooLarge)
        }
        var join = Fixtures.join()
        join.devices[0].deviceID = String(repeating: "x", count: 256)
        XCTAssertThrowsError(try codec.encode(.join(join))) { XCTAssertEqual(($0 as? WireError)?.code, .tooLarge) }
    }

    func testHeaderRulesOfControlMessages() throws {
        var t = Fixtures.task()
        t.learningRate = .nan
        let badTask = try withHeaderOf(.task(Fixtures.task())) { (h: inout PBTask) in h.learningRate = .infinity }
        assertRefused(badTask, .malformed, "learning_rate")
        XCTAssertThrowsError(try codec.encode(.task(t), schema: schema))
        let badRates = try withHeaderOf(.task(Fixtures.task())) { (h: inout PBTask) in
            h.learningRates.head = 0.1; h.learningRates.bias = -1; h.learningRates.weights = 0.01
        }
        assertRefused(badRates, .malformed, "learning_rates.bias")
        t = Fixtures.task()
        t.assignments[0].channels = [3, 2]
        XCTAssertThrowsError(try codec.encode(.task(t), schema: schema)) {
            XCTAssertEqual(($0 as? WireError)?.code, .badChannels)
        }
        XCTAssertThrowsError(try codec.decode(try codec.encode(.task(Fixtures.task()), schema: schema))) {  // no schema known
            XCTAssertEqual(($0 as? WireError)?.code, .schemaMismatch)
        }
        assertRefused(
            try withHeaderOf(.join(Fixtures.join())) { (h: inout PBJoin) in h.devices[1].deviceID = "dev-1" },
            .malformed, "twice")
        assertRefused(
            try withHeaderOf(.join(Fixtures.join())) { (h: inout PBJoin) in h.devices = [] }, .malformed,
            "at least one device")
        assertRefused(
            try withHeaderOf(.update(Fixtures.update())) { (h: inout PBUpdate) in h.sampleCount = 0 }, .malformed,
            "sample_count")
        var e = PBError()
        e.code = .unspecified
        XCTAssertThrowsError(try codec.encode(.error(e)))
        var invalidUTF8 = try codec.encode(.bye(PBBye()))
        invalidUTF8[1] = [0x0A, 0x02, 0xC3, 0x28]  // reason = invalid UTF-8
        assertRefused(invalidUTF8, .malformed, "protobuf")
        var hb = PBHeartbeat()
        hb.intervalMs = 0
        XCTAssertThrowsError(try codec.encode(.heartbeat(hb)))
    }

    func testSnapshotAndPatchRules() throws {
        let snap = try codec.encode(.model(Fixtures.snapshot()))
        assertRefused(
            try withHeaderOf(snap) { (h: inout PBModel) in h.tensors.swapAt(0, 1) }, .schemaMismatch, "schema order")
        assertRefused(
            try withHeaderOf(snap) { (h: inout PBModel) in h.schema[0].shape = [8, 16, 0, 3] }, .schemaMismatch,
            "dimension is 0")
        assertRefused(
            try withHeaderOf(snap) { (h: inout PBModel) in h.schema[0].channelAxis = 4 }, .schemaMismatch, "axis")
        assertRefused(
            try withHeaderOf(snap) { (h: inout PBModel) in h.schema[0].shape = [65_536, 65_536, 65_536] }, .tooLarge)
        assertRefused(try withHeaderOf(snap) { (h: inout PBModel) in h.form = .unspecified }, .malformed, "form")
        let patch = try codec.encode(.model(Fixtures.patch()), schema: schema)
        assertRefused(try withHeaderOf(patch) { (h: inout PBModel) in h.baseVersion = 2 }, .malformed, "base_version")
    }

    func testErrorRepliesCarryTheCodeAndNeverAnswerErrors() throws {
        var f = try updateFrames()
        f[3][0] ^= 0x01
        guard case let .refused(error, reply?) = codec.inbound(f, schema: schema) else {
            return XCTFail("expected a reply")
        }
        XCTAssertEqual(error.code, .checksumMismatch)
        guard case let .error(e) = try codec.decode(reply) else { return XCTFail("reply is not an ERROR") }
        XCTAssertEqual(e.code, .checksumMismatch)
        XCTAssertEqual(e.refusedKind, UInt32(MessageKind.update.rawValue))
        XCTAssertEqual(e.peerVersion, 1)
        XCTAssertTrue(e.message.contains("checksum"))

        var wrongVersion = f
        wrongVersion[0][4] = 7
        guard case let .refused(_, reply2?) = codec.inbound(wrongVersion, schema: schema),
            case let .error(e2) = try codec.decode(reply2)
        else { return XCTFail("expected an ERROR reply") }
        XCTAssertEqual(e2.code, .unsupportedVersion)

        var badError = try codec.encode(
            ErrorReply.message(for: .duplicate(deviceID: "d", round: 1), refusedKind: .update))
        badError[1] = [0xFF]
        guard case .refused(_, nil) = codec.inbound(badError) else { return XCTFail("an ERROR must never be answered") }
        guard case .refused(_, nil) = codec.inbound([Array("GET / HTTP/1.1".utf8)]) else {
            return XCTFail("non-SPFL input must be dropped")
        }
    }

    func testErrorReplyClipsLongText() throws {
        let long = String(repeating: "é", count: 5000)
        let frames = ErrorReply.frames(
            for: .unknownDevice(deviceID: long), refusedKind: .update, deviceID: long, round: 9)
        guard case let .error(e) = try codec.decode(frames) else { return XCTFail("not an ERROR") }
        XCTAssertEqual(e.code, .unknownDevice)
        XCTAssertLessThanOrEqual(e.message.utf8.count, 4096)
        XCTAssertLessThanOrEqual(e.deviceID.utf8.count, 255)
    }

    /// Re-encodes frame 1 of an encoded message after editing its protobuf header.
    func withHeaderOf<M: SwiftProtobuf.Message>(_ message: WireMessage, _ edit: (inout M) -> Void) throws -> [[UInt8]] {
        try withHeaderOf(try codec.encode(message, schema: schema), edit)
    }

    /// Re-encodes frame 1 of `frames` after editing its protobuf header.
    func withHeaderOf<M: SwiftProtobuf.Message>(_ frames: [[UInt8]], _ edit: (inout M) -> Void) throws -> [[UInt8]] {
        var h = try M(serializedBytes: frames[1])
        edit(&h)
        var f = frames
        f[1] = try h.serializedBytes()
        return f
    }
}
