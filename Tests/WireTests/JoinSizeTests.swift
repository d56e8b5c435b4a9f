// A node process of a huge fleet names thousands of devices in its JOIN: the wire carries a
// half of 10,000 devices, and still refuses a count past its limit by name.
import XCTest

@testable import Wire

final class JoinSizeTests: XCTestCase {
    func join(_ n: Int) -> PBJoin {
        var j = PBJoin()
        j.nodeName = "node-1"
        j.devices = (0..<n).map { var d = PBDeviceInfo(); d.deviceID = "mcu-\($0)"; d.shardSize = 5; d.memoryBudgetBytes = 262_144; return d }
        j.heartbeatIntervalMs = 1000
        return j
    }

    func testAJoinOfFiveThousandDevicesRoundTrips() throws {
        let codec = WireCodec()
        let frames = try codec.encode(.join(join(5000)))
        guard case let .join(back) = try codec.decode(frames) else { return XCTFail("not a JOIN") }
        XCTAssertEqual(back.devices.count, 5000)
        XCTAssertEqual(back.devices.last?.deviceID, "mcu-4999")
    }

    func testAJoinPastTheLimitIsRefusedByName() throws {
        var limits = WireLimits.default
        limits.maxJoinDevices = 100
        let codec = WireCodec(limits: limits)
        XCTAssertThrowsError(try codec.encode(.join(join(101)))) { e in
            XCTAssertTrue("\(e)".contains("Join.devices count"), "\(e)")
        }
        let frames = try WireCodec().encode(.join(join(101)))
        XCTAssertThrowsError(try codec.decode(frames)) { e in
            XCTAssertTrue("\(e)".contains("Join.devices count"), "\(e)")
        }
    }
}
