// The int8 device model (MIT tiny-training's deployment): conv and classifier weights per output
// channel symmetric int8, biases int32 at scale s_W·s_x, activations int8 per tensor
// (`ActivationScales`), requantised with fixed-point multipliers s_W·s_x / s_y.
import CKernels

/// One int8 conv unit (BatchNorm folded in, as on the device).
public struct QuantizedUnit: Equatable, Sendable {
    /// int8 weight, [Cout][Cin/groups][K][K], in [−127, 127].
    public var weight: [Int8]
    /// Per output channel: real weight = weightScales[o] · weight.
    public var weightScales: [Float]
    /// int32 bias at weightScales[o] · input.scale.
    public var bias: [Int32]
    /// The input tensor's quantisation.
    public var input: TensorQuant
    /// The output tensor's quantisation.
    public var output: TensorQuant
    /// Per output channel: weightScales[o] · input.scale / output.scale.
    public var multipliers: [FixedPointMultiplier]
    /// The output clamp: [z, z + round(6/s)] after ReLU6, else [−128, 127].
    public var low: Int32, high: Int32
    /// Per output channel: bias − z_x·Σ W, the accumulator offset (kept in step with the weights
    /// by `refreshOffsets`).
    public var offset: [Int32] = []

    /// Values per output channel.
    public var perChannel: Int { weight.count / max(1, weightScales.count) }

    /// Real value of weight `i`.
    @inline(__always) public func real(_ i: Int) -> Float { weightScales[i / perChannel] * Float(weight[i]) }

    /// The real-valued conv parameters: weight s_W·q, bias s_W·s_x·q.
    public func dequantized() -> ConvUnitParams {
        ConvUnitParams(weight: QuantizedNetwork.dequantised(weight, scales: weightScales),
                       bias: QuantizedNetwork.realBiases(bias, scales: weightScales, inputScale: input.scale), bn: nil)
    }

    /// Recomputes `offset` after the weights or biases changed (row sums on AVX-512 where
    /// `Kernels.avx512`; wrapping int32 either way, so the same values).
    public mutating func refreshOffsets() {
        guard input.zero != 0, !weight.isEmpty, !bias.isEmpty else { offset = bias; return }
        let per = perChannel, rows = bias.count
        offset = [Int32](unsafeUninitializedCapacity: rows) { out, done in
            weight.withUnsafeBufferPointer { w in
                bias.withUnsafeBufferPointer { sf_int8_offsets(w.baseAddress!, $0.baseAddress!, rows, per, input.zero, out.baseAddress!, Kernels.avx512 ? 1 : 0) }
            }
            done = rows
        }
    }
}

/// The fixed-point rescaling of one residual add (block input and block output into the sum's scale).
public struct ResidualRescale: Equatable, Sendable {
    /// s_input / s_sum.
    public var shortcut: FixedPointMultiplier
    /// s_branch / s_sum.
    public var branch: FixedPointMultiplier
}

/// A whole network in int8.
public struct QuantizedNetwork: Equatable, Sendable {
    /// The architecture.
    public var arch: Architecture
    /// The activation quantisation (fixed after calibration).
    public var scales: ActivationScales
    /// One entry per `arch.units`.
    public var units: [QuantizedUnit]
    /// Per block: the rescaling of its residual add (nil: none).
    public var residual: [ResidualRescale?]
    /// Classifier weight, int8 [classes][features].
    public var classifierWeight: [Int8]
    /// Per class: real weight = classifierScales[o] · classifierWeight.
    public var classifierScales: [Float]
    /// int32 classifier bias at classifierScales[o] · pooled.scale.
    public var classifierBias: [Int32]
    /// fp32 master copies of updatable weights (unit index → real weights in the unit's layout;
    /// `arch.units.count`: the classifier), when the device keeps them (`memory.masterWeights`).
    public var masters: [Int: [Float]] = [:]

    /// Index of the classifier in `masters` and in the update's rounding streams.
    public var classifierIndex: Int { arch.units.count }

    /// The pooled features' quantisation (the last tensor's; pooling keeps it).
    public var pooled: TensorQuant { scales.blockOutput(arch.blocks.count - 1, arch) }

    /// Quantises a folded network with calibrated activation scales; with `fromBlock`, only the
    /// units from that block on (the others stay empty and cannot run).
    public init(_ net: Network, scales: ActivationScales, fromBlock: Int = 0) {
        precondition(net.isFolded, "QuantizedNetwork: quantise the folded (device) network")
        arch = net.arch
        self.scales = scales
        let firstUnit = fromBlock < net.arch.blocks.count ? net.arch.blocks[fromBlock].units.lowerBound : net.arch.units.count
        units = net.arch.units.indices.map { u in
            guard u >= firstUnit else {
                return QuantizedUnit(weight: [], weightScales: [], bias: [], input: scales.unitInput(u, net.arch), output: scales.units[u],
                                     multipliers: [], low: -128, high: 127)
            }
            return QuantizedNetwork.quantiseUnit(net.units[u], spec: net.arch.units[u], input: scales.unitInput(u, net.arch), output: scales.units[u])
        }
        residual = net.arch.blocks.enumerated().map { b, block in
            guard block.residual, let sum = scales.residual[b] else { return nil }
            return ResidualRescale(shortcut: FixedPointMultiplier(Double(scales.blockInput(b, net.arch).scale / sum.scale)),
                                   branch: FixedPointMultiplier(Double(scales.units[block.units.upperBound - 1].scale / sum.scale)))
        }
        let p = scales.blockOutput(net.arch.blocks.count - 1, net.arch).scale
        let (w, s) = QuantizedNetwork.quantiseRows(net.classifierWeight, rows: net.arch.classes)
        classifierWeight = w
        classifierScales = s
        classifierBias = (0..<net.arch.classes).map { QuantizedNetwork.quantiseBias(net.classifierBias[$0], scale: s[$0] * p) }
    }

    /// Per-row symmetric int8: each row's scale covers its largest magnitude with 127; each value
    /// is `Int8(max(-127, min(127, (w · (1/s)).rounded())))` with Swift's scalar semantics (ties away
    /// from zero, NaN ignored by the maximum and sent to 127). Sixteen lanes at a time, bitwise
    /// equal to that scalar formula (QuantizedRowsTests): every device quantises its tail for every
    /// task, which made the scalar `rounded()` call the top of the fleet profile.
    /// The result is cached per weight array (`QuantizedRowsCache`).
    static func quantiseRows(_ w: [Float], rows: Int) -> ([Int8], [Float]) {
        QuantizedRowsCache.shared.value(for: w, tag: rows) { computeRows($0, rows: rows) }
    }

    /// `quantiseRows` computed.
    static func computeRows(_ w: [Float], rows: Int) -> ([Int8], [Float]) {
        let per = w.count / rows
        var scales = [Float](repeating: 1, count: rows)
        let q = [Int8](unsafeUninitializedCapacity: w.count) { out, done in
            w.withUnsafeBufferPointer { wb in
                for r in 0..<rows {
                    let row = UnsafeBufferPointer(rebasing: wb[r * per..<(r + 1) * per])
                    let m = largestMagnitude(row)
                    let s = m > 0 ? m / 127 : 1
                    scales[r] = s
                    quantise(row, inverseScale: 1 / s, into: out.baseAddress! + r * per)
                }
            }
            done = w.count
        }
        return (q, scales)
    }

    /// max over `x` of |x| as `Swift.max` folds it (a NaN never replaces the running maximum).
    @inline(__always)
    static func largestMagnitude(_ x: UnsafeBufferPointer<Float>) -> Float {
        var i = 0, m: Float = 0
        if x.count >= 16 {
            var lanes = SIMD16<Float>(repeating: 0)
            let raw = UnsafeRawPointer(x.baseAddress!)
            while i + 16 <= x.count {
                let v = raw.loadUnaligned(fromByteOffset: i * 4, as: SIMD16<Float>.self)
                let a = v.replacing(with: -v, where: v .< 0)  // |v| (−0 stays −0: only m > 0 and m / 127 are used)
                lanes.replace(with: a, where: a .>= lanes)
                i += 16
            }
            for l in 0..<16 { m = max(m, lanes[l]) }
        }
        while i < x.count { m = max(m, abs(x[i])); i += 1 }
        return m
    }

    /// out[i] = Int8(max(-127, min(127, (x[i] · inv).rounded()))), exactly.
    @inline(__always)
    static func quantise(_ x: UnsafeBufferPointer<Float>, inverseScale inv: Float, into out: UnsafeMutablePointer<Int8>) {
        var i = 0
        let raw = UnsafeRawPointer(x.baseAddress!)
        let hi = SIMD16<Float>(repeating: 127), lo = SIMD16<Float>(repeating: -127), half = SIMD16<Float>(repeating: 0.5)
        let one = SIMD16<Float>(repeating: 1)
        while i + 16 <= x.count {
            let v = raw.loadUnaligned(fromByteOffset: i * 4, as: SIMD16<Float>.self) * inv
            // Ties away from zero: the fraction v − trunc(v) is exact below 2^23, and above it v is whole.
            var r = v.rounded(.towardZero)
            let f = v - r
            r.replace(with: r + one, where: f .>= half)
            r.replace(with: r - one, where: f .<= -half)
            // min(127, r) then max(-127, ·), as Swift's scalar min/max order them (NaN → 127).
            var c = hi
            c.replace(with: r, where: r .< hi)
            c.replace(with: lo, where: .!(c .>= lo))
            // c is whole and in [−127, 127]: its bits after adding 1.5·2^23 end in c (two's complement).
            let bits = unsafeBitCast(c + SIMD16<Float>(repeating: 12_582_912), to: SIMD16<UInt32>.self)
            for l in 0..<16 { out[i + l] = Int8(truncatingIfNeeded: bits[l]) }
            i += 16
        }
        while i < x.count { out[i] = Int8(max(-127, min(127, (x[i] * inv).rounded()))); i += 1 }
    }

    /// Real values of per-row int8 values: out[i] = scales[row]·q[i].
    static func dequantise(_ q: UnsafeBufferPointer<Int8>, scales: [Float], into out: UnsafeMutablePointer<Float>) {
        let rows = scales.count
        guard rows > 0 else { return }
        let per = q.count / rows
        for r in 0..<rows {
            let s = scales[r]
            for i in r * per..<(r + 1) * per { out[i] = s * Float(q[i]) }
        }
    }

    /// `dequantise` into a new array.
    static func dequantised(_ q: [Int8], scales: [Float]) -> [Float] {
        [Float](unsafeUninitializedCapacity: q.count) { out, done in
            q.withUnsafeBufferPointer { dequantise($0, scales: scales, into: out.baseAddress!) }
            done = q.count
        }
    }

    /// Real values of int32 biases at scales[o]·inputScale.
    static func realBiases(_ b: [Int32], scales: [Float], inputScale: Float) -> [Float] {
        b.indices.map { Float(Double(b[$0]) * Double(scales[$0]) * Double(inputScale)) }
    }

    /// A real bias as int32 at `scale`, saturating.
    static func quantiseBias(_ b: Float, scale: Float) -> Int32 {
        Int32(max(Double(Int32.min), min(Double(Int32.max), (Double(b) / Double(scale)).rounded())))
    }

    static func quantiseUnit(_ p: ConvUnitParams, spec: ConvUnitSpec, input: TensorQuant, output: TensorQuant) -> QuantizedUnit {
        let (w, s) = quantiseRows(p.weight, rows: spec.outChannels)
        let high: Int32 = spec.relu6 ? min(127, output.zero + Int32((6 / output.scale).rounded())) : 127
        var q = QuantizedUnit(weight: w, weightScales: s, bias: (0..<spec.outChannels).map { quantiseBias(p.bias[$0], scale: s[$0] * input.scale) },
                              input: input, output: output,
                              multipliers: s.map { FixedPointMultiplier(Double($0) * Double(input.scale) / Double(output.scale)) },
                              low: spec.relu6 ? output.zero : -128, high: high)
        q.refreshOffsets()
        return q
    }

    /// `base` with the units `units` (and the classifier, if `classifier`) replaced by this
    /// network's real values: the view of an int8 model whose other tensors equal `base`'s.
    public func dequantized(over base: Network, units: Set<Int>, classifier: Bool) -> Network {
        var net = base
        for u in units { net.units[u] = self.units[u].dequantized() }
        if classifier {
            net.classifierWeight = QuantizedNetwork.dequantised(classifierWeight, scales: classifierScales)
            net.classifierBias = QuantizedNetwork.realBiases(classifierBias, scales: classifierScales, inputScale: pooled.scale)
        }
        return net
    }

    /// The real-valued network this int8 network stands for (what goes on the wire and is
    /// aggregated): weight = s_W·q, bias = s_W·s_x·q.
    public func dequantized() -> Network {
        let convs = units.map { $0.dequantized() }
        let p = pooled.scale
        return Network(arch: arch, units: convs,
                       classifierWeight: QuantizedNetwork.dequantised(classifierWeight, scales: classifierScales),
                       classifierBias: QuantizedNetwork.realBiases(classifierBias, scales: classifierScales, inputScale: p))
    }

    /// Quantises preprocessed real inputs entering block `block` with that tensor's quantisation.
    public func quantiseInput(_ x: [Float], block: Int) -> [Int8] {
        let q = scales.blockInput(block, arch)
        return x.map { q.quantise($0) }
    }

    /// ‖W[:, c]‖₂ of the real weights for each of `channels` of unit `u` (as `ChannelNorms`).
    public func inputChannelWeightNorms(unit u: Int, channels: [Int32]) -> [Float] {
        let spec = arch.units[u], q = units[u]
        let taps = spec.kernel * spec.kernel, cin = spec.inChannels / spec.groups
        return q.weight.withUnsafeBufferPointer { w in
            channels.map { c in
                var sq: Float = 0
                if spec.isDepthwise {
                    let s = q.weightScales[Int(c)]
                    for t in 0..<taps { let v = s * Float(w[Int(c) * taps + t]); sq += v * v }
                } else {
                    for o in 0..<spec.outChannels {
                        let s = q.weightScales[o]
                        for t in 0..<taps { let v = s * Float(w[(o * cin + Int(c)) * taps + t]); sq += v * v }
                    }
                }
                return sq.squareRoot()
            }
        }
    }
}
