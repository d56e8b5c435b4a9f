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
        guard let state = int8State, state.view == network else {
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
        // Counter-based rounding keyed by (tensor, index), so the draws do not depend on the order
        // the units are visited in (a Set's order changes from process to process).
        let rounding = QASRounding(seed: seed)
        var q = state.model
        for u in weightUnits {
            Self.pullInt8(&q.units[u].weight, master: &q.masters[u], scales: q.units[u].weightScales, per: q.units[u].perChannel,
                          towards: reference.units[u].weight, c: cw, rounding: rounding, tensor: 2 * u)
        }
        for u in biasUnits {
            let inScale = q.units[u].input.scale, scales = q.units[u].weightScales
            Self.pullInt32(&q.units[u].bias, scale: { scales[$0] * inScale }, towards: reference.units[u].bias, c: cb)
        }
        for u in weightUnits.union(biasUnits) { q.units[u].refreshOffsets() }
        if classifier {
            let pooledScale = q.pooled.scale, scales = q.classifierScales
            Self.pullInt8(&q.classifierWeight, master: &q.masters[q.classifierIndex], scales: scales, per: q.arch.features,
                          towards: reference.classifierWeight, c: ch, rounding: rounding, tensor: 2 * q.classifierIndex)
            Self.pullInt32(&q.classifierBias, scale: { scales[$0] * pooledScale }, towards: reference.classifierBias, c: ch)
        }
        let view = q.dequantized(over: network, units: weightUnits.union(biasUnits), classifier: classifier)
        settingView = true
        network = view
        settingView = false
        int8State = (q, view, state.fromBlock)
    }

    /// Pulls int8 weights `w` (real value scales[i / per]·w[i]) towards `ref`. With fp32 `master`
    /// the master is pulled and `w` rounded from it to nearest; otherwise the pulled value is
    /// rounded stochastically (`rounding`, stream `tensor`), as the QAS update rounds.
    static func pullInt8(_ w: inout [Int8], master: inout [Float]?, scales: [Float], per: Int, towards ref: [Float], c: Float,
                         rounding: QASRounding, tensor: Int) {
        if var m = master {
            mix(&m, ref, c)
            for i in m.indices { w[i] = Int8(max(-127, min(127, (m[i] / scales[i / per]).rounded()))) }
            master = m
            return
        }
        let d = 1 / (1 + c)
        for i in w.indices {
            let s = scales[i / per]
            let pulled = (s * Float(w[i]) + c * ref[i]) * d / s
            w[i] = Int8(max(-127, min(127, rounding.round(Double(pulled), tensor: tensor, index: i))))
        }
    }

    /// Pulls int32 biases `b` (real value scale(o)·b[o]) towards `ref`, rounded to nearest.
    static func pullInt32(_ b: inout [Int32], scale: (Int) -> Float, towards ref: [Float], c: Float) {
        let d = 1 / (1 + c)
        for o in b.indices {
            let s = scale(o)
            let pulled = (s * Float(b[o]) + c * ref[o]) * d / s
            if pulled.isFinite { b[o] = Int32(clamping: Int64(max(-9e18, min(9e18, pulled.rounded())))) }
        }
    }

    /// a ← (a + c·b) / (1 + c), element-wise.
    static func mix(_ a: inout [Float], _ b: [Float], _ c: Float) {
        precondition(a.count == b.count, "ProximalPull: tensors of \(a.count) and \(b.count) values")
        let d = 1 / (1 + c)
        for i in a.indices { a[i] = (a[i] + c * b[i]) * d }
    }
}
