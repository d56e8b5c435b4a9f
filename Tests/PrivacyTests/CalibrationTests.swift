// Noise calibration: the z it returns meets the target by the same accountant and is the
// smallest that does (to its tolerance); an unreachable target is refused with the smallest ε.

import XCTest
@testable import Privacy

final class CalibrationTests: XCTestCase {
    let accountant = RDPAccountant()

    func testCalibratedNoiseMeetsTheTargetAndIsTight() throws {
        let cases: [(target: Double, q: Double, steps: Int, delta: Double)] = [
            (1.0, 0.01, 1000, 1e-5), (8.0, 0.1, 100, 1e-5), (3.0, 1, 10, 1e-6), (0.5, 0.001, 10_000, 1e-6),
        ]
        for c in cases {
            let z = try accountant.noiseMultiplier(forTargetEpsilon: c.target, samplingRate: c.q, steps: c.steps, delta: c.delta)
            let spent = accountant.epsilon(samplingRate: c.q, noiseMultiplier: z, steps: c.steps, delta: c.delta).epsilon
            XCTAssertLessThanOrEqual(spent, c.target, "z = \(z) must meet ε ≤ \(c.target)")
            // Tight: 0.1 % less noise already overspends, and ε at z is within 1 % of the target.
            let under = accountant.epsilon(samplingRate: c.q, noiseMultiplier: z * 0.999, steps: c.steps, delta: c.delta).epsilon
            XCTAssertGreaterThan(under, c.target, "z = \(z) should be (nearly) the smallest that meets \(c.target)")
            XCTAssertEqual(spent, c.target, accuracy: 0.01 * c.target, "q=\(c.q) T=\(c.steps)")
        }
    }

    func testCalibrationAgreesWithDpAccounting() throws {
        let fixture = try RDPFixture.load()
        XCTAssertFalse(fixture.calibrations.isEmpty)
        for c in fixture.calibrations {
            let z = try accountant.noiseMultiplier(forTargetEpsilon: c.targetEpsilon, samplingRate: c.q,
                                                   steps: c.steps, delta: c.delta)
            // 1e-4 relative: both search to 1e-6 (ours relative, dp-accounting's absolute in z).
            XCTAssertEqual(z, c.noiseMultiplier, accuracy: 1e-4 * c.noiseMultiplier,
                           "target ε=\(c.targetEpsilon) q=\(c.q) T=\(c.steps) δ=\(c.delta)")
        }
    }

    func testUnreachableTargetNamesTheSmallestReachableEpsilon() {
        let maxZ = 5.0
        let smallest = accountant.epsilon(samplingRate: 0.5, noiseMultiplier: maxZ, steps: 1000, delta: 1e-5).epsilon
        XCTAssertThrowsError(try accountant.noiseMultiplier(forTargetEpsilon: 0.1, samplingRate: 0.5, steps: 1000,
                                                            delta: 1e-5, maxNoiseMultiplier: maxZ)) { error in
            guard case let PrivacyAccountingError.targetUnreachable(target, reachable, z, _, _, _)? = error as? PrivacyAccountingError else {
                return XCTFail("expected targetUnreachable, got \(error)")
            }
            XCTAssertEqual(target, 0.1)
            XCTAssertEqual(reachable, smallest)
            XCTAssertEqual(z, maxZ)
            let message = "\(error)"
            XCTAssertTrue(message.contains("smallest reachable ε is \(smallest)"), message)
            XCTAssertTrue(message.contains("Raise the target"), message)
        }
    }

    func testInvalidTargetIsRefusedByName() {
        for bad in [0.0, -1, .infinity, .nan] {
            XCTAssertThrowsError(try accountant.noiseMultiplier(forTargetEpsilon: bad, samplingRate: 0.1, steps: 10, delta: 1e-5)) { error in
                XCTAssertTrue("\(error)".contains("target epsilon"), "\(error)")
            }
        }
    }
}
