import XCTest
@testable import Engine

/// The coordinated channel schedule covers every channel, without overlap inside a round.
final class CoordinatedScheduleTests: XCTestCase {
    let arch = EfficientNetLite.lite0(classes: 10)

    func testDisjointWithinARoundAndCoveringWithinThePredictedRounds() {
        let layout = SparseLayout(biasUnits: [47, 48], weightChannels: [47: 144, 48: 40])
        let schedule = CoordinatedSchedule(layout: layout, arch: arch, seed: 7)
        let devices = (0..<4).map { "dev-\($0)" }
        let rounds = schedule.roundsToCover(devices: devices.count)
        XCTAssertEqual(rounds, 2, "1152/144 = 8 blocks over 4 devices; 320/40 = 8 blocks")
        var seen: [Int: Set<Int32>] = [:]
        for r in 0..<rounds {
            let a = schedule.assign(round: r, devices: devices.shuffled())
            for u in [47, 48] {
                var inRound = Set<Int32>()
                for d in devices {
                    let chans = a[d]![u]!
                    XCTAssertEqual(chans.count, layout.weightChannels[u]!)
                    XCTAssertTrue(inRound.isDisjoint(with: chans), "devices of one round get disjoint channels")
                    inRound.formUnion(chans)
                }
                seen[u, default: []].formUnion(inRound)
            }
        }
        XCTAssertEqual(seen[47]!.count, 1152)
        XCTAssertEqual(seen[48]!.count, 320)
        XCTAssertEqual(schedule.assign(round: 3, devices: devices), schedule.assign(round: 3, devices: devices.reversed()),
                       "the assignment depends on the sampled set, not on its order")
    }

    func testAssignedPolicyTrainsExactlyTheAssignment() {
        let layout = SparseLayout(biasUnits: [48], weightChannels: [48: 3])
        var p = AssignedPolicy(layout: layout, assignment: [48: [2, 9, 100]])
        let plan = p.nextPlan()
        XCTAssertEqual(plan.weightChannels[48], [2, 9, 100])
        XCTAssertEqual(plan.biasUnits, [48])
        XCTAssertEqual(plan.updatedValues(arch), layout.valuesPerStep(arch))
    }
}
