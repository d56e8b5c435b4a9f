// An exact re-parametrisation of the stem for grey images. Preprocessing repeats a grey image g
// into three channels x_c = (g − m_c)/s_c, so the stem only ever sees, per tap, A·g − B with
// A = Σ_c w_c/s_c and B = Σ_c w_c·m_c/s_c. Any weights with the same A and B per tap compute the
// same function, borders included (padding is real 0 in every channel). The pretrained stem
// carries colour-opponent filters whose A and B nearly vanish on grey input; their large
// weights set coarse int8 steps whose rounding errors no longer cancel. The minimum-norm
// weights with the same A and B keep the fp32 function and quantise far better: a deployment
// for a grey sensor does this once, before quantising (tested: same fp32 logits).

extension Network {
    /// The network with its stem's weights replaced by the minimum-norm weights that compute the
    /// same function on grey images repeated into `pre`'s channels.
    public func withGreyStem(_ pre: Preprocessing) -> Network {
        let spec = arch.units[0]
        guard spec.groups == 1, spec.inChannels == pre.channels, pre.channels > 1 else { return self }
        var net = self
        let c = pre.channels, taps = spec.kernel * spec.kernel
        let m = pre.mean.map(Double.init), s = pre.std.map(Double.init)
        // u_c = w'_c / s_c = (λ + μ·m_c) / s_c² minimises Σ w'_c² subject to Σ u_c = A, Σ u_c·m_c = B.
        var g00 = 0.0, g01 = 0.0, g11 = 0.0
        for i in 0..<c { let q = 1 / (s[i] * s[i]); g00 += q; g01 += q * m[i]; g11 += q * m[i] * m[i] }
        let det = g00 * g11 - g01 * g01
        guard abs(det) > 1e-12 else { return self }
        for o in 0..<spec.outChannels {
            for t in 0..<taps {
                var a = 0.0, b = 0.0
                for i in 0..<c {
                    let w = Double(net.units[0].weight[(o * c + i) * taps + t])
                    a += w / s[i]; b += w * m[i] / s[i]
                }
                let lambda = (a * g11 - b * g01) / det, mu = (b * g00 - a * g01) / det
                for i in 0..<c {
                    let u = (lambda + mu * m[i]) / (s[i] * s[i])
                    net.units[0].weight[(o * c + i) * taps + t] = Float(u * s[i])
                }
            }
        }
        return net
    }
}
