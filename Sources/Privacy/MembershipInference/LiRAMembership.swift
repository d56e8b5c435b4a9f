// LiRA offline as a membership evaluation: members and non-members are tested in one pass, so
// that under a global variance they share one σ_out pooled over all of them (testing them apart
// would give each group its own σ, and the scores of the two groups would not be comparable).
//
// Reference: N. Carlini et al., "Membership Inference Attacks From First Principles", IEEE S&P
// 2022 (arXiv:2112.03570).

extension LiRAOffline {
    /// The membership metrics from true-class probabilities: `members[i]` / `nonMembers[i]` under
    /// the attacked model, `memberOut[i]` / `nonMemberOut[i]` under the OUT shadow models.
    public func metrics(members: [Double], memberOut: [[Double]], nonMembers: [Double], nonMemberOut: [[Double]]) -> MembershipMetrics {
        precondition(members.count == memberOut.count && nonMembers.count == nonMemberOut.count,
                     "LiRAOffline: \(members.count) members with \(memberOut.count) OUT lists, \(nonMembers.count) non-members with \(nonMemberOut.count)")
        let s = scores(targetConfidences: members + nonMembers, outConfidences: memberOut + nonMemberOut)
        return MembershipMetrics(members: Array(s[..<members.count]), nonMembers: Array(s[members.count...]))
    }
}
