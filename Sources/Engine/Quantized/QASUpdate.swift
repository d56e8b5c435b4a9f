// The int8 device's update: SGD without momentum on the int8 tensors, with the gradients scaled
// by quantisation-aware scaling (QAS, Lin et al. 2022). For an int8 tensor W̄ with real weights
// W = s_W·W̄, the gradient with respect to W̄ is G_W̄ = s_W·G_W, so ‖G_W̄‖/‖W̄‖ is s_W² times the
// fp32 ratio. QAS divides it back: G̃ = G_W̄ / s_W² (bias: G_b̄ / (s_W·s_x)²), then W̄ ← W̄ − η·G̃ and
// W̄ is requantised: rounded to the int8 grid (biases to int32) at once.
//
// Rounding to nearest would drop every step smaller than half a quantisation step (most of
// them), so the default rounds stochastically: up with probability equal to the fraction, from
// a counter-based hash of (seed, tensor, element), so a step is reproducible from its seed and
// the expected update is exactly −η·G̃. With fp32 master weights (`memory.masterWeights: on`) the
// update goes to the master copy and the int8 tensor is its nearest rounding.

import CKernels

/// How the int8 update rounds.
public struct QASRounding: Sendable {
    /// Seed of this step's stochastic rounding; nil rounds to nearest.
    public var seed: UInt64?

    /// Stochastic rounding from `seed` (nil: nearest).
    public init(seed: UInt64?) { self.seed = seed }

    /// `v` rounded: stochastically from (tensor, index), or to nearest.
    @inline(__always)
    func round(_ v: Double, tensor: Int, index: Int) -> Double {
        guard let seed else { return v.rounded() }
        let f = v.rounded(.down)
        return f + (QASRounding.uniform(seed, UInt64(tensor) << 40 ^ UInt64(index)) < v - f ? 1 : 0)
    }

    /// A uniform [0, 1) from a SplitMix64 finaliser of seed and counter.
    @inline(__always)
    static func uniform(_ seed: UInt64, _ counter: UInt64) -> Double {
        var z = seed &+ counter &* 0x9E37_79B9_7F4A_7C15
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        z ^= z >> 31
        return Double(z >> 11) / Double(1 << 53)
    }
}

/// QAS updates of int8 weights and int32 biases.
public enum QASUpdate {
    /// Updates int8 weights `w` (rows of `perRow` values; row o has scale `scales[o]`) at the
    /// elements `row · perRow + offset` for each of `rows` (nil: every row) and each of `offsets`,
    /// in that order, which is the order of the real-weight gradient `g`:
    /// W̄ ← round(W̄ − η·(s_W·G)/s_W²) = round(W̄ − G·(η/s_W)), clamped to ±127. With `master` (real weights, same layout as
    /// `w`), the update goes there and W̄ is its nearest int8. Row by row, so that no element costs
    /// an integer division (they made this loop a quarter of an int8 step).
    /// `vectorised` runs the stochastic update in `CKernels` (AVX-512, bitwise equal to this loop;
    /// `QASUpdateKernelTests`).
    @inline(__always)
    static func weights(_ w: inout [Int8], scales: [Float], perRow: Int, rows: [Int]?, offsets: [Int], gradient g: UnsafePointer<Float>,
                        learningRate lr: Float, rounding: QASRounding, tensor: Int, master: inout [Float]?,
                        vectorised: Bool = Kernels.avx512) {
        let rowCount = rows?.count ?? scales.count
        if vectorised, master == nil, let seed = rounding.seed {
            w.withUnsafeMutableBufferPointer { wp in
                offsets.withUnsafeBufferPointer { offs in
                    scales.withUnsafeBufferPointer { sc in
                        if let rows {
                            rows.withUnsafeBufferPointer {
                                sf_qas_update_weights(wp.baseAddress!, sc.baseAddress!, perRow, $0.baseAddress!, rowCount, offs.baseAddress!, offs.count,
                                                      g, lr, 1, seed, tensor, 1)
                            }
                        } else {
                            sf_qas_update_weights(wp.baseAddress!, sc.baseAddress!, perRow, nil, rowCount, offs.baseAddress!, offs.count, g, lr, 1, seed, tensor, 1)
                        }
                    }
                }
            }
            return
        }
        let lrD = Double(lr)
        w.withUnsafeMutableBufferPointer { wp in
            offsets.withUnsafeBufferPointer { offs in
                var i = 0
                if master != nil {
                    master!.withUnsafeMutableBufferPointer { mp in
                        for r in 0..<rowCount {
                            let row = rows?[r] ?? r, base = row * perRow, s = scales[row]
                            for off in offs {
                                let j = base + off
                                mp[j] -= lr * g[i]
                                wp[j] = Int8(max(-127, min(127, (mp[j] / s).rounded())))
                                i += 1
                            }
                        }
                    }
                    return
                }
                for r in 0..<rowCount {
                    let row = rows?[r] ?? r, base = row * perRow
                    // η·G̃ = η·(s·G)/s² = G·(η/s): one multiply per element (QAS).
                    let step = lrD / Double(scales[row])
                    for off in offs {
                        let j = base + off
                        let v = Double(wp[j]) - Double(g[i]) * step
                        wp[j] = Int8(max(-127, min(127, rounding.round(v, tensor: tensor, index: j))))
                        i += 1
                    }
                }
            }
        }
    }

    /// Updates int32 biases at scales `scales[o]·inputScale`: b̄ ← round(b̄ − η·(s_b·G)/s_b²).
    static func biases(_ b: inout [Int32], scales: [Float], inputScale: Float, gradient g: UnsafePointer<Float>, learningRate lr: Float,
                       rounding: QASRounding, tensor: Int) {
        for o in 0..<b.count {
            let s = Double(scales[o]) * Double(inputScale)
            let v = Double(b[o]) - Double(g[o]) * (Double(lr) / s)  // η·(s·G)/s² = G·(η/s)
            b[o] = Int32(max(Double(Int32.min), min(Double(Int32.max), rounding.round(v, tensor: tensor, index: o))))
        }
    }
}
