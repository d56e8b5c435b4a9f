// The policies whose plan never changes: dense, head and bias.

/// Every parameter trains, with BatchNorm in training mode (needs an unfolded network).
public struct DensePolicy: UpdatePolicy {
    /// `dense`.
    public let name = "dense"
    /// A dense policy.
    public init() {}
    /// The dense plan.
    public mutating func nextPlan() -> UpdatePlan { UpdatePlan(trainClassifier: true, dense: true) }
}

/// Only the classifier trains.
public struct HeadPolicy: UpdatePolicy {
    /// `head`.
    public let name = "head"
    /// A head-only policy.
    public init() {}
    /// The classifier-only plan.
    public mutating func nextPlan() -> UpdatePlan { UpdatePlan(trainClassifier: true) }
}

/// The classifier and the biases of the layout's bias units (TinyTL-style).
public struct BiasPolicy: UpdatePolicy {
    /// `bias`.
    public let name = "bias"
    /// The bias units.
    public let biasUnits: [Int]
    /// A bias policy over `layout`'s bias units.
    public init(layout: SparseLayout) { biasUnits = layout.biasUnits }
    /// The bias-only plan.
    public mutating func nextPlan() -> UpdatePlan { UpdatePlan(biasUnits: Set(biasUnits), trainClassifier: true) }
}
