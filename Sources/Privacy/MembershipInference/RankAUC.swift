// The ROC AUC of a membership attack as the Mann–Whitney U statistic: the probability that a
// random member scores higher than a random non-member, ties counted as one half. Exact: it is
// computed from integer counts (2U is an integer), then divided once.
//
// References:
// - H. B. Mann, D. R. Whitney, "On a Test of Whether one of Two Random Variables is Stochastically
//   Larger than the Other", Ann. Math. Statist. 18 (1947): U and its null variance
//   m·n·(m + n + 1)/12 (without tie correction).
// - J. A. Hanley, B. J. McNeil, "The Meaning and Use of the Area under a Receiver Operating
//   Characteristic (ROC) Curve", Radiology 143 (1982): AUC = U/(m·n).

/// The area under the ROC curve of membership scores (higher = more likely a member).
public enum RankAUC {
    /// AUC = P(member score > non-member score) + ½·P(equal), over all member × non-member pairs.
    /// 1 separates perfectly, 0.5 is chance, 0 separates perfectly the wrong way round.
    /// ±∞ are allowed; NaN is refused.
    public static func auc(members: [Double], nonMembers: [Double]) -> Double {
        precondition(!members.isEmpty && !nonMembers.isEmpty,
                     "RankAUC: needs at least one member and one non-member score (got \(members.count) and \(nonMembers.count))")
        precondition(!members.contains(where: \.isNaN) && !nonMembers.contains(where: \.isNaN), "RankAUC: scores must not be NaN")
        let m = members.sorted(), n = nonMembers.sorted()
        // Walk both sorted lists by tie group: a members and b non-members share a value, with
        // `below` non-members strictly lower; the group adds a·below + a·b/2 to U.
        var twiceU = 0, i = 0, j = 0
        while i < m.count {
            let value = m[i]
            while j < n.count && n[j] < value { j += 1 }
            let below = j
            var b = 0
            while j + b < n.count && n[j + b] == value { b += 1 }
            var a = 0
            while i + a < m.count && m[i + a] == value { a += 1 }
            twiceU += a * (2 * below + b)
            i += a
        }
        return Double(twiceU) / (2 * Double(m.count) * Double(n.count))
    }

    /// The standard error of the AUC when members and non-members come from the same continuous
    /// distribution (no leak): √((m + n + 1)/(12·m·n)). A test of "AUC ≈ 0.5" should allow a few
    /// of these.
    public static func nullStandardError(members m: Int, nonMembers n: Int) -> Double {
        precondition(m > 0 && n > 0, "RankAUC.nullStandardError: needs m, n > 0 (got \(m), \(n))")
        let dm = Double(m), dn = Double(n)
        return ((dm + dn + 1) / (12 * dm * dn)).squareRoot()
    }
}
