// The Rényi-DP accountant of the Poisson-subsampled Gaussian mechanism, composed over rounds and
// converted to (ε, δ) — the accountant of DP-FedAvg, where each round samples every device with
// probability q, clips its update to L2 norm S and adds N(0, z²S²) noise to the sum.
//
// References:
// - I. Mironov, K. Talwar, L. Zhang, "Rényi Differential Privacy of the Sampled Gaussian
//   Mechanism", arXiv:1908.10530 (2019): the RDP of one step, integer orders by the binomial
//   expansion (§3.2), fractional orders by the two-sided series (§3.3).
// - I. Mironov, "Rényi Differential Privacy", CSF 2017: RDP composes by adding over steps.
// - B. Balle, G. Barthe, M. Gaboardi, J. Hsu, T. Sato, "Hypothesis Testing Interpretations and
//   Rényi Differential Privacy", AISTATS 2020, Prop. 12 (also S. Asoodeh et al. 2020, and
//   C. Canonne, G. Kamath, T. Steinke 2020): the RDP → (ε, δ) conversion used here.
// - Google's dp-accounting (PyPI `dp-accounting`, module dp_accounting.rdp.rdp_privacy_accountant,
//   version 0.6.0), which this file follows step for step — the default orders, both expansions
//   with their stopping rule, and the conversion — so that the numbers agree: the committed
//   fixture Tests/PrivacyTests/Fixtures/rdp_grid.json (tools/make_dp_fixture.py) is checked to 1 %.
//
// Neighbouring relation: add or remove one device (Poisson sampling). All arithmetic is in
// Double and in log space; T = 10⁶ rounds, q ∈ (0, 1] and z ∈ [0.3, 100] stay finite.

/// Rényi-DP accounting of the Poisson-subsampled Gaussian mechanism over a fixed set of orders.
public struct RDPAccountant: Sendable, Equatable {
    /// dp-accounting's `DEFAULT_RDP_ORDERS`: 1.1, 1.2, …, 10.9, then 11, 12, …, 63, then 128, 256,
    /// 512, 1024 (156 orders; 2.0, 3.0, …, 10.0 are integers and use the exact expansion).
    public static let defaultOrders: [Double] = {
        let fractional: [Double] = (1..<100).map { (x: Int) -> Double in 1 + Double(x) / 10.0 }
        let integer: [Double] = (11..<64).map { (a: Int) -> Double in Double(a) }
        let large: [Double] = [128, 256, 512, 1024]
        return fractional + integer + large
    }()

    /// The RDP orders α (each > 1) over which ε is minimised.
    public let orders: [Double]

    /// An accountant over `orders` (dp-accounting's defaults unless given).
    public init(orders: [Double] = RDPAccountant.defaultOrders) {
        precondition(!orders.isEmpty, "an RDP accountant needs at least one order")
        for alpha in orders {
            precondition(alpha > 1 && !alpha.isNaN, "RDP orders must be > 1; got \(alpha) (order 1 is the KL divergence, not supported)")
        }
        self.orders = orders
    }

    /// The RDP of one round at every order (sampling rate q, noise multiplier z).
    public func rdp(samplingRate q: Double, noiseMultiplier z: Double) -> [Double] {
        orders.map { SampledGaussianRDP.rdp(samplingRate: q, noiseMultiplier: z, order: $0) }
    }

    /// ε at `delta` of an RDP curve over `orders` (for example a sum over heterogeneous rounds),
    /// and the order that attains it.
    public func epsilon(rdp: [Double], delta: Double) -> (epsilon: Double, order: Double) {
        RDPConversion.epsilon(orders: orders, rdp: rdp, delta: delta)
    }

    /// ε at `delta` after `steps` rounds of the sampled Gaussian mechanism with sampling rate `q`
    /// and noise multiplier `z`, and the RDP order that attains it. RDP adds over rounds, so the
    /// curve is `steps` × the one-round curve. z = 0 gives ε = +∞; steps = 0 or q = 0 give 0.
    public func epsilon(samplingRate q: Double, noiseMultiplier z: Double, steps: Int,
                        delta: Double) -> (epsilon: Double, order: Double) {
        precondition(steps >= 0, "steps (rounds) must be ≥ 0; got \(steps)")
        let t = Double(steps)
        return epsilon(rdp: rdp(samplingRate: q, noiseMultiplier: z).map { t == 0 ? 0 : t * $0 }, delta: delta)
    }

    /// ε at `delta` after each of rounds 1…`rounds` (element k − 1 is ε after round k), with the
    /// order attaining each; the one-round curve is computed once.
    public func epsilonAfterEachRound(samplingRate q: Double, noiseMultiplier z: Double, rounds: Int,
                                      delta: Double) -> [(epsilon: Double, order: Double)] {
        precondition(rounds >= 0, "rounds must be ≥ 0; got \(rounds)")
        let one = rdp(samplingRate: q, noiseMultiplier: z)
        return (0..<rounds).map { k in epsilon(rdp: one.map { Double(k + 1) * $0 }, delta: delta) }
    }
}
