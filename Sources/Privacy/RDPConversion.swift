// RDP → (ε, δ): the improved conversion dp-accounting's compute_epsilon uses (Balle, Barthe,
// Gaboardi, Hsu, Sato 2020, "Hypothesis testing interpretations and Rényi differential privacy",
// Prop. 12; also Asoodeh et al. 2020, eq. 20), minimised over the orders.

import Foundation

/// Converts an RDP curve to ε at a given δ.
public enum RDPConversion {
    /// The smallest ε over `orders` at `delta`, and the order that attains it:
    /// ε(α) = RDP(α) + log(1 − 1/α) − log(δ·α)/(α − 1) for α > 1.01; ε = 0 where the KL bound
    /// δ ≥ √(1 − e^{−RDP}) already holds; +∞ for an order ≤ 1.01 or an infinite RDP. Ties go to
    /// the first order, as numpy's argmin. An all-infinite curve gives (+∞, orders[0]).
    public static func epsilon(orders: [Double], rdp: [Double], delta: Double) -> (epsilon: Double, order: Double) {
        precondition(!orders.isEmpty, "need at least one RDP order")
        precondition(orders.count == rdp.count, "orders (\(orders.count)) and RDP values (\(rdp.count)) must pair up")
        precondition(delta > 0 && delta < 1, "delta must be in (0, 1); got \(delta)")
        var best = Double.infinity, bestIndex = 0
        for (index, (a, r)) in zip(orders, rdp).enumerated() {
            precondition(a >= 1, "RDP order must be at least 1; got \(a)")
            let eps: Double
            if r < 0 {
                eps = 0  // numerical noise from an extreme event; dp-accounting also answers 0
            } else if delta * delta + expm1(-r) > 0 {
                eps = 0
            } else if a > 1.01 {
                eps = r + log1p(-1 / a) - log(delta * a) / (a - 1)
            } else {
                eps = .infinity
            }
            if eps < best { best = eps; bestIndex = index }
        }
        return (Swift.max(0, best), orders[bestIndex])
    }
}
