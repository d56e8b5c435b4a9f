// The attacks: the normal tail and the logit scaling against scipy 1.17.1 values, the loss
// attack's sign, LiRA offline on synthetic Gaussian shadows (a member shift is found, no shift is
// chance, calibration beats the raw confidence when examples differ in difficulty, global
// variance), and the difficulty-calibrated loss.

import Foundation
import XCTest
@testable import Privacy

final class MembershipAttackTests: XCTestCase {
    func testLogSurvivalAgreesWithScipy() {
        // scipy.stats.norm.logsf, scipy 1.17.1.
        let reference: [(Double, Double)] = [
            (1, -1.8410216450092634), (-1, -0.1727537790234499), (5, -15.064998393988727),
            (-8, -6.220960574271742e-16), (-3, -0.0013508099647481925), (20, -203.9171553710973),
            (30, -454.32124395634327), (40, -804.6084420137539),
        ]
        for (z, expected) in reference {
            XCTAssertEqual(StandardNormal.logSurvival(z), expected, accuracy: abs(expected) * 1e-12, "z = \(z)")
        }
        XCTAssertEqual(StandardNormal.logSurvival(0), log(0.5), accuracy: 1e-16)
        XCTAssertEqual(StandardNormal.logSurvival(.infinity), -.infinity)
        XCTAssertEqual(StandardNormal.logSurvival(-.infinity), 0)
        // Strictly decreasing across the switch to the asymptotic series (z/√2 = 25).
        var previous = StandardNormal.logSurvival(34)
        for step in 1...400 {
            let value = StandardNormal.logSurvival(34 + Double(step) * 0.01)
            XCTAssertLessThan(value, previous)
            previous = value
        }
    }

    func testLogitScalingClampsBothEnds() {
        XCTAssertEqual(LogitScaledConfidence.phi(0.5), 0)
        XCTAssertEqual(LogitScaledConfidence.phi(0.9), log(9), accuracy: 1e-14)
        // log((1 − 1e-12)/1e-12) = 27.63102111592755 (Python's math.log(1e-12) − math.log1p(−1e-12), negated).
        XCTAssertEqual(LogitScaledConfidence.maximum, 27.63102111592755, accuracy: 1e-13)
        XCTAssertEqual(LogitScaledConfidence.phi(1), LogitScaledConfidence.maximum)
        XCTAssertEqual(LogitScaledConfidence.phi(0), -LogitScaledConfidence.maximum)
        XCTAssertEqual(LogitScaledConfidence.phi(1e-300), LogitScaledConfidence.phi(0))
        XCTAssertEqual(LogitScaledConfidence.phi(1 - 1e-15), LogitScaledConfidence.maximum)
        XCTAssertEqual(LogitScaledConfidence.phi(1e-6), -LogitScaledConfidence.phi(1 - 1e-6), accuracy: 1e-9)
    }

    func testLossAttackScoresLowLossHigh() {
        XCTAssertEqual(LossThresholdAttack.scores(losses: [0.1, 2, .infinity]), [-0.1, -2, -.infinity])
        let metrics = LossThresholdAttack.metrics(memberLosses: [0.01, 0.02, 0.5], nonMemberLosses: [0.3, 1, 2])
        XCTAssertEqual(metrics.auc, 8.0 / 9, accuracy: 1e-15)
    }

    func testLiRAKnownValue() {
        // OUT φ 0 and 2: μ = 1, σ = √2 (n − 1); φ_target = 1 + √2 is z = 1.
        let score = LiRAOffline().details(targetPhi: [1 + 2.0.squareRoot()], outPhi: [[0, 2]])[0]
        XCTAssertEqual(score.mean, 1)
        XCTAssertEqual(score.standardDeviation, 2.0.squareRoot(), accuracy: 1e-15)
        XCTAssertEqual(score.z, 1, accuracy: 1e-15)
        XCTAssertEqual(score.logPValue, -1.8410216450092634, accuracy: 1e-14)
        XCTAssertEqual(score.membershipScore, 1.8410216450092634, accuracy: 1e-14)
        // From confidences: φ(0.5) = 0, φ(0.9) = log 9.
        let fromP = LiRAOffline().details(targetConfidences: [0.9], outConfidences: [[0.5, 0.9]])[0]
        XCTAssertEqual(fromP.mean, log(9) / 2, accuracy: 1e-14)
        XCTAssertEqual(fromP.z, (log(9) / 2) / (log(9) / 2.0.squareRoot()), accuracy: 1e-12)
        // Identical OUT values: σ is floored instead of dividing by zero.
        let flat = LiRAOffline(minimumStandardDeviation: 0.5).details(targetPhi: [2], outPhi: [[1, 1, 1]])[0]
        XCTAssertEqual(flat.standardDeviation, 0.5)
        XCTAssertEqual(flat.z, 2)
    }

    /// A synthetic population: example i has difficulty μᵢ ~ N(0, 2²) and shadow spread
    /// σᵢ ~ U(0.5, 1.5); its OUT φ are N(μᵢ, σᵢ²); a member's target φ is shifted by `shift`·σᵢ.
    struct Population {
        var targetPhi: [Double] = [], outPhi: [[Double]] = [], isMember: [Bool] = []

        init(examples: Int, shadows: Int, shift: Double, seed: UInt64) {
            var rng = SeededNormal(seed: seed)
            for i in 0..<examples {
                let mu = rng.normal(sd: 2), sigma = rng.uniform(0.5...1.5)
                let member = i.isMultiple(of: 2)
                outPhi.append((0..<shadows).map { _ in rng.normal(mean: mu, sd: sigma) })
                targetPhi.append(rng.normal(mean: mu + (member ? shift * sigma : 0), sd: sigma))
                isMember.append(member)
            }
        }

        func metrics(_ scores: [Double]) -> MembershipMetrics {
            MembershipMetrics(members: zip(scores, isMember).filter { $0.1 }.map(\.0),
                              nonMembers: zip(scores, isMember).filter { !$0.1 }.map(\.0))
        }
    }

    func testLiRAFindsShiftedMembersAndBeatsTheRawConfidence() {
        // Shift 2σ: with known μ, σ the test statistic z is N(2, 1) against N(0, 1), AUC Φ(2/√2) =
        // 0.92; estimating them from 8 shadows costs a little.
        let population = Population(examples: 1000, shadows: 8, shift: 2, seed: 21)
        let lira = population.metrics(LiRAOffline().details(targetPhi: population.targetPhi, outPhi: population.outPhi).map(\.membershipScore))
        let raw = population.metrics(population.targetPhi)  // uncalibrated: φ itself (≈ −loss)
        XCTAssertGreaterThan(lira.auc, 0.85)
        XCTAssertGreaterThan(lira.auc, raw.auc + 0.1, "per-example calibration removes the difficulty spread (raw AUC ≈ Φ(2σ/√(2(4+σ²))) ≈ 0.74)")
        XCTAssertGreaterThan(lira.tprAtFPR1Percent, raw.tprAtFPR1Percent)
        // Confidences in, same ranking as φ in (p = sigmoid(φ), far inside the clamp here).
        let p = population.targetPhi.map { 1 / (1 + exp(-$0)) }
        let outP = population.outPhi.map { $0.map { 1 / (1 + exp(-$0)) } }
        let fromP = population.metrics(LiRAOffline().scores(targetConfidences: p, outConfidences: outP))
        XCTAssertEqual(fromP.auc, lira.auc, accuracy: 0.005)
    }

    func testLiRAWithoutShiftIsChance() {
        // 500 + 500: null standard error 0.0183; tolerance 4 of them.
        let population = Population(examples: 1000, shadows: 8, shift: 0, seed: 22)
        let metrics = population.metrics(LiRAOffline().scores(targetConfidences: population.targetPhi.map { 1 / (1 + exp(-$0)) },
                                                              outConfidences: population.outPhi.map { $0.map { 1 / (1 + exp(-$0)) } }))
        XCTAssertEqual(metrics.auc, 0.5, accuracy: 4 * metrics.aucNullStandardError)
    }

    func testGlobalVarianceWorksWithFewShadows() {
        let population = Population(examples: 1000, shadows: 2, shift: 2, seed: 23)
        let global = population.metrics(LiRAOffline(variance: .global).details(targetPhi: population.targetPhi, outPhi: population.outPhi).map(\.membershipScore))
        XCTAssertGreaterThan(global.auc, 0.8)
        // One shadow per example is enough under a global variance if some example has two.
        let outPhi = [[0.0, 2.0], [5.0], [-3.0]]
        let scores = LiRAOffline(variance: .global).details(targetPhi: [1, 5, -1], outPhi: outPhi)
        XCTAssertEqual(scores.map(\.standardDeviation), Array(repeating: 2.0.squareRoot(), count: 3))
        XCTAssertEqual(scores.map(\.mean), [1, 5, -3])
        XCTAssertEqual(scores[2].z, 2 / 2.0.squareRoot(), accuracy: 1e-15)
    }

    func testLiRAMetricsPoolOneVarianceOverMembersAndNonMembers() {
        // OUT φ: the member's [−0.5, 1.5] (squares 2), the non-members' [0.2, 0.2] and [0.4, 0.4]
        // (squares 0): one σ² = 2/3 for all three, z = 1.22 (member), 0 and 0.61: the member wins.
        // Tested apart, the non-members' σ would be the floor and their z = 0.5/1e-6 would win.
        let p = { (phi: Double) in 1 / (1 + exp(-phi)) }
        let lira = LiRAOffline(variance: .global)
        let memberOut = [[-0.5, 1.5].map(p)], nonMemberOut = [[0.2, 0.2].map(p), [0.4, 0.4].map(p)]
        let m = lira.metrics(members: [p(1.5)], memberOut: memberOut, nonMembers: [p(0.2), p(0.9)], nonMemberOut: nonMemberOut)
        let details = lira.details(targetConfidences: [p(1.5), p(0.2), p(0.9)], outConfidences: memberOut + nonMemberOut)
        XCTAssertEqual(details[0].standardDeviation, (2.0 / 3).squareRoot(), accuracy: 1e-9)
        XCTAssertEqual(details[0].z, 1 / (2.0 / 3).squareRoot(), accuracy: 1e-9)
        XCTAssertEqual(m, MembershipMetrics(members: [details[0].membershipScore], nonMembers: details[1...].map(\.membershipScore)))
        XCTAssertEqual(m.auc, 1)
        let apart = MembershipMetrics(members: lira.scores(targetConfidences: [p(1.5)], outConfidences: memberOut),
                                      nonMembers: lira.scores(targetConfidences: [p(0.2), p(0.9)], outConfidences: nonMemberOut))
        XCTAssertEqual(apart.auc, 0.5, "what pooling avoids")
    }

    func testDifficultyCalibrationSubtractsTheReferenceMean() {
        let scores = DifficultyCalibratedAttack.scores(targetLosses: [0.1, 2.0], referenceLosses: [[0.1, 0.3], [4, 2, 3]])
        XCTAssertEqual(scores[0], 0.1, accuracy: 1e-15)  // −(0.1 − 0.2)
        XCTAssertEqual(scores[1], 1.0, accuracy: 1e-15)  // −(2 − 3)
        // On the synthetic population (losses ≈ −φ), calibration beats the raw loss.
        let population = Population(examples: 1000, shadows: 8, shift: 2, seed: 24)
        let calibrated = population.metrics(DifficultyCalibratedAttack.scores(targetLosses: population.targetPhi.map { -$0 },
                                                                              referenceLosses: population.outPhi.map { $0.map { -$0 } }))
        let raw = population.metrics(LossThresholdAttack.scores(losses: population.targetPhi.map { -$0 }))
        XCTAssertGreaterThan(calibrated.auc, raw.auc + 0.05)
    }
}
