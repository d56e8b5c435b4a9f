// The ROC curve of a threshold attack "member if score ≥ t", swept over every distinct score, and
// the two numbers read from it: the membership advantage max(TPR − FPR) and the TPR at a fixed
// low FPR.
//
// References:
// - S. Yeom, I. Giacomelli, M. Fredrikson, S. Jha, "Privacy Risk in Machine Learning: Analyzing
//   the Connection to Overfitting", CSF 2018: the membership advantage TPR − FPR.
// - N. Carlini, S. Chien, M. Nasr, S. Song, A. Terzis, F. Tramèr, "Membership Inference Attacks
//   From First Principles", IEEE S&P 2022: report the TPR at a low FPR (0.1 %, 1 %) on a
//   log-scale ROC, not only AUC or accuracy.
//
// Reading the TPR at a target FPR (conservative, no interpolation): the TPR of the lowest
// threshold whose empirical FPR is ≤ the target — a threshold that exists, on the curve's lower
// step. Carlini et al.'s code takes FPR < target (strict); with n non-members the two differ only
// when target·n is a whole number. The curve always starts at "nobody is a member" (TPR 0,
// FPR 0), so when every threshold that admits a member also admits more than target·n
// non-members, the TPR is 0. With fewer than 1/target non-members only FPR = 0 qualifies.
// Both numbers choose the threshold on the scores they are read from (as the papers do): they are
// the best a threshold attack does on this data, an optimistic estimate for fresh data.

/// The empirical ROC curve of membership scores (higher = more likely a member).
public struct ROCCurve: Sendable, Equatable {
    /// One operating point: everything scoring ≥ `threshold` is called a member.
    public struct Point: Sendable, Equatable {
        /// The threshold; nil for the first point, where nothing is called a member.
        public var threshold: Double?
        /// Members called members.
        public var truePositives: Int
        /// Non-members called members.
        public var falsePositives: Int
    }

    /// Operating points from "nobody" (0, 0) to "everybody" (all members, all non-members),
    /// one per distinct score, in decreasing threshold order.
    public let points: [Point]
    /// Number of member scores.
    public let memberCount: Int
    /// Number of non-member scores.
    public let nonMemberCount: Int

    /// The curve of `members` against `nonMembers` (each non-empty; NaN refused, ±∞ allowed).
    public init(members: [Double], nonMembers: [Double]) {
        precondition(!members.isEmpty && !nonMembers.isEmpty,
                     "ROCCurve: needs at least one member and one non-member score (got \(members.count) and \(nonMembers.count))")
        precondition(!members.contains(where: \.isNaN) && !nonMembers.contains(where: \.isNaN), "ROCCurve: scores must not be NaN")
        let m = members.sorted(by: >), n = nonMembers.sorted(by: >)
        var points = [Point(threshold: nil, truePositives: 0, falsePositives: 0)]
        var i = 0, j = 0
        while i < m.count || j < n.count {
            let t = Swift.max(i < m.count ? m[i] : -.infinity, j < n.count ? n[j] : -.infinity)
            while i < m.count && m[i] >= t { i += 1 }
            while j < n.count && n[j] >= t { j += 1 }
            points.append(Point(threshold: t, truePositives: i, falsePositives: j))
        }
        self.points = points
        memberCount = m.count
        nonMemberCount = n.count
    }

    /// True-positive rate of a point.
    public func truePositiveRate(_ p: Point) -> Double { Double(p.truePositives) / Double(memberCount) }

    /// False-positive rate of a point.
    public func falsePositiveRate(_ p: Point) -> Double { Double(p.falsePositives) / Double(nonMemberCount) }

    /// Yeom et al.'s membership advantage of the best threshold: max over the curve of TPR − FPR
    /// (≥ 0, since "nobody" scores 0; 1 separates perfectly).
    public var advantage: Double {
        points.map { truePositiveRate($0) - falsePositiveRate($0) }.max() ?? 0
    }

    /// The largest TPR of a threshold whose FPR is ≤ `target` (no interpolation; 0 when only
    /// "nobody" qualifies). `target` must lie in 0...1.
    public func truePositiveRate(atFalsePositiveRate target: Double) -> Double {
        precondition(target >= 0 && target <= 1, "ROCCurve: target FPR must lie in 0...1 (got \(target))")
        // TPR and FPR both grow along the curve, so the last qualifying point has the largest TPR.
        let last = points.last { falsePositiveRate($0) <= target }!
        return truePositiveRate(last)
    }
}
