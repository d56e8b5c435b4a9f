// The folded global model as the wire sees it: an ordered schema of named tensors and one dense
// f32 array per tensor. Order: for each conv unit its weight then its (folded) bias, then the
// classifier weight and bias. Conv weights [Cout, Cin/groups, K, K] slice along input channels
// (axis 1), except depthwise convs, whose only channel axis is the output one (axis 0).
import Engine
import Wire

/// Converts between a folded `Network` and schema-ordered tensors.
public enum ModelTensors {
    /// The wire schema of a folded network of `arch`.
    public static func schema(_ arch: Architecture) -> ModelSchema {
        var specs: [TensorSpec] = []
        for u in arch.units {
            specs.append(TensorSpec(name: u.weightKey, shape: u.weightShape, channelAxis: u.isDepthwise ? 0 : 1))
            specs.append(TensorSpec(name: u.biasKey, shape: [u.outChannels], channelAxis: 0))
        }
        specs.append(TensorSpec(name: arch.classifierWeightKey, shape: [arch.classes, arch.features], channelAxis: 1))
        specs.append(TensorSpec(name: arch.classifierBiasKey, shape: [arch.classes], channelAxis: 0))
        return ModelSchema(specs)
    }

    /// The network's values in schema order (the network must be folded).
    public static func values(_ net: Network) -> [[Float]] {
        precondition(net.isFolded, "ModelTensors.values: the global model is folded; call folded() first")
        var out: [[Float]] = []
        out.reserveCapacity(2 * net.units.count + 2)
        for u in net.units {
            out.append(u.weight)
            out.append(u.bias)
        }
        out.append(net.classifierWeight)
        out.append(net.classifierBias)
        return out
    }

    /// The tensor at schema position `index` of `net`.
    public static func tensor(_ net: Network, _ index: Int) -> [Float] {
        let n = net.units.count
        if index < 2 * n { return index % 2 == 0 ? net.units[index / 2].weight : net.units[index / 2].bias }
        return index == 2 * n ? net.classifierWeight : net.classifierBias
    }

    /// Replaces the tensor at schema position `index` of `net`.
    public static func setTensor(_ net: inout Network, _ index: Int, _ values: [Float]) {
        let n = net.units.count
        if index < 2 * n {
            if index % 2 == 0 { net.units[index / 2].weight = values } else { net.units[index / 2].bias = values }
        } else if index == 2 * n {
            net.classifierWeight = values
        } else {
            net.classifierBias = values
        }
    }

    /// A folded network of `arch` holding `values` (schema order). Pass a folded `template` of
    /// the same architecture to avoid building (and randomly initialising) a fresh one.
    public static func network(_ arch: Architecture, values: [[Float]], template: Network? = nil) -> Network {
        precondition(values.count == 2 * arch.units.count + 2, "ModelTensors.network: \(values.count) tensors for \(arch.name)")
        var net = template ?? Network(arch: arch, seed: 0)
        for i in net.units.indices {
            net.units[i].weight = values[2 * i]
            net.units[i].bias = values[2 * i + 1]
            net.units[i].bn = nil
        }
        net.classifierWeight = values[2 * arch.units.count]
        net.classifierBias = values[2 * arch.units.count + 1]
        return net
    }

    /// The conv unit a schema position belongs to (nil for the classifier).
    public static func unit(ofTensor index: Int, arch: Architecture) -> Int? {
        index < 2 * arch.units.count ? index / 2 : nil
    }

    /// Schema positions of the tensors `layout` trains: weights of its weight units, biases of
    /// its bias units, and the classifier when it trains.
    /// The tensors a device with `layout` keeps personal under `personal` (they never leave it).
    public static func personalTensors(_ layout: SparseLayout, arch: Architecture, personal: PersonalParameters) -> Set<Int> {
        let n = arch.units.count
        var set = Set<Int>()
        switch personal {
        case .none: break
        case .head: set = [2 * n, 2 * n + 1]
        case .biases: set = Set(layout.biasUnits.map { 2 * $0 + 1 }).union([2 * n + 1])
        case .headAndBiases: set = Set(layout.biasUnits.map { 2 * $0 + 1 }).union([2 * n, 2 * n + 1])
        }
        return set.intersection(trainableTensors(layout, arch: arch))
    }

    /// The tensors a device with `layout` may send: trainable and not personal.
    public static func sharedTensors(_ layout: SparseLayout, arch: Architecture, personal: PersonalParameters) -> Set<Int> {
        trainableTensors(layout, arch: arch).subtracting(personalTensors(layout, arch: arch, personal: personal))
    }

    public static func trainableTensors(_ layout: SparseLayout, arch: Architecture) -> Set<Int> {
        var out = Set<Int>()
        for u in layout.weightChannels.keys { out.insert(2 * u) }
        for u in layout.biasUnits { out.insert(2 * u + 1) }
        if layout.trainClassifier { out.insert(2 * arch.units.count); out.insert(2 * arch.units.count + 1) }
        return out
    }
}
