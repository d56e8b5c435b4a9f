// The summary of one membership-inference evaluation: AUC, membership advantage and the TPR at
// 0.1 % and 1 % FPR, from member and non-member scores (higher = more likely a member).
//
// References:
// - Mann & Whitney 1947 / Hanley & McNeil 1982 for the AUC (RankAUC.swift).
// - Yeom et al., CSF 2018, for the membership advantage (ROCCurve.swift).
// - Carlini et al., IEEE S&P 2022, for TPR at low FPR (ROCCurve.swift says how it is read:
//   the largest TPR of a threshold with FPR ≤ the target, no interpolation).

/// How well membership scores tell members from non-members.
public struct MembershipMetrics: Sendable, Equatable, Codable {
    /// ROC AUC with ties as one half (0.5 is chance).
    public var auc: Double
    /// max over thresholds of TPR − FPR (Yeom et al.'s membership advantage of the best threshold).
    public var advantage: Double
    /// TPR at FPR ≤ 0.1 % (0 with fewer than 1,000 non-members unless a threshold has no false positive).
    public var tprAtFPR0_1Percent: Double
    /// TPR at FPR ≤ 1 %.
    public var tprAtFPR1Percent: Double
    /// Number of member scores.
    public var members: Int
    /// Number of non-member scores.
    public var nonMembers: Int

    /// The metrics of `members` against `nonMembers` (each non-empty, no NaN).
    public init(members: [Double], nonMembers: [Double]) {
        let curve = ROCCurve(members: members, nonMembers: nonMembers)
        auc = RankAUC.auc(members: members, nonMembers: nonMembers)
        advantage = curve.advantage
        tprAtFPR0_1Percent = curve.truePositiveRate(atFalsePositiveRate: 0.001)
        tprAtFPR1Percent = curve.truePositiveRate(atFalsePositiveRate: 0.01)
        self.members = members.count
        self.nonMembers = nonMembers.count
    }

    /// The AUC's standard error under "no leak" for these counts (RankAUC.nullStandardError).
    public var aucNullStandardError: Double {
        RankAUC.nullStandardError(members: members, nonMembers: nonMembers)
    }
}
