// The Swift accountant against dp-accounting: every point of the committed reference grid.

import XCTest
@testable import Privacy

final class FixtureAgreementTests: XCTestCase {
    /// Tolerance on ε: 1 % relative (the brief's bound; observed agreement is far tighter).
    let epsilonRelativeTolerance = 0.01

    func testDefaultOrdersAreDpAccountings() throws {
        let fixture = try RDPFixture.load()
        XCTAssertEqual(RDPAccountant.defaultOrders, fixture.defaultOrders,
                       "default orders differ from dp-accounting \(fixture.dpAccountingVersion)'s DEFAULT_RDP_ORDERS")
    }

    func testEveryGridPointAgreesWithinOnePercent() throws {
        let fixture = try RDPFixture.load()
        XCTAssertGreaterThanOrEqual(fixture.points.count, 200, "the grid should hold the full 5×5×4×2 product")
        let accountant = RDPAccountant()
        var worst = 0.0, worstPoint = ""
        var orderMismatches: [String] = []
        for p in fixture.points {
            let got = accountant.epsilon(samplingRate: p.q, noiseMultiplier: p.z, steps: p.steps, delta: p.delta)
            let what = "q=\(p.q) z=\(p.z) T=\(p.steps) δ=\(p.delta)"
            let rel = p.epsilon == 0 ? abs(got.epsilon) : abs(got.epsilon - p.epsilon) / p.epsilon
            if rel > worst { worst = rel; worstPoint = what }
            XCTAssertLessThanOrEqual(rel, epsilonRelativeTolerance,
                                     "\(what): ε = \(got.epsilon), dp-accounting \(p.epsilon)")
            if got.order != p.order { orderMismatches.append("\(what): order \(got.order) vs \(p.order)") }
        }
        print("rdp_grid.json (dp-accounting \(fixture.dpAccountingVersion)): \(fixture.points.count) points, "
              + "worst relative ε error \(worst) at \(worstPoint); optimal-order mismatches: \(orderMismatches.count)")
        XCTAssertEqual(orderMismatches, [], "the optimal order should be dp-accounting's at every point")
    }

    func testOneStepRDPCurvesAgreeOrderByOrder() throws {
        let fixture = try RDPFixture.load()
        let accountant = RDPAccountant()
        for v in fixture.rdpVectors {
            let got = accountant.rdp(samplingRate: v.q, noiseMultiplier: v.z)
            for (k, expected) in v.rdp.enumerated() {
                let what = "q=\(v.q) z=\(v.z) α=\(accountant.orders[k])"
                guard let expected else {
                    XCTAssertEqual(got[k], .infinity, "\(what): dp-accounting drops this order (series did not converge)")
                    continue
                }
                // 1e-6 relative: both sides sum the same series in Double; libm and scipy differ in ulps.
                XCTAssertEqual(got[k], expected, accuracy: 1e-6 * abs(expected) + 1e-300, what)
            }
        }
    }
}
