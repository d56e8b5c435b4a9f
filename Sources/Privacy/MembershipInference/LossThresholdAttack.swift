// The loss-threshold membership attack: a model fits its training examples better than unseen
// ones, so a lower loss is evidence of membership. Score = −loss; sweeping a threshold over it is
// Yeom et al.'s attack (they fix the threshold at the mean training loss; the ROC sweep covers
// every threshold, including that one).
//
// Reference: S. Yeom, I. Giacomelli, M. Fredrikson, S. Jha, "Privacy Risk in Machine Learning:
// Analyzing the Connection to Overfitting", CSF 2018 (the threshold adversary).

/// Membership by low loss.
public enum LossThresholdAttack {
    /// Membership scores of per-example losses: −loss (higher = more likely a member).
    /// Losses must not be NaN (+∞, a zero-probability label, is allowed and scores −∞).
    public static func scores(losses: [Double]) -> [Double] {
        precondition(!losses.contains(where: \.isNaN), "LossThresholdAttack: losses must not be NaN")
        return losses.map { -$0 }
    }

    /// The attack's metrics on the losses of known members and non-members.
    public static func metrics(memberLosses: [Double], nonMemberLosses: [Double]) -> MembershipMetrics {
        MembershipMetrics(members: scores(losses: memberLosses), nonMembers: scores(losses: nonMemberLosses))
    }
}
