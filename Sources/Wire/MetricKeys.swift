// The node↔coordinator vocabulary of METRICS `values` (PROTOCOL.md §4.5): the keys each side
// writes and reads, and the range each value must lie in.

/// The METRICS keys SparseFleet speaks.
public enum MetricKey {
    /// Coordinator → node: "evaluate the final model on every device" (value 1).
    public static let finalEvaluation = "final_evaluation"
    /// Node → coordinator: a device's private-split accuracy with the global model, before local training.
    public static let personalBefore = "personal_before"
    /// Node → coordinator: the same after local training.
    public static let personalAfter = "personal_after"
    /// Node → coordinator: a device's private-split accuracy after the final round.
    public static let personalFinal = "personal_final"
    /// Node → coordinator, under DP: 1 when clipping scaled the device's update down, else 0.
    public static let updateClipped = "update_clipped"
    /// Node → coordinator, `personalisation.method: local`: 1 when a device finished its task's
    /// local steps (it sends no UPDATE; this METRICS ends its part of the round).
    public static let localDone = "local_done"
    /// Node → coordinator: the peak SRAM bytes of the task's steps (an UPDATE carries it in its
    /// training metrics; a local-only device sends it here), in [0, 2^40].
    public static let peakMemory = "peak_memory_bytes"
    /// Node → coordinator: the task's local steps, in [0, 2^32).
    public static let trainSteps = "train_steps"
    /// Node → coordinator: the task's mean training loss (finite, ≥ 0).
    public static let trainLoss = "train_loss"

    /// Coordinator → node: "also run the membership attacks after the final round" (value 1).
    public static let membershipAttack = "membership_attack"
    /// Node → coordinator: the loss-threshold membership attack against the global model
    /// (`mia_global_…`) and the device's personalised model (`mia_personal_…`): AUC, membership
    /// advantage, TPR at 0.1 % and 1 % FPR, each in [0, 1].
    public static func membership(_ model: String, _ figure: String) -> String { "mia_\(model)_\(figure)" }
    /// Node → coordinator: LiRA offline with shadow models (Carlini et al. 2022) against the
    /// global model (`mia_lira_global_…`) and the personalised model (`mia_lira_personal_…`),
    /// the same figures.
    public static func liraMembership(_ model: String, _ figure: String) -> String { membership("lira_\(model)", figure) }
    /// The figures of `membership(_:_:)` and `liraMembership(_:_:)`.
    public static let membershipFigures = ["auc", "advantage", "tpr_at_fpr_0.1", "tpr_at_fpr_1"]
    /// Every membership key: both attacks, each against the global and the personalised model.
    public static let membershipKeys: Set<String> = Set(["global", "personal"].flatMap { m in
        membershipFigures.flatMap { [membership(m, $0), liraMembership(m, $0)] }
    })

    /// The accuracies a node reports, each a finite value in [0, 1].
    public static let accuracies: Set<String> = [personalBefore, personalAfter, personalFinal]

    /// The refusal for `value` under `key`, or nil when it is acceptable: an accuracy must be
    /// finite and in [0, 1]; any other value must be finite.
    public static func problem(key: String, value: Double) -> WireError? {
        guard value.isFinite else {
            return .outOfRange(field: "METRICS '\(key)'", reason: "\(value) is not finite; omit a value that was not measured")
        }
        if (accuracies.contains(key) || key == updateClipped || membershipKeys.contains(key)), !(0...1).contains(value) {
            return .outOfRange(field: "METRICS '\(key)'", reason: "\(value) is not an accuracy in [0, 1]")
        }
        if key == localDone, value != 1 { return .outOfRange(field: "METRICS '\(key)'", reason: "\(value) is not 1 (the only value it takes)") }
        if key == peakMemory, !(0...1_099_511_627_776).contains(value) || value != value.rounded() {
            return .outOfRange(field: "METRICS '\(key)'", reason: "\(value) is not a byte count in [0, 2^40]")
        }
        if key == trainSteps, !(0...4_294_967_295).contains(value) || value != value.rounded() {
            return .outOfRange(field: "METRICS '\(key)'", reason: "\(value) is not a step count in [0, 2^32)")
        }
        if key == trainLoss, value < 0 { return .outOfRange(field: "METRICS '\(key)'", reason: "\(value) is negative; a loss is ≥ 0") }
        return nil
    }
}
