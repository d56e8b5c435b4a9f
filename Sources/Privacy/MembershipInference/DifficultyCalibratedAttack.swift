// The difficulty-calibrated loss attack: subtract from the target model's loss on an example the
// mean loss reference models (not trained on it) have there, so that examples that are merely
// easy (low loss everywhere) stop looking like members. Score = −(loss_target − mean loss_ref).
//
// Reference: L. Watson, C. Guo, G. Cormode, A. Sablayrolles, "On the Importance of Difficulty
// Calibration in Membership Inference Attacks", ICLR 2022 (the calibrated loss attack).

/// Membership by a loss lower than the reference models' on the same example.
public enum DifficultyCalibratedAttack {
    /// Scores from `target[i]`, the attacked model's loss on example i, and `reference[i]`, the
    /// losses of reference models on it (non-empty). No NaN; infinite losses are refused too, as
    /// ∞ − ∞ has no meaning.
    public static func scores(targetLosses target: [Double], referenceLosses reference: [[Double]]) -> [Double] {
        precondition(target.count == reference.count, "DifficultyCalibratedAttack: \(target.count) target losses but \(reference.count) reference lists")
        precondition(!target.contains(where: { !$0.isFinite }), "DifficultyCalibratedAttack: target losses must be finite")
        return zip(target, reference).enumerated().map { i, pair in
            let (loss, refs) = pair
            precondition(!refs.isEmpty, "DifficultyCalibratedAttack: example \(i) has no reference loss")
            precondition(!refs.contains(where: { !$0.isFinite }), "DifficultyCalibratedAttack: reference losses of example \(i) must be finite")
            return -(loss - refs.reduce(0, +) / Double(refs.count))
        }
    }
}
