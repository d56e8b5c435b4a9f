// The trainable state of a network: per-unit conv weights, biases and (unless folded) BatchNorm,
// and the classifier. A value type: copying a Network gives an independent model (copy-on-write).

/// Parameters of one conv unit.
public struct ConvUnitParams: Equatable, Sendable {
    /// Conv weight, [Cout][Cin/groups][K][K].
    public var weight: [Float]
    /// Conv bias, [Cout]: the folded BatchNorm shift once folded, zero before.
    public var bias: [Float]
    /// BatchNorm, present until folded.
    public var bn: BatchNormParams?

    /// Parameters from their parts.
    public init(weight: [Float], bias: [Float], bn: BatchNormParams?) {
        self.weight = weight; self.bias = bias; self.bn = bn
    }
}

/// A network's architecture and parameters.
public struct Network: Equatable, Sendable {
    /// The architecture.
    public var arch: Architecture
    /// One entry per `arch.units`.
    public var units: [ConvUnitParams]
    /// Classifier weight, [classes][features].
    public var classifierWeight: [Float]
    /// Classifier bias, [classes].
    public var classifierBias: [Float]

    /// Whether BatchNorm has been folded into the convs (device mode).
    public var isFolded: Bool { units.allSatisfy { $0.bn == nil } }

    /// A network with deterministic random weights (He-uniform convs, identity BatchNorm).
    public init(arch: Architecture, seed: UInt64) {
        var rng = SplitMix64(seed: seed)
        self.arch = arch
        units = arch.units.map { u in
            let fanIn = Float(u.inChannels / u.groups * u.kernel * u.kernel)
            let bound = (6 / fanIn).squareRoot()
            let count = u.outChannels * (u.inChannels / u.groups) * u.kernel * u.kernel
            let c = u.outChannels
            return ConvUnitParams(
                weight: (0..<count).map { _ in rng.nextFloat(in: -bound...bound) },
                bias: [Float](repeating: 0, count: c),
                bn: BatchNormParams(gamma: [Float](repeating: 1, count: c), beta: [Float](repeating: 0, count: c),
                                    runningMean: [Float](repeating: 0, count: c), runningVar: [Float](repeating: 1, count: c),
                                    eps: u.bnEps))
        }
        let bound = 1 / Float(arch.features).squareRoot()
        classifierWeight = (0..<arch.classes * arch.features).map { _ in rng.nextFloat(in: -bound...bound) }
        classifierBias = (0..<arch.classes).map { _ in rng.nextFloat(in: -bound...bound) }
    }

    /// A network from explicit parameters.
    public init(arch: Architecture, units: [ConvUnitParams], classifierWeight: [Float], classifierBias: [Float]) {
        precondition(units.count == arch.units.count, "Network: \(units.count) unit params for \(arch.units.count) units")
        self.arch = arch
        self.units = units
        self.classifierWeight = classifierWeight
        self.classifierBias = classifierBias
    }

    /// Folds every BatchNorm into its conv (frozen BN, as on a device).
    public func folded() -> Network {
        var net = self
        for i in net.units.indices {
            guard let bn = net.units[i].bn else { continue }
            var unit = net.units[i]
            BatchNorm.fold(weight: &unit.weight, bias: &unit.bias, bn: bn)
            unit.bn = nil
            net.units[i] = unit
        }
        return net
    }

    /// Replaces the classifier with a fresh, seeded one for `classes` outputs (transfer learning).
    public func withNewClassifier(classes: Int, seed: UInt64) -> Network {
        var net = self
        net.arch.classes = classes
        var rng = SplitMix64(seed: seed)
        let bound = 1 / Float(arch.features).squareRoot()
        net.classifierWeight = (0..<classes * arch.features).map { _ in rng.nextFloat(in: -bound...bound) }
        net.classifierBias = (0..<classes).map { _ in rng.nextFloat(in: -bound...bound) }
        return net
    }

    /// Total number of trainable values: conv weights, conv biases once folded (before folding
    /// the convs have none, as in PyTorch), BatchNorm affine, classifier.
    public var parameterCount: Int {
        units.reduce(0) { $0 + $1.weight.count + ($1.bn == nil ? $1.bias.count : 2 * $1.bn!.channels) }
            + classifierWeight.count + classifierBias.count
    }
}
