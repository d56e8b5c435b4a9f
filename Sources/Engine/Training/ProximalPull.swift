// The proximal step of a pull λ/2‖θ − θ_ref‖² after an SGD step at rate η:
// θ ← (θ + c·θ_ref) / (1 + c), c = η·λ, on the parameters a device can update. It is the exact
// minimiser of the quadratic around the SGD iterate, so it is stable for every λ, and λ → ∞ gives
// θ_ref (Ditto's personal model becomes the global one). An int8 device pulls its int8 weights and
// rounds them stochastically to their grid, as its QAS update does, so that small pulls survive
// in expectation.

extension DeviceSession {
    /// Pulls `network` towards `reference` on the weights of `weightUnits`, the biases of
    /// `biasUnits` and, with `classifier`, the classifier; each group at its own rate from `rates`
    /// (c = η_group·λ). `seed` seeds an int8 device's stochastic rounding.
    public func pull(towards reference: Network, lambda: Float, rates: LearningRates, weightUnits: Set<Int>, biasUnits: Set<Int>,
                     classifier: Bool, seed: UInt64) {
        let cw = rates.weights * lambda, cb = rates.bias * lambda, ch = rates.head * lambda
        func mix(_ v: Float, _ w: Float, _ c: Float) -> Float { (v + c * w) / (1 + c) }
        guard var state = int8State, state.view == network else {
            // Real-valued (or not yet quantised: the next int8 step quantises the pulled values).
            var net = network
            for u in weightUnits { Self.mix(&net.units[u].weight, reference.units[u].weight, cw) }
            for u in biasUnits { Self.mix(&net.units[u].bias, reference.units[u].bias, cb) }
            if classifier {
                Self.mix(&net.classifierWeight, reference.classifierWeight, ch)
                Self.mix(&net.classifierBias, reference.classifierBias, ch)
            }
            network = net
            return
        }
        var rng = SplitMix64(seed: seed)
        func stochastic(_ x: Float) -> Int8 {
            let u = Float(rng.next() >> 40) / Float(1 << 24)
            return Int8(max(-127, min(127, (x + u).rounded(.down))))
        }
        var q = state.model
        for u in weightUnits {
            let per = q.units[u].perChannel, ref = reference.units[u].weight
            if var master = q.masters[u] {  // fp32 masters: pull them, round the int8 weights from them
                Self.mix(&master, ref, cw)
                for i in master.indices { q.units[u].weight[i] = Int8(max(-127, min(127, (master[i] / q.units[u].weightScales[i / per]).rounded()))) }
                q.masters[u] = master
            } else {
                for i in q.units[u].weight.indices {
                    let s = q.units[u].weightScales[i / per]
                    q.units[u].weight[i] = stochastic(mix(s * Float(q.units[u].weight[i]), ref[i], cw) / s)
                }
            }
        }
        for u in biasUnits {
            let ref = reference.units[u].bias, inScale = q.units[u].input.scale
            for o in q.units[u].bias.indices {
                let scale = q.units[u].weightScales[o] * inScale
                let p = mix(scale * Float(q.units[u].bias[o]), ref[o], cb) / scale
                if p.isFinite { q.units[u].bias[o] = Int32(clamping: Int64(max(-9e18, min(9e18, p.rounded())))) }
            }
        }
        for u in weightUnits.union(biasUnits) { q.units[u].refreshOffsets() }
        if classifier {
            let features = q.arch.features, pooledScale = q.pooled.scale
            if var master = q.masters[q.classifierIndex] {
                Self.mix(&master, reference.classifierWeight, ch)
                for i in master.indices { q.classifierWeight[i] = Int8(max(-127, min(127, (master[i] / q.classifierScales[i / features]).rounded()))) }
                q.masters[q.classifierIndex] = master
            } else {
                for i in q.classifierWeight.indices {
                    let s = q.classifierScales[i / features]
                    q.classifierWeight[i] = stochastic(mix(s * Float(q.classifierWeight[i]), reference.classifierWeight[i], ch) / s)
                }
            }
            for o in q.classifierBias.indices {
                let scale = q.classifierScales[o] * pooledScale
                let p = mix(scale * Float(q.classifierBias[o]), reference.classifierBias[o], ch) / scale
                if p.isFinite { q.classifierBias[o] = Int32(clamping: Int64(max(-9e18, min(9e18, p.rounded())))) }
            }
        }
        let view = q.dequantized(over: network, units: weightUnits.union(biasUnits), classifier: classifier)
        settingView = true
        network = view
        settingView = false
        state = (q, view)
        int8State = state
    }

    /// a ← (a + c·b) / (1 + c), element-wise.
    static func mix(_ a: inout [Float], _ b: [Float], _ c: Float) {
        precondition(a.count == b.count, "ProximalPull: tensors of \(a.count) and \(b.count) values")
        let d = 1 / (1 + c)
        for i in a.indices { a[i] = (a[i] + c * b[i]) * d }
    }
}
