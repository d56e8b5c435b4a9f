// What a device step's buffers are (for the breakdown), and the refusal of a step that would not
// fit its budget.

/// What kind of buffer an allocation is, for the breakdown.
public enum BufferKind: String, Sendable, Codable, CaseIterable {
    /// Activations of the forward pass that are live now (inputs, outputs, shortcuts, logits).
    case working
    /// Activations kept for backward (selected input channels, BN x̂, pooled features).
    case saved
    /// 1-bit ReLU6 masks kept for backward.
    case mask
    /// Activation gradients flowing backward.
    case activationGradient
    /// Weight and bias gradient buffers.
    case parameterGradient
    /// Writable copies of weights that may be updated.
    case weights
    /// The stored outputs of the frozen front for the batch.
    case prefixStore
}

/// Thrown when a step would exceed its budget.
public struct MemoryOverflow: Error, CustomStringConvertible, Equatable, Sendable, Codable {
    /// Budget in bytes.
    public var budget: Int
    /// Bytes that would be live.
    public var needed: Int
    /// The buffer being allocated, e.g. `_blocks.15._project_conv saved input channels`.
    public var at: String

    public var description: String {
        "memory budget exceeded at \(at): needs \(needed) B, budget \(budget) B (over by \(needed - budget) B). "
            + "Raise the budget, lower the channel ratio or the number of trained layers, or use --precision int8 / external weights."
    }
}
