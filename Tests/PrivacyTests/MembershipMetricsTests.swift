// The membership metrics: AUC against a brute-force pairwise count (ties as ½) and the trapezoid
// under the ROC curve, chance and perfect separation, and the advantage and TPR at fixed FPR on
// hand-made curves, including the edge where no threshold reaches the FPR target (TPR 0).

import XCTest
@testable import Privacy

final class MembershipMetricsTests: XCTestCase {
    /// 2·U by counting every member × non-member pair.
    func bruteForceTwiceU(_ members: [Double], _ nonMembers: [Double]) -> Int {
        var twice = 0
        for a in members { for b in nonMembers { twice += a > b ? 2 : a == b ? 1 : 0 } }
        return twice
    }

    func testAUCEqualsThePairwiseCountOnRandomDataWithTies() {
        var rng = SeededNormal(seed: 12)
        for trial in 0..<50 {
            let m = 1 + rng.int(60), n = 1 + rng.int(60)
            let levels = 1 + rng.int(25)  // few levels: many ties
            let members = (0..<m).map { _ in Double(rng.int(levels)) + (trial.isMultiple(of: 2) ? 0.5 : 0) }
            let nonMembers = (0..<n).map { _ in Double(rng.int(levels)) }
            let auc = RankAUC.auc(members: members, nonMembers: nonMembers)
            XCTAssertEqual(auc, Double(bruteForceTwiceU(members, nonMembers)) / Double(2 * m * n), "trial \(trial)")
            // The trapezoid under the ROC curve counts ties as ½ too.
            let curve = ROCCurve(members: members, nonMembers: nonMembers)
            var area = 0.0
            for (a, b) in zip(curve.points, curve.points.dropFirst()) {
                area += (curve.falsePositiveRate(b) - curve.falsePositiveRate(a))
                    * (curve.truePositiveRate(a) + curve.truePositiveRate(b)) / 2
            }
            XCTAssertEqual(area, auc, accuracy: 1e-12, "trial \(trial)")
        }
    }

    func testIdenticalDistributionsScoreChance() {
        // Same N(0, 1) for both: AUC ~ 0.5 with standard error √((m+n+1)/(12mn)) = 0.0091 for
        // 2,000 + 2,000; the tolerance is 4 standard errors (a false failure has probability 6e-5,
        // and the draws are seeded, so the outcome is fixed).
        var rng = SeededNormal(seed: 7)
        let members = (0..<2000).map { _ in rng.normal() }, nonMembers = (0..<2000).map { _ in rng.normal() }
        let metrics = MembershipMetrics(members: members, nonMembers: nonMembers)
        XCTAssertEqual(metrics.aucNullStandardError, (4001.0 / (12 * 2000 * 2000)).squareRoot(), accuracy: 1e-15)
        XCTAssertEqual(metrics.auc, 0.5, accuracy: 4 * metrics.aucNullStandardError)
        XCTAssertLessThan(metrics.advantage, 0.1, "Kolmogorov–Smirnov: max |F−G| ≈ 1.36·√(2/2000) = 0.043 at 5 %")
        XCTAssertLessThan(metrics.tprAtFPR1Percent, 0.05)
    }

    func testPerfectSeparationAndItsReverse() {
        var rng = SeededNormal(seed: 3)
        let high = (0..<100).map { _ in rng.uniform(1...2) }, low = (0..<1000).map { _ in rng.uniform(-1...0) }
        let right = MembershipMetrics(members: high, nonMembers: low)
        XCTAssertEqual(right.auc, 1)
        XCTAssertEqual(right.advantage, 1)
        XCTAssertEqual(right.tprAtFPR0_1Percent, 1)
        XCTAssertEqual(right.tprAtFPR1Percent, 1)
        let wrong = MembershipMetrics(members: low, nonMembers: high)
        XCTAssertEqual(wrong.auc, 0)
        XCTAssertEqual(wrong.advantage, 0, "the 'nobody' threshold bounds the advantage below by 0")
        XCTAssertEqual(wrong.tprAtFPR1Percent, 0)
    }

    func testHandMadeCurve() {
        // Descending: 3 m, 2.5 n, 2 m, 1 m, 0.5 n, 0 n.
        let curve = ROCCurve(members: [3, 2, 1], nonMembers: [2.5, 0.5, 0])
        XCTAssertEqual(curve.points.map(\.threshold), [nil, 3, 2.5, 2, 1, 0.5, 0])
        XCTAssertEqual(curve.points.map(\.truePositives), [0, 1, 1, 2, 3, 3, 3])
        XCTAssertEqual(curve.points.map(\.falsePositives), [0, 0, 1, 1, 1, 2, 3])
        XCTAssertEqual(curve.advantage, 2.0 / 3, accuracy: 1e-15)  // at t = 1: TPR 1, FPR 1/3
        XCTAssertEqual(curve.truePositiveRate(atFalsePositiveRate: 0), 1.0 / 3)
        XCTAssertEqual(curve.truePositiveRate(atFalsePositiveRate: 0.01), 1.0 / 3)
        XCTAssertEqual(curve.truePositiveRate(atFalsePositiveRate: 1.0 / 3), 1)
        XCTAssertEqual(RankAUC.auc(members: [3, 2, 1], nonMembers: [2.5, 0.5, 0]), 7.0 / 9)
    }

    func testTPRAtFPRTakesTheLowestThresholdWithFPRAtMostTheTarget() {
        // 1,000 non-members 0…999; members 1000.5 (above all), 998.5 and 997.5. FPR ≤ 0.1 % allows
        // one false positive (t = 998.5: TPR 2/3); Carlini et al.'s strict FPR < 0.1 % would give 1/3.
        let nonMembers = (0..<1000).map(Double.init)
        let metrics = MembershipMetrics(members: [1000.5, 998.5, 997.5], nonMembers: nonMembers)
        XCTAssertEqual(metrics.tprAtFPR0_1Percent, 2.0 / 3, accuracy: 1e-15)
        XCTAssertEqual(metrics.tprAtFPR1Percent, 1)
        XCTAssertEqual(metrics.members, 3)
        XCTAssertEqual(metrics.nonMembers, 1000)
    }

    func testNoThresholdReachesTheTargetFPR() {
        // The top score is a non-member: any threshold that admits a member has FPR ≥ 1/10 > 1 %.
        let metrics = MembershipMetrics(members: [1, 2, 3], nonMembers: [5] + Array(repeating: 0, count: 9))
        XCTAssertEqual(metrics.tprAtFPR0_1Percent, 0)
        XCTAssertEqual(metrics.tprAtFPR1Percent, 0)
        XCTAssertEqual(ROCCurve(members: [1, 2, 3], nonMembers: [5] + Array(repeating: 0, count: 9))
            .truePositiveRate(atFalsePositiveRate: 0.1), 1)
        XCTAssertEqual(metrics.advantage, 0.9, accuracy: 1e-15)
    }

    func testAllTiedIsChanceWithNoUsefulThreshold() {
        let metrics = MembershipMetrics(members: [1, 1], nonMembers: [1, 1, 1])
        XCTAssertEqual(metrics.auc, 0.5)
        XCTAssertEqual(metrics.advantage, 0)
        XCTAssertEqual(metrics.tprAtFPR1Percent, 0)
        XCTAssertEqual(ROCCurve(members: [1, 1], nonMembers: [1, 1, 1]).points.count, 2, "(0,0) and (1,1) only")
    }

    func testInfiniteScoresRank() {
        // ∞ beats −∞ and 0, 0 beats −∞, 0 ties 0: 3.5 of 4 pairs.
        XCTAssertEqual(RankAUC.auc(members: [.infinity, 0], nonMembers: [-.infinity, 0]), 0.875)
    }
}
