// Explicit layouts (tiny-training style): the named layers at their ratios, the last n biases;
// refused by name, by range, and by budget, with the planner's figures.
@testable import Engine
import XCTest

final class ExplicitLayoutTests: XCTestCase {
    let arch = MobileNetV2.tiny()

    func testTheNamedLayersTrainAtTheirRatiosAndTheLastBiases() throws {
        let names = arch.units.filter(\.isPointwise).suffix(2).map(\.name)
        let e = ExplicitLayout(weights: [names[0]: 0.5, names[1]: 0.25], biasLayers: 3)
        let layout = try e.layout(arch)
        let n = arch.units.count
        XCTAssertEqual(layout.biasUnits, Array((n - 3)..<n))
        for (name, ratio) in [(names[0], 0.5), (names[1], 0.25)] {
            let u = arch.units.firstIndex { $0.name == name }!
            XCTAssertEqual(layout.weightChannels[u], max(1, Int((Double(arch.units[u].inChannels) * ratio).rounded())), name)
        }
        XCTAssertEqual(layout.weightChannels.count, 2)
        XCTAssertTrue(layout.trainClassifier)
        XCTAssertNil(layout.problem(for: arch))
        // Through the search options, within a budget that holds it.
        let fitted = try LayoutSearch.fit(arch, budget: 4 << 20, height: 16, width: 16, options: LayoutSearchOptions(explicit: e))
        XCTAssertEqual(fitted, layout, "an explicit layout replaces the search")
    }

    func testRefusalsNameTheLayerTheRangeOrTheBudget() throws {
        XCTAssertThrowsError(try ExplicitLayout(weights: ["conv99": 0.5], biasLayers: 0).layout(arch)) {
            XCTAssertTrue("\($0)".contains("'conv99' is not a conv"), "\($0)")
        }
        let name = arch.units.filter(\.isPointwise).last!.name
        XCTAssertThrowsError(try ExplicitLayout(weights: [name: 1.5], biasLayers: 0).layout(arch)) { XCTAssertTrue("\($0)".contains("(0, 1]"), "\($0)") }
        XCTAssertThrowsError(try ExplicitLayout(weights: [:], biasLayers: 999).layout(arch)) { XCTAssertTrue("\($0)".contains("biasLayers"), "\($0)") }
        let e = ExplicitLayout(weights: [name: 1], biasLayers: arch.units.count)
        let peak = LayoutSearch.report(try e.layout(arch), arch: arch, height: 16, width: 16, memory: MemoryOptions(), dynamic: true).peak
        XCTAssertNoThrow(try LayoutSearch.fit(arch, budget: peak, height: 16, width: 16, options: LayoutSearchOptions(explicit: e)), "exactly at the peak fits")
        XCTAssertThrowsError(try LayoutSearch.fit(arch, budget: peak - 1, height: 16, width: 16, options: LayoutSearchOptions(explicit: e))) {
            XCTAssertTrue("\($0)".contains("over the \(peak - 1)-byte budget by 1 B"), "\($0)")
        }
    }
}
