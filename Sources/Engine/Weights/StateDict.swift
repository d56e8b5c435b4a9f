// Mapping a Network to and from named tensors (PyTorch state-dict names).
// Unfolded: `<conv>.weight` and `<bn>.{weight,bias,running_mean,running_var}`.
// Folded (device models, checkpoints): `<conv>.weight` and `<conv>.bias`.
// Both carry `<classifier>.weight` and `<classifier>.bias`.

extension Network {
    /// The expected tensor shapes of this architecture, folded or not.
    public static func expectedShapes(_ arch: Architecture, folded: Bool) -> [String: [Int]] {
        var shapes: [String: [Int]] = [:]
        for u in arch.units {
            shapes[u.weightKey] = u.weightShape
            if folded {
                shapes[u.biasKey] = [u.outChannels]
            } else {
                for s in ["weight", "bias", "running_mean", "running_var"] { shapes["\(u.bnName).\(s)"] = [u.outChannels] }
            }
        }
        shapes[arch.classifierWeightKey] = [arch.classes, arch.features]
        shapes[arch.classifierBiasKey] = [arch.classes]
        return shapes
    }

    /// Builds a network from named tensors, refusing missing, unexpected or mis-shaped tensors.
    /// A file with BatchNorm statistics loads unfolded; one with conv biases loads folded.
    /// - Parameter ignoreClassifier: keep a fresh classifier (fine-tuning to new classes).
    public static func load(_ arch: Architecture, from file: SafeTensors, path: String,
                            ignoreClassifier: Bool = false, seed: UInt64 = 0) throws -> Network {
        let folded = file.tensors[arch.units[0].biasKey] != nil && file.tensors["\(arch.units[0].bnName).running_mean"] == nil
        var expected = expectedShapes(arch, folded: folded)
        var present = file.tensors
        if ignoreClassifier {
            for key in [arch.classifierWeightKey, arch.classifierBiasKey] {
                expected[key] = nil
                present[key] = nil
            }
        }
        let missing = expected.keys.filter { present[$0] == nil }.sorted()
        let unexpected = present.keys.filter { expected[$0] == nil }.sorted()
        let misshapen = expected.compactMap { key, shape -> String? in
            guard let t = present[key], t.shape != shape else { return nil }
            return "\(key) is \(t.shape), model needs \(shape)"
        }.sorted()
        if !(missing.isEmpty && unexpected.isEmpty && misshapen.isEmpty) {
            throw WeightsError.mismatch(model: arch.name, path: path, missing: missing, unexpected: unexpected, misshapen: misshapen)
        }
        var net = Network(arch: arch, seed: seed)
        for (i, u) in arch.units.enumerated() {
            net.units[i].weight = present[u.weightKey]!.data
            if folded {
                net.units[i].bias = present[u.biasKey]!.data
                net.units[i].bn = nil
            } else {
                net.units[i].bn = BatchNormParams(
                    gamma: present["\(u.bnName).weight"]!.data, beta: present["\(u.bnName).bias"]!.data,
                    runningMean: present["\(u.bnName).running_mean"]!.data,
                    runningVar: present["\(u.bnName).running_var"]!.data, eps: u.bnEps)
            }
        }
        if !ignoreClassifier {
            net.classifierWeight = present[arch.classifierWeightKey]!.data
            net.classifierBias = present[arch.classifierBiasKey]!.data
        }
        return net
    }

    /// Reads a safetensors file and loads it (see `load(_:from:path:)`).
    public static func load(_ arch: Architecture, path: String, ignoreClassifier: Bool = false, seed: UInt64 = 0) throws -> Network {
        try load(arch, from: SafeTensors.read(path: path), path: path, ignoreClassifier: ignoreClassifier, seed: seed)
    }

    /// The parameters as named tensors (folded networks write conv biases, unfolded ones BatchNorm).
    public func stateDict() -> SafeTensors {
        var out = SafeTensors()
        for (i, u) in arch.units.enumerated() {
            let p = units[i]
            out.tensors[u.weightKey] = Tensor(shape: u.weightShape, data: p.weight)
            if let bn = p.bn {
                out.tensors["\(u.bnName).weight"] = Tensor(shape: [u.outChannels], data: bn.gamma)
                out.tensors["\(u.bnName).bias"] = Tensor(shape: [u.outChannels], data: bn.beta)
                out.tensors["\(u.bnName).running_mean"] = Tensor(shape: [u.outChannels], data: bn.runningMean)
                out.tensors["\(u.bnName).running_var"] = Tensor(shape: [u.outChannels], data: bn.runningVar)
            } else {
                out.tensors[u.biasKey] = Tensor(shape: [u.outChannels], data: p.bias)
            }
        }
        out.tensors[arch.classifierWeightKey] = Tensor(shape: [arch.classes, arch.features], data: classifierWeight)
        out.tensors[arch.classifierBiasKey] = Tensor(shape: [arch.classes], data: classifierBias)
        out.metadata["architecture"] = arch.name
        return out
    }
}
