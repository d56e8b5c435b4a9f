import XCTest
@testable import Wire

/// Duplicate and stale updates are refused before aggregation.
final class UpdateGateTests: XCTestCase {
    func testDuplicateIsRefusedOncePerDeviceAndRound() throws {
        var gate = UpdateGate()
        try gate.admit(deviceID: "a", round: 5, baseModelVersion: 4, currentRound: 5, currentVersion: 4)
        try gate.admit(deviceID: "b", round: 5, baseModelVersion: 4, currentRound: 5, currentVersion: 4)
        XCTAssertThrowsError(try gate.admit(deviceID: "a", round: 5, baseModelVersion: 4, currentRound: 5, currentVersion: 4)) {
            XCTAssertEqual($0 as? WireError, .duplicate(deviceID: "a", round: 5))
            XCTAssertEqual(($0 as? WireError)?.code, .duplicate)
        }
        XCTAssertTrue(gate.hasAccepted(deviceID: "a", round: 5))
    }

    func testStaleBaseVersionAndClosedRounds() throws {
        var gate = UpdateGate(maxStaleness: 1, window: 2)
        try gate.admit(deviceID: "a", round: 10, baseModelVersion: 9, currentRound: 10, currentVersion: 10)  // 1 behind: ok
        XCTAssertThrowsError(try gate.admit(deviceID: "b", round: 10, baseModelVersion: 8, currentRound: 10, currentVersion: 10)) {
            XCTAssertEqual(($0 as? WireError)?.code, .stale)
        }
        try gate.admit(deviceID: "b", round: 9, baseModelVersion: 10, currentRound: 10, currentVersion: 10)  // round 9 still open
        XCTAssertThrowsError(try gate.admit(deviceID: "c", round: 8, baseModelVersion: 10, currentRound: 10, currentVersion: 10)) {
            XCTAssertEqual(($0 as? WireError)?.code, .stale)
            XCTAssertTrue("\($0)".contains("closed"))
        }
        XCTAssertThrowsError(try gate.admit(deviceID: "c", round: 11, baseModelVersion: 10, currentRound: 10, currentVersion: 10)) {
            XCTAssertEqual(($0 as? WireError)?.code, .unexpectedMessage)
        }
        XCTAssertThrowsError(try gate.admit(deviceID: "c", round: 10, baseModelVersion: 11, currentRound: 10, currentVersion: 10)) {
            XCTAssertEqual(($0 as? WireError)?.code, .unexpectedMessage)
        }
    }

    func testMemoryIsBoundedByTheWindow() throws {
        var gate = UpdateGate(window: 3)
        for r in UInt64(1)...100 {
            try gate.admit(deviceID: "a", round: r, baseModelVersion: r, currentRound: r, currentVersion: r)
        }
        XCTAssertFalse(gate.hasAccepted(deviceID: "a", round: 97))
        XCTAssertTrue(gate.hasAccepted(deviceID: "a", round: 98))
    }

    func testGateAcceptsDecodedUpdates() throws {
        var gate = UpdateGate()
        let u = Fixtures.update()
        try gate.admit(u, currentRound: 3, currentVersion: 2)
        XCTAssertThrowsError(try gate.admit(u, currentRound: 3, currentVersion: 2))
    }
}
