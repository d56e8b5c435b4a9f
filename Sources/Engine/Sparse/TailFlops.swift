// The arithmetic of one training step of the trainable tail: what a simulated device computes
// per step once its frozen front is cached (FeatureCache). Counted from the shapes, 2 FLOPs per
// multiply-add, so that a measured step time becomes a fraction of the machine's sgemm peak.

/// FLOPs of one sparse training step of the tail.
public struct TailFlops: Equatable, Sendable {
    /// Forward from the first trained block's input to the logits.
    public var forward: Double
    /// Input gradients from the logits down to the first trained unit's output.
    public var inputGradients: Double
    /// Weight gradients of the trained channels (and of the classifier when it trains).
    public var weightGradients: Double
    /// All three.
    public var total: Double { forward + inputGradients + weightGradients }

    /// The step of `layout` on `arch` at `batch` samples of `height`×`width`.
    public init(arch: Architecture, layout: SparseLayout, batch: Int, height: Int, width: Int) {
        let plan = LayoutSearch.representativePlan(layout)
        let geo = arch.geometries(batch: batch, height: height, width: width)
        let n = arch.units.count
        let start = plan.startBlock(arch)
        let firstBlockUnit = start < arch.blocks.count ? arch.blocks[start].units.lowerBound : n
        let firstTrained = plan.firstTrainableUnit(arch)
        let classifier = 2.0 * Double(batch * arch.classes * arch.features)
        forward = geo[firstBlockUnit...].reduce(0) { $0 + 2.0 * Double($1.macs) } + classifier
        // The gradient flows into every unit above the lowest trained one, and into the classifier's input.
        inputGradients = firstTrained < n ? geo[(firstTrained + 1)...].reduce(0) { $0 + 2.0 * Double($1.macs) } + classifier : 0
        weightGradients = (layout.trainClassifier ? classifier : 0)
            + layout.weightChannels.reduce(0) { sum, kv in
                let g = geo[kv.key]
                return sum + 2.0 * Double(g.macs) * Double(kv.value) / Double(arch.units[kv.key].inChannels)
            }
    }
}
