// Edges and shape of the accountant: q = 1 is the plain Gaussian, z = 0 is ∞, ε grows with T
// and q and falls with z, long runs stay finite, and round-by-round equals all at once.

import XCTest
@testable import Privacy

final class AccountantEdgeTests: XCTestCase {
    let accountant = RDPAccountant()

    func testFullSamplingIsThePlainGaussian() {
        for z in [0.5, 1.0, 3.0] {
            let curve = accountant.rdp(samplingRate: 1, noiseMultiplier: z)
            for (alpha, r) in zip(accountant.orders, curve) {
                XCTAssertEqual(r, alpha / (2 * z * z), accuracy: 1e-12 * r, "α/(2z²) at α=\(alpha) z=\(z)")
            }
            // ε by hand: min over orders of T·α/(2z²) + log(1 − 1/α) − log(δα)/(α − 1).
            let t = 10.0, delta = 1e-5
            let byHand = accountant.orders.map { a in
                t * a / (2 * z * z) + log1p(-1 / a) - log(delta * a) / (a - 1)
            }.min()!
            let got = accountant.epsilon(samplingRate: 1, noiseMultiplier: z, steps: 10, delta: delta)
            XCTAssertEqual(got.epsilon, byHand, accuracy: 1e-12 * byHand, "z=\(z)")
        }
    }

    func testZeroNoiseIsInfiniteEpsilon() {
        let got = accountant.epsilon(samplingRate: 0.01, noiseMultiplier: 0, steps: 1, delta: 1e-5)
        XCTAssertEqual(got.epsilon, .infinity)
        XCTAssertEqual(accountant.epsilon(samplingRate: 1, noiseMultiplier: 0, steps: 5, delta: 1e-5).epsilon, .infinity)
    }

    func testNothingSpentWithoutRoundsOrSampling() {
        XCTAssertEqual(accountant.epsilon(samplingRate: 0.1, noiseMultiplier: 1, steps: 0, delta: 1e-5).epsilon, 0)
        XCTAssertEqual(accountant.epsilon(samplingRate: 0, noiseMultiplier: 1, steps: 100, delta: 1e-5).epsilon, 0)
        XCTAssertEqual(accountant.epsilon(samplingRate: 0.1, noiseMultiplier: 0, steps: 0, delta: 1e-5).epsilon, 0)
    }

    func testEpsilonGrowsWithRoundsAndSamplingRateAndFallsWithNoise() {
        let delta = 1e-5
        let byT = [1, 10, 100, 1000, 10_000].map {
            accountant.epsilon(samplingRate: 0.01, noiseMultiplier: 1, steps: $0, delta: delta).epsilon
        }
        XCTAssertEqual(byT, byT.sorted(), "ε must grow with T: \(byT)")
        XCTAssertEqual(Set(byT).count, byT.count, "ε must strictly grow with T: \(byT)")
        let byQ = [0.001, 0.01, 0.1, 0.5, 1].map {
            accountant.epsilon(samplingRate: $0, noiseMultiplier: 1, steps: 100, delta: delta).epsilon
        }
        XCTAssertEqual(byQ, byQ.sorted(), "ε must grow with q: \(byQ)")
        XCTAssertEqual(Set(byQ).count, byQ.count, "ε must strictly grow with q: \(byQ)")
        let byZ = [0.3, 0.5, 1, 2, 5, 20, 100].map {
            accountant.epsilon(samplingRate: 0.1, noiseMultiplier: $0, steps: 100, delta: delta).epsilon
        }
        XCTAssertEqual(byZ, byZ.sorted(by: >), "ε must fall as z grows: \(byZ)")
        XCTAssertEqual(Set(byZ).count, byZ.count, "ε must strictly fall as z grows: \(byZ)")
        let byDelta = [1e-3, 1e-5, 1e-7, 1e-9].map {
            accountant.epsilon(samplingRate: 0.1, noiseMultiplier: 1, steps: 100, delta: $0).epsilon
        }
        XCTAssertEqual(byDelta, byDelta.sorted(), "ε must grow as δ shrinks: \(byDelta)")
    }

    func testMillionRoundsStayFiniteAcrossTheRange() {
        for q in [1e-4, 0.01, 0.5, 1] {
            for z in [0.3, 1, 100] {
                let got = accountant.epsilon(samplingRate: q, noiseMultiplier: z, steps: 1_000_000, delta: 1e-6)
                XCTAssertTrue(got.epsilon.isFinite && got.epsilon >= 0, "q=\(q) z=\(z): ε = \(got.epsilon)")
                for r in accountant.rdp(samplingRate: q, noiseMultiplier: z) {
                    XCTAssertFalse(r.isNaN, "q=\(q) z=\(z): NaN RDP")
                }
            }
        }
    }

    func testRoundByRoundEqualsAllAtOnce() {
        let delta = 1e-5
        var ledger = PrivacyLedger(accountant: accountant)
        XCTAssertEqual(ledger.epsilon(delta: delta).epsilon, 0, "nothing spent before the first round")
        let each = accountant.epsilonAfterEachRound(samplingRate: 0.05, noiseMultiplier: 1.1, rounds: 50, delta: delta)
        XCTAssertEqual(each.count, 50)
        var previous = 0.0
        for round in 1...50 {
            ledger.record(samplingRate: 0.05, noiseMultiplier: 1.1)
            let running = ledger.epsilon(delta: delta)
            let once = accountant.epsilon(samplingRate: 0.05, noiseMultiplier: 1.1, steps: round, delta: delta)
            XCTAssertEqual(running.epsilon, once.epsilon, accuracy: 1e-9 * once.epsilon, "round \(round)")
            XCTAssertEqual(each[round - 1].epsilon, once.epsilon, accuracy: 1e-12 * once.epsilon, "round \(round)")
            XCTAssertGreaterThan(running.epsilon, previous, "round \(round) must spend more")
            previous = running.epsilon
        }
        XCTAssertEqual(ledger.rounds, 50)
    }

    func testHeterogeneousRoundsAddTheirCurves() {
        var ledger = PrivacyLedger()
        ledger.record(samplingRate: 0.1, noiseMultiplier: 1, steps: 20)
        ledger.record(samplingRate: 0.02, noiseMultiplier: 2)
        let a = accountant.rdp(samplingRate: 0.1, noiseMultiplier: 1), b = accountant.rdp(samplingRate: 0.02, noiseMultiplier: 2)
        let sum = zip(a, b).map { 20 * $0 + $1 }
        XCTAssertEqual(ledger.rdp, sum)
        XCTAssertEqual(ledger.rounds, 21)
        XCTAssertEqual(ledger.epsilon(delta: 1e-5).epsilon, accountant.epsilon(rdp: sum, delta: 1e-5).epsilon)
    }

    func testLogErfcIsContinuousIntoTheAsymptoticTail() {
        let edge = LogSpace.erfcTailStart
        let below = log(erfc(edge - 1e-9)), above = LogSpace.logErfc(edge + 1e-9)
        XCTAssertEqual(below, above, accuracy: 1e-6, "direct and asymptotic log erfc must meet at x = \(edge)")
        // Far tail, where erfc underflows Double: references from mpmath at 40 digits, to 1e-14 relative.
        let reference: [(x: Double, logErfc: Double)] = [
            (25, -628.7920391740716853686961), (30, -903.9741171106438780796002),
            (100, -10005.17758512266433257047), (1000, -1000007.480120721906212141),
        ]
        for r in reference {
            XCTAssertEqual(LogSpace.logErfc(r.x), r.logErfc, accuracy: 1e-14 * abs(r.logErfc), "log erfc(\(r.x))")
        }
    }
}
