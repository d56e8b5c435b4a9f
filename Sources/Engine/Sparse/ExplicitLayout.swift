// A layout written by hand instead of searched for a budget, as MIT tiny-training's
// `manual_weight_idx` / `weight_update_ratio` / `n_bias_update` write one: the conv layers whose
// weights train, each with its fraction of input channels per step, how many of the last convs
// train their biases, and whether the classifier trains. The budget still applies: a layout that
// does not fit is refused with the planner's peak and where it is reached.

/// A hand-written sparse layout.
public struct ExplicitLayout: Equatable, Sendable, Codable {
    /// Conv layer name → fraction of its input channels trained per step, in (0, 1].
    public var weights: [String: Double]
    /// Conv biases that train, counted from the last conv.
    public var biasLayers: Int
    /// Whether the classifier trains.
    public var classifier: Bool

    /// A layout.
    public init(weights: [String: Double], biasLayers: Int, classifier: Bool = true) {
        self.weights = weights; self.biasLayers = biasLayers; self.classifier = classifier
    }

    /// The sparse layout on `arch`; refused (naming the layer and the allowed values) when a
    /// name is not a conv of `arch` whose channels can be subset, or a number is out of range.
    public func layout(_ arch: Architecture) throws -> SparseLayout {
        let n = arch.units.count
        guard (0...n).contains(biasLayers) else {
            throw ExplicitLayoutError("biasLayers \(biasLayers) is out of range; \(arch.name) has \(n) convs (0...\(n))")
        }
        var channels: [Int: Int] = [:]
        for (name, ratio) in weights.sorted(by: { $0.key < $1.key }) {
            guard let u = arch.units.firstIndex(where: { $0.name == name }) else {
                let names = arch.units.suffix(6).map(\.name).joined(separator: ", ")
                throw ExplicitLayoutError("'\(name)' is not a conv of \(arch.name); its last convs are \(names) (`node plan` lists them all)")
            }
            let spec = arch.units[u]
            guard spec.groups == 1 || spec.isDepthwise else { throw ExplicitLayoutError("'\(name)' is a grouped conv; channel subsets need groups 1 or depthwise") }
            guard ratio > 0, ratio <= 1, ratio.isFinite else { throw ExplicitLayoutError("'\(name)': ratio \(ratio) must be in (0, 1]") }
            channels[u] = max(1, Int((Double(spec.inChannels) * ratio).rounded()))
        }
        return SparseLayout(biasUnits: Array((n - biasLayers)..<n), weightChannels: channels, trainClassifier: classifier)
    }
}

/// Why an explicit layout is refused.
public struct ExplicitLayoutError: Error, CustomStringConvertible, Equatable {
    /// The problem and the fix.
    public var description: String
    /// The layout that did not fit its budget (nil for a layout that is malformed).
    public var layout: SparseLayout?
    /// Bytes over the budget, when the layout did not fit.
    public var missingBytes: Int?
    init(_ description: String, layout: SparseLayout? = nil, missingBytes: Int? = nil) {
        self.description = description; self.layout = layout; self.missingBytes = missingBytes
    }
}
