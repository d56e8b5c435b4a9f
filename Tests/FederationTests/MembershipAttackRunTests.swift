// The membership attack wired into a run: after the final round every device attacks the global
// and its personalised model on its own data, the coordinator records the range-checked figures,
// and the attack never changes the model (the final model is bitwise equal to a run without it).
@testable import Federation
import Foundation
import Wire
import XCTest

final class MembershipAttackRunTests: XCTestCase {
    func run(_ name: String, attack: Bool) throws -> (InProcessFleet, RunSummary) {
        var c = InProcessFleet.config(rounds: 2)
        c.attacks.membership = attack
        c.personalisation.personal = .head
        let fleet = try InProcessFleet(name, config: c)
        fleet.startCoordinator()
        for n in InProcessFleet.honestNodes + [("rogue", [InProcessFleet.rogueDevice])] { try fleet.startNode(n.name, devices: n.devices) }
        return (fleet, try fleet.wait())
    }

    func testEveryDeviceReportsTheAttackAndTheModelIsUntouched() throws {
        let (with, s) = try run("mia-on", attack: true)
        let (without, plain) = try run("mia-off", attack: false)
        XCTAssertNil(plain.membership)
        let m = try XCTUnwrap(s.membership)
        XCTAssertEqual(Set(m.perDevice.keys), ["dev-0", "dev-1", "dev-2", InProcessFleet.rogueDevice])
        for model in ["global", "personal"] {
            for figure in MetricKey.membershipFigures {
                let d = try XCTUnwrap(m.figures["\(model)_\(figure)"], "\(model)_\(figure)")
                XCTAssertEqual(d.count, 4)
                XCTAssertTrue((0...1).contains(d.mean) && (0...1).contains(d.worst))
            }
        }
        XCTAssertTrue(with.model == without.model, "the attack never changes the model")
        XCTAssertEqual(s.personalFinal, plain.personalFinal, "nor the devices' personalised models")
        XCTAssertEqual(try with.writtenSummary().membership, m)
    }
}
