@testable import Federation
import XCTest

/// The node's feature-cache budget: the most recently used devices keep their caches.
final class FeatureCacheBudgetTests: XCTestCase {
    func testTheLeastRecentlyUsedDevicesDropTheirCaches() {
        let budget = FeatureCacheBudget(limit: 3)
        XCTAssertEqual(budget.used("a"), [])
        XCTAssertEqual(budget.used("b"), [])
        XCTAssertEqual(budget.used("c"), [])
        XCTAssertEqual(budget.used("a"), [], "a used again moves to the back")
        XCTAssertEqual(budget.used("d"), ["b"], "b is now the least recently used")
        XCTAssertEqual(budget.used("e"), ["c"])
        XCTAssertEqual(budget.used("e"), [])
    }

    func testABudgetCoversFourRoundsOfSampledDevicesAndAtLeast64() {
        XCTAssertEqual(FeatureCacheBudget(devices: 5000, sampleFraction: 0.01).limit, 200)
        XCTAssertEqual(FeatureCacheBudget(devices: 8, sampleFraction: 1).limit, 64)
        XCTAssertEqual(FeatureCacheBudget(devices: 1000, sampleFraction: 0.5).limit, 2000)
    }
}
