// The membership attacks wired into a run: after the final round every device attacks the global
// and its personalised model on its own data, with the loss threshold and with LiRA (its node's
// shadow models), the coordinator records the range-checked figures, and the attacks never change
// the model (the final model is bitwise equal to a run without them) nor a device's personalised one.
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
        for model in ["global", "personal", "lira_global", "lira_personal"] {
            for figure in MetricKey.membershipFigures {
                let d = try XCTUnwrap(m.figures["\(model)_\(figure)"], "\(model)_\(figure)")
                XCTAssertEqual(d.count, 4)
                XCTAssertTrue((0...1).contains(d.mean) && (0...1).contains(d.worst))
            }
        }
        // LiRA (shadow models) beside the loss attack: every figure of every device, in [0, 1],
        // in the coordinator's ledger as received.
        for device in m.perDevice.keys {
            let values = try XCTUnwrap(with.service.ledger.membership[device])
            XCTAssertEqual(Set(values.keys), MetricKey.membershipKeys, device)
            for model in ["global", "personal"] {
                for figure in MetricKey.membershipFigures {
                    let x = try XCTUnwrap(values[MetricKey.liraMembership(model, figure)])
                    XCTAssertTrue((0...1).contains(x), "\(device) lira \(model) \(figure): \(x)")
                    XCTAssertEqual(m.perDevice[device]?["lira_\(model)_\(figure)"], x)
                }
            }
        }
        XCTAssertTrue(with.model == without.model, "the attack never changes the model")
        XCTAssertEqual(s.personalFinal, plain.personalFinal, "nor the devices' personalised models")
        XCTAssertEqual(try with.writtenSummary().membership, m)
    }
}
