// Per-tensor activation quantisation of the int8 device, calibrated once on sample data with the
// fp32 model (post-training quantisation, as a deployment tool does) and then fixed while it
// trains. A real value v is stored as clamp(round(v / s) + z, −128, 127):
//   - ReLU6 outputs are asymmetric, z = −128 and s = max/255, so [0, max] gets all 256 levels;
//   - every other tensor (images, linear projections, residual sums) is symmetric, z = 0 and
//     s = max|v|/127.

/// The scale and zero point of one int8 tensor.
public struct TensorQuant: Equatable, Sendable, Codable {
    /// Real value of one step.
    public var scale: Float
    /// The stored value of real 0.
    public var zero: Int32

    /// A quantisation from its parts.
    public init(scale: Float, zero: Int32 = 0) { self.scale = scale; self.zero = zero }

    /// The stored int8 of real `v` (round to nearest, saturating).
    @inline(__always)
    public func quantise(_ v: Float) -> Int8 { Int8(max(-128, min(127, (v / scale).rounded() + Float(zero)))) }

    /// The real value of stored `q`.
    @inline(__always)
    public func real(_ q: Int8) -> Float { scale * Float(Int32(q) - zero) }

    /// Symmetric quantisation covering magnitudes up to `maxAbs` (a tiny floor keeps an all-zero
    /// tensor finite).
    public static func symmetric(maxAbs: Float) -> TensorQuant { TensorQuant(scale: max(maxAbs, 1e-6) / 127) }

    /// Asymmetric quantisation of a non-negative tensor up to `max`.
    public static func nonNegative(max m: Float) -> TensorQuant { TensorQuant(scale: max(m, 1e-6) / 255, zero: -128) }
}

/// The quantisation of every activation tensor of a network.
public struct ActivationScales: Equatable, Sendable, Codable {
    /// The network input (preprocessed images).
    public var input: TensorQuant
    /// Each unit's output (for a residual block's last unit: before the add).
    public var units: [TensorQuant]
    /// Each block's output after its residual add (nil: the block has none).
    public var residual: [TensorQuant?]

    /// Scales from their parts.
    public init(input: TensorQuant, units: [TensorQuant], residual: [TensorQuant?]) {
        self.input = input; self.units = units; self.residual = residual
    }

    /// The tensor leaving block `b` (b = −1: the network input).
    public func blockOutput(_ b: Int, _ arch: Architecture) -> TensorQuant {
        guard b >= 0 else { return input }
        return residual[b] ?? units[arch.blocks[b].units.upperBound - 1]
    }

    /// Unit `u`'s input tensor.
    public func unitInput(_ u: Int, _ arch: Architecture) -> TensorQuant {
        let b = arch.block(ofUnit: u)
        return u == arch.blocks[b].units.lowerBound ? blockOutput(b - 1, arch) : units[u - 1]
    }

    /// The tensor entering block `b` (b = blocks.count: the input of the average pool).
    public func blockInput(_ b: Int, _ arch: Architecture) -> TensorQuant { blockOutput(b - 1, arch) }

    /// Calibrates on `images` ([3][N][H][W], preprocessed) with the folded fp32 network: each
    /// tensor's range covers the `percentile` quantile of the magnitudes it takes on them (1: the
    /// largest; lower values clip rare outliers to keep resolution for the rest).
    public static func calibrate(_ net: Network, images: [Float], batch: Int, height: Int, width: Int,
                                 percentile: Double = 1) -> ActivationScales {
        precondition(net.isFolded, "ActivationScales: calibrate the folded (device) network")
        precondition(percentile > 0 && percentile <= 1, "ActivationScales: percentile must be in (0, 1]")
        let arch = net.arch
        let geos = arch.geometries(batch: batch, height: height, width: width)
        let runner = ForwardRunner()
        func maxAbs(_ p: [Float]) -> Float {
            if percentile == 1 { return p.reduce(0) { max($0, abs($1)) } }
            let sorted = p.map(abs).sorted()
            return sorted[min(sorted.count - 1, Int((Double(sorted.count) * percentile).rounded(.down)))]
        }
        var units: [TensorQuant] = []
        var residual = [TensorQuant?](repeating: nil, count: arch.blocks.count)
        var x = images
        for (b, block) in arch.blocks.enumerated() {
            let blockInput = x
            for u in block.units {
                let g = geos[u]
                var y = [Float](repeating: 0, count: g.outputCount)
                y.withUnsafeMutableBufferPointer { yb in
                    x.withUnsafeBufferPointer { runner.apply(unit: u, of: net, y: yb.baseAddress!, x: $0.baseAddress!, g: g) }
                }
                units.append(arch.units[u].relu6 ? .nonNegative(max: maxAbs(y)) : .symmetric(maxAbs: maxAbs(y)))
                x = y
            }
            if block.residual {
                for i in x.indices { x[i] += blockInput[i] }
                residual[b] = .symmetric(maxAbs: maxAbs(x))
            }
        }
        return ActivationScales(input: .symmetric(maxAbs: maxAbs(images)), units: units, residual: residual)
    }
}
