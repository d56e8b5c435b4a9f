// Batch normalisation: folded into the conv for devices (frozen), or in training mode with
// running statistics for the dense baseline.
// Layout: x, y [C][N][H][W]; per-channel parameters [C]. M = N·H·W values per channel.

/// BatchNorm parameters and running statistics of one layer.
public struct BatchNormParams: Equatable, Sendable {
    /// Scale γ, [C].
    public var gamma: [Float]
    /// Shift β, [C].
    public var beta: [Float]
    /// Running mean, [C].
    public var runningMean: [Float]
    /// Running (unbiased) variance, [C].
    public var runningVar: [Float]
    /// ε added to the variance.
    public var eps: Float
    /// Weight of the new batch statistic in the running update (PyTorch's `momentum`).
    public var momentum: Float = 0.1

    /// Number of channels.
    public var channels: Int { gamma.count }
}

/// What training-mode forward keeps for backward: the normalised input and 1/σ per channel.
public struct BatchNormSaved {
    /// x̂ = (x − μ)/σ, [C][M].
    public var normalized: [Float]
    /// 1/√(σ² + ε) of the batch, [C].
    public var invStd: [Float]
}

/// BatchNorm kernels.
public enum BatchNorm {
    /// Per-channel `scale = γ/√(var+ε)` and `shift = β − mean·scale` of frozen BN.
    public static func frozenScaleShift(_ bn: BatchNormParams) -> (scale: [Float], shift: [Float]) {
        var scale = [Float](repeating: 0, count: bn.channels), shift = scale
        for c in 0..<bn.channels {
            let s = bn.gamma[c] / (bn.runningVar[c] + bn.eps).squareRoot()
            scale[c] = s
            shift[c] = bn.beta[c] - bn.runningMean[c] * s
        }
        return (scale, shift)
    }

    /// Folds frozen BN into the preceding conv: `W'[o] = W[o]·scale[o]`, `b' = b·scale + shift`.
    /// `weight` is [Cout][…] with `weight.count / Cout` values per output channel.
    public static func fold(weight: inout [Float], bias: inout [Float], bn: BatchNormParams) {
        let (scale, shift) = frozenScaleShift(bn)
        let per = weight.count / bn.channels
        precondition(per * bn.channels == weight.count && bias.count == bn.channels, "BatchNorm.fold: shape mismatch")
        for o in 0..<bn.channels {
            for i in 0..<per { weight[o * per + i] *= scale[o] }
            bias[o] = bias[o] * scale[o] + shift[o]
        }
    }

    /// Frozen BN as a per-channel affine map: `y = x·scale + shift` (in place allowed).
    public static func forwardFrozen(y: UnsafeMutablePointer<Float>, x: UnsafePointer<Float>,
                                     scale: [Float], shift: [Float], plane: Int) {
        for c in 0..<scale.count {
            let s = scale[c], t = shift[c]
            let xi = x + c * plane, yo = y + c * plane
            for i in 0..<plane { yo[i] = xi[i] * s + t }
        }
    }

    /// Frozen BN backward: `dx = dy·scale` (in place allowed).
    public static func backwardFrozen(dx: UnsafeMutablePointer<Float>, dy: UnsafePointer<Float>,
                                      scale: [Float], plane: Int) {
        for c in 0..<scale.count {
            let s = scale[c]
            let g = dy + c * plane, d = dx + c * plane
            for i in 0..<plane { d[i] = g[i] * s }
        }
    }

    /// Training-mode forward with batch statistics; updates the running statistics and returns
    /// what backward needs. `plane` is M = N·H·W (must be > 1).
    public static func forwardTrain(y: UnsafeMutablePointer<Float>, x: UnsafePointer<Float>,
                                    bn: inout BatchNormParams, plane m: Int) -> BatchNormSaved {
        precondition(m > 1, "BatchNorm: training mode needs more than one value per channel (got \(m))")
        let channels = bn.channels
        var saved = BatchNormSaved(normalized: [Float](repeating: 0, count: channels * m),
                                   invStd: [Float](repeating: 0, count: channels))
        saved.normalized.withUnsafeMutableBufferPointer { xhat in
            for c in 0..<channels {
                let xi = x + c * m
                var sum: Double = 0
                for i in 0..<m { sum += Double(xi[i]) }
                let mean = sum / Double(m)
                var sq: Double = 0
                for i in 0..<m { let d = Double(xi[i]) - mean; sq += d * d }
                let variance = sq / Double(m)
                let inv = 1 / (variance + Double(bn.eps)).squareRoot()
                saved.invStd[c] = Float(inv)
                let g = bn.gamma[c], b = bn.beta[c]
                let xh = xhat.baseAddress! + c * m, yo = y + c * m
                for i in 0..<m {
                    let v = Float((Double(xi[i]) - mean) * inv)
                    xh[i] = v
                    yo[i] = v * g + b
                }
                let mom = bn.momentum
                bn.runningMean[c] = (1 - mom) * bn.runningMean[c] + mom * Float(mean)
                bn.runningVar[c] = (1 - mom) * bn.runningVar[c] + mom * Float(variance * Double(m) / Double(m - 1))
            }
        }
        return saved
    }

    /// Training-mode backward: `dx` (overwritten; may alias dy), and accumulates `dgamma`, `dbeta`.
    public static func backwardTrain(dx: UnsafeMutablePointer<Float>, dgamma: UnsafeMutablePointer<Float>,
                                     dbeta: UnsafeMutablePointer<Float>, dy: UnsafePointer<Float>,
                                     saved: BatchNormSaved, gamma: [Float], plane m: Int) {
        saved.normalized.withUnsafeBufferPointer { xhat in
            for c in 0..<gamma.count {
                let g = dy + c * m, xh = xhat.baseAddress! + c * m
                var sumDy: Float = 0, sumDyX: Float = 0
                for i in 0..<m { sumDy += g[i]; sumDyX += g[i] * xh[i] }
                dbeta[c] += sumDy
                dgamma[c] += sumDyX
                let k = gamma[c] * saved.invStd[c] / Float(m)
                let d = dx + c * m
                for i in 0..<m { d[i] = k * (Float(m) * g[i] - sumDy - xh[i] * sumDyX) }
            }
        }
    }
}
