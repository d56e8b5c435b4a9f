// A policy turns a layout into one UpdatePlan per step, and may learn from each step's gradients.

/// What a policy sees after a step: the per-channel gradient norms of each weight-trained unit.
public struct StepFeedback: Equatable, Sendable {
    /// Unit → ‖∂L/∂W[:, c]‖₂ for each channel c of the plan's `weightChannels[unit]`, in that order.
    public var channelGradientNorms: [Int: [Float]]
    /// Unit → ‖W[:, c]‖₂ after the step's update, for the same channels in the same order (the
    /// only weights the step changed); empty when not measured.
    public var channelWeightNorms: [Int: [Float]]

    /// Feedback with the given norms.
    public init(channelGradientNorms: [Int: [Float]] = [:], channelWeightNorms: [Int: [Float]] = [:]) {
        self.channelGradientNorms = channelGradientNorms
        self.channelWeightNorms = channelWeightNorms
    }
}

/// Chooses what each training step updates. Implementations are value types whose state
/// (ages, running norms, RNG) persists across rounds and can be checkpointed.
public protocol UpdatePolicy: Sendable {
    /// Short name, e.g. `dgsu`.
    var name: String { get }
    /// The plan for the next step.
    mutating func nextPlan() -> UpdatePlan
    /// Learns from the step that ran `plan` (the last plan this policy returned).
    mutating func observe(_ feedback: StepFeedback, plan: UpdatePlan)
    /// Whether `observe` reads `channelWeightNorms` (the trainer measures them only then: a
    /// column norm over every output row of each trained channel, every step).
    var wantsWeightNorms: Bool { get }
}

extension UpdatePolicy {
    /// Default: the trained channels' weight norms are not read.
    public var wantsWeightNorms: Bool { false }

    /// Default: a policy that does not learn from gradients ignores feedback.
    public mutating func observe(_ feedback: StepFeedback, plan: UpdatePlan) {}
}

/// The policies SparseFleet ships, by name.
public enum PolicyKind: String, CaseIterable, Sendable, Codable {
    /// Everything trains, BatchNorm in training mode (upper bound).
    case dense
    /// The classifier only.
    case head
    /// Classifier + biases of the last n convs (TinyTL-style).
    case bias
    /// A fixed channel subset chosen once (MIT tiny-training sparse update).
    case `static`
    /// Dynamic gradient sparse update: importance with rotation, every step.
    case dgsu
    /// Uniformly random channels every step (TraDy-style baseline).
    case random
}
