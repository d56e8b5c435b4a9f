import XCTest
@testable import Wire

/// The envelope frame: round trip, and refusal of anything not SparseFleet v1.
final class EnvelopeTests: XCTestCase {
    func testRoundTripEveryKind() throws {
        for kind in MessageKind.allCases {
            let e = Envelope(kind: kind)
            XCTAssertEqual(try Envelope.decode(e.encoded()), e)
        }
    }

    func testRejectsMalformedEnvelopes() {
        let good = Envelope(kind: .update).encoded()
        XCTAssertThrowsError(try Envelope.decode(Array(good.prefix(5))))  // truncated
        var badMagic = good; badMagic[0] = UInt8(ascii: "X")
        XCTAssertThrowsError(try Envelope.decode(badMagic))
        var badVersion = good; badVersion[4] = 99
        XCTAssertThrowsError(try Envelope.decode(badVersion)) { error in
            XCTAssertTrue("\(error)".contains("version 99"), "\(error)")
        }
        var badKind = good; badKind[6] = 200
        XCTAssertThrowsError(try Envelope.decode(badKind))
    }

    func testByteReaderNeverReadsPastEnd() {
        var r = ByteReader([1, 2, 3])
        XCTAssertThrowsError(try r.readUInt32(field: "x")) { error in
            XCTAssertEqual(error as? WireError, .truncated(field: "x", needed: 1))
        }
        XCTAssertThrowsError(try r.readBytes(Int.max, field: "huge"))
        XCTAssertEqual(try r.readUInt16(field: "y"), 0x0201)
    }
}
