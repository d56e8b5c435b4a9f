// Calibrating the noise multiplier z to a target ε: the smallest z (to a relative tolerance)
// whose ε after the given rounds, by the same accountant, is within the target. Bisection on z,
// since ε falls as z grows.

extension RDPAccountant {
    /// The default largest noise multiplier the calibration searches.
    public static let defaultMaxNoiseMultiplier = 100.0

    /// The smallest noise multiplier z (within `relativeTolerance` of it, from above) such that
    /// `steps` rounds with sampling rate `q` spend at most `targetEpsilon` at `delta`.
    ///
    /// The returned z always satisfies the target: ε(z) ≤ targetEpsilon by this accountant.
    /// Throws `PrivacyAccountingError.targetUnreachable`, naming the smallest reachable ε, when
    /// even z = `maxNoiseMultiplier` spends more than the target, and `.invalidSetting` for a
    /// target that is not a positive finite number or a bad search setting.
    public func noiseMultiplier(forTargetEpsilon targetEpsilon: Double, samplingRate q: Double, steps: Int,
                                delta: Double, maxNoiseMultiplier: Double = RDPAccountant.defaultMaxNoiseMultiplier,
                                relativeTolerance: Double = 1e-6) throws -> Double {
        guard targetEpsilon > 0, targetEpsilon.isFinite else {
            throw PrivacyAccountingError.invalidSetting(name: "target epsilon", value: targetEpsilon,
                                                        requirement: "a positive finite number")
        }
        guard maxNoiseMultiplier > 0, maxNoiseMultiplier.isFinite else {
            throw PrivacyAccountingError.invalidSetting(name: "maxNoiseMultiplier", value: maxNoiseMultiplier,
                                                        requirement: "a positive finite number")
        }
        guard relativeTolerance > 0, relativeTolerance < 1 else {
            throw PrivacyAccountingError.invalidSetting(name: "relativeTolerance", value: relativeTolerance,
                                                        requirement: "in (0, 1)")
        }
        func spends(_ z: Double) -> Double {
            epsilon(samplingRate: q, noiseMultiplier: z, steps: steps, delta: delta).epsilon
        }
        let atMax = spends(maxNoiseMultiplier)
        guard atMax <= targetEpsilon else {
            throw PrivacyAccountingError.targetUnreachable(target: targetEpsilon, smallestReachable: atMax,
                                                           maxNoiseMultiplier: maxNoiseMultiplier,
                                                           samplingRate: q, steps: steps, delta: delta)
        }
        // Bracket: ε(lo) > target ≥ ε(hi). z = 0 spends ∞, so lo = 0 is a valid start; halve hi
        // from the maximum while it still meets the target to make the bracket tight first.
        var lo = 0.0, hi = maxNoiseMultiplier
        while hi > 1e-3 {
            let half = hi / 2
            if spends(half) <= targetEpsilon { hi = half } else { lo = half; break }
        }
        while hi - lo > relativeTolerance * hi {
            let mid = (lo + hi) / 2
            if spends(mid) <= targetEpsilon { hi = mid } else { lo = mid }
        }
        return hi
    }
}
