// Clipping a device's whole update to an L2 norm (DP-FedAvg, McMahan et al. 2018): every value
// of every shared tensor is scaled by min(1, S / ‖Δ‖), so one device moves the sum by at most S.
// The norm is accumulated in f64.

/// L2 clipping of an update given as one array of values per tensor.
public enum L2Clipping {
    /// The L2 norm of all `values`, in f64.
    public static func norm(_ values: [[Float]]) -> Double {
        var sum = 0.0
        for t in values { for v in t { sum += Double(v) * Double(v) } }
        return sum.squareRoot()
    }

    /// Scales `values` so that their joint L2 norm is at most `bound`; returns whether it clipped.
    @discardableResult
    public static func clip(_ values: inout [[Float]], to bound: Double) -> Bool {
        precondition(bound > 0 && bound.isFinite, "L2Clipping: the bound must be positive and finite")
        let n = norm(values)
        guard n > bound else { return false }
        let scale = Float(bound / n)
        for i in values.indices { for j in values[i].indices { values[i][j] *= scale } }
        // Float rounding can leave the norm a hair above the bound; shrink until it is not.
        var s: Float = 1
        while norm(values) > bound {
            s *= 1 - 1e-6
            for i in values.indices { for j in values[i].indices { values[i][j] *= s } }
        }
        return true
    }
}
