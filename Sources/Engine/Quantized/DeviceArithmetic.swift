// How a simulated device computes: fp32, or int8 as the microcontroller does (`QuantizedNetwork`,
// `QuantizedTrainer`). The int8 device is deployed from the fp32 model the way a deployment tool
// deploys it: activation ranges calibrated on a few of the device's own training images, weights
// quantised per output channel whenever the device (re)loads a model, and — for grey images that
// preprocessing repeats into the colour channels — the stem re-parametrised exactly for grey input
// first (`Network.withGreyStem`).

/// The arithmetic of a device.
public struct DeviceArithmetic: Equatable, Sendable {
    /// The calibrated activation quantisation (nil: fp32).
    public var scales: ActivationScales?
    /// Re-parametrise the stem for grey images under this preprocessing before quantising.
    public var greyStem: Preprocessing?

    /// fp32 everywhere.
    public static let fp32 = DeviceArithmetic(scales: nil, greyStem: nil)

    /// The arithmetic from its parts.
    public init(scales: ActivationScales?, greyStem: Preprocessing?) { self.scales = scales; self.greyStem = greyStem }

    /// The precision this arithmetic computes in.
    public var precision: Precision { scales == nil ? .fp32 : .int8 }

    /// Images used to calibrate the activation ranges, by default.
    public static let calibrationSamples = 64

    /// The int8 device for `net` (folded), calibrated on the first `samples` images of `data`.
    public static func int8(calibrating net: Network, data: ImageDataset, preprocessing pre: Preprocessing,
                            samples: Int = calibrationSamples) -> DeviceArithmetic {
        precondition(data.count > 0, "DeviceArithmetic: calibration needs at least one image")
        let grey = data.channels == 1 && pre.channels > 1 ? pre : nil
        let prepared = grey.map { net.withGreyStem($0) } ?? net
        let n = min(samples, data.count)
        let images = pre.batch(data, indices: Array(0..<n))
        return DeviceArithmetic(scales: ActivationScales.calibrate(prepared, images: images, batch: n, height: pre.size, width: pre.size),
                                greyStem: grey)
    }

    /// The arithmetic for `precision`: int8 calibrated on `data`, or fp32.
    public static func forPrecision(_ precision: Precision, net: Network, data: ImageDataset, preprocessing: Preprocessing) -> DeviceArithmetic {
        precision == .int8 ? .int8(calibrating: net, data: data, preprocessing: preprocessing) : .fp32
    }

    /// The int8 network the device holds for `net` (int8 arithmetic only); with `fromBlock`,
    /// only the layers from that block on (enough to run from a cache there).
    public func quantise(_ net: Network, fromBlock: Int = 0) -> QuantizedNetwork {
        guard let scales else { preconditionFailure("DeviceArithmetic: quantise needs int8 arithmetic") }
        return QuantizedNetwork(fromBlock == 0 ? (greyStem.map { net.withGreyStem($0) } ?? net) : net, scales: scales, fromBlock: fromBlock)
    }

    /// The real-valued network the device actually computes with for `net` (its int8 weights,
    /// dequantised); `net` itself under fp32. With `units` (and `classifier`), only those
    /// tensors are replaced; the others stay `net`'s, shared.
    public func deviceView(_ net: Network, units: Set<Int>? = nil, classifier: Bool = true) -> Network {
        guard let scales else { return net }
        guard let units else { return quantise(net).dequantized() }
        var view = net
        let stem = units.contains(0) ? (greyStem.map { net.withGreyStem($0) } ?? net) : net
        for u in units {
            let q = QuantizedNetwork.quantiseUnit(u == 0 ? stem.units[0] : net.units[u], spec: net.arch.units[u],
                                                  input: scales.unitInput(u, net.arch), output: scales.units[u])
            view.units[u] = q.dequantized()
        }
        if classifier {
            let (w, s) = QuantizedNetwork.quantiseRows(net.classifierWeight, rows: net.arch.classes)
            let p = scales.blockOutput(net.arch.blocks.count - 1, net.arch).scale
            view.classifierWeight = QuantizedNetwork.dequantised(w, scales: s)
            view.classifierBias = QuantizedNetwork.realBiases((0..<net.arch.classes).map { QuantizedNetwork.quantiseBias(net.classifierBias[$0], scale: s[$0] * p) },
                                                              scales: s, inputScale: p)
        }
        return view
    }
}
