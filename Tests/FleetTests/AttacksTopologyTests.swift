// The `attacks` block of a topology: `membership` and LiRA's `shadowModels` reach the federation
// configuration; a count out of range is refused at its line, naming the key and the range.
@testable import FleetKit
import Federation
import XCTest

final class AttacksTopologyTests: XCTestCase {
    let base = """
        name: t
        groups:
          - {name: g, count: 2, budget: 64KB}

        """

    func testShadowModelsDefaultAndReachTheConfiguration() throws {
        let plain = try TopologyParser.parse(base + "attacks: {membership: on}\n")
        XCTAssertTrue(plain.attacks.membership)
        XCTAssertEqual(plain.attacks.shadowModels, 4)
        let eight = try TopologyParser.parse(base + "attacks: {membership: on, shadowModels: 8}\n")
        XCTAssertEqual(FleetPlan(eight).config.attacks.shadowModels, 8)
        XCTAssertNoThrow(try FleetPlan(eight).config.validate())
    }

    func testShadowModelsOutOfRangeAreRefusedWithTheRange() {
        for (value, found) in [("1", "1 is out of range"), ("65", "65 is out of range"), ("many", "expected a whole number")] {
            XCTAssertThrowsError(try TopologyParser.parse(base + "attacks: {membership: on, shadowModels: \(value)}\n", file: "t.yaml")) { error in
                guard let e = error as? TopologyError else { return XCTFail("\(error)") }
                XCTAssertEqual(e.key, "attacks.shadowModels")
                XCTAssertTrue(e.problem.contains(found) && e.problem.contains("2...64"), e.problem)
                XCTAssertEqual(e.line, 4)
            }
        }
    }
}
