import XCTest
@testable import Engine

/// Ditto's personal copy in the memory plan: what it holds, and that it adds exactly its size.
final class PersonalCopyMemoryTests: XCTestCase {
    func testThePersonalCopyHoldsEverythingTheDeviceCanUpdateAndAddsExactlyItsSize() {
        let arch = EfficientNetLite.lite0(classes: 10)
        let n = arch.units.count
        let head = n - 1, project = n - 2
        let plan = UpdatePlan(biasUnits: [head, project], weightChannels: [head: [0, 1, 2], project: [5]], trainClassifier: true)
        // DGSU may update every channel of its update layers over a run: all of them are candidates.
        let candidates = [head: arch.units[head].inChannels, project: arch.units[project].inChannels]
        for precision in Precision.allCases {
            let plain = MemoryOptions(precision: precision)
            var ditto = plain
            ditto.personalCopy = true
            let w = plain.weightBytes, b = plain.biasBytes
            let byHand = [head, project].reduce(0) { $0 + arch.units[$1].outChannels * arch.units[$1].inChannels * w + arch.units[$1].outChannels * b }
                + arch.classes * arch.features * w + arch.classes * b
            XCTAssertEqual(StepBuffers.personalCopyBytes(arch, plan: plan, options: ditto, candidateChannels: candidates), byHand, "\(precision)")
            let a = MemoryPlanner.plan(arch, plan: plan, height: 64, width: 64, options: plain, candidateChannels: candidates)
            let c = MemoryPlanner.plan(arch, plan: plan, height: 64, width: 64, options: ditto, candidateChannels: candidates)
            XCTAssertEqual(c.peak - a.peak, byHand, "\(precision): the copy is held for the whole step, so the peak rises by its size")
            XCTAssertEqual(c.peakBreakdown[BufferKind.weights.rawValue, default: 0] - a.peakBreakdown[BufferKind.weights.rawValue, default: 0], byHand)
            // One named buffer, refused with the rest of the step when the budget cannot hold both.
            let labels = StepBuffers.schedule(arch, plan: plan, height: 64, width: 64, options: ditto, candidateChannels: candidates).buffers.map { $0.role.label(arch) }
            XCTAssertEqual(labels.filter { $0 == "personal model copy (Ditto)" }.count, 1)
            let refused = MemoryPlanner.plan(arch, plan: plan, height: 64, width: 64, options: ditto, candidateChannels: candidates, budget: a.peak)
            XCTAssertEqual(refused.overflow?.needed, c.peak, "\(precision): the step that fits without the copy is refused with it")
        }
    }
}
