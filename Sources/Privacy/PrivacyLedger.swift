// Round-by-round privacy accounting: the running RDP curve of a run, one round added at a time
// (rounds may differ in sampling rate and noise), and ε so far at any δ.

/// The privacy spent so far by a run, kept as an RDP curve that grows by one term per round.
public struct PrivacyLedger: Sendable, Equatable {
    /// The accountant whose orders the curve is kept over.
    public let accountant: RDPAccountant
    /// The composed RDP at each of `accountant.orders` (all zero before the first round).
    public private(set) var rdp: [Double]
    /// Rounds recorded so far.
    public private(set) var rounds: Int = 0

    /// An empty ledger (no privacy spent) over `accountant`'s orders.
    public init(accountant: RDPAccountant = RDPAccountant()) {
        self.accountant = accountant
        rdp = Array(repeating: 0, count: accountant.orders.count)
    }

    /// Adds `steps` rounds (one by default) of the sampled Gaussian mechanism with sampling rate
    /// `q` and noise multiplier `z`; RDP composes by adding.
    public mutating func record(samplingRate q: Double, noiseMultiplier z: Double, steps: Int = 1) {
        precondition(steps >= 0, "steps (rounds) must be ≥ 0; got \(steps)")
        guard steps > 0 else { return }
        let one = accountant.rdp(samplingRate: q, noiseMultiplier: z)
        for k in rdp.indices { rdp[k] += Double(steps) * one[k] }
        rounds += steps
    }

    /// ε spent so far at `delta`, and the order that attains it (0 before any round).
    public func epsilon(delta: Double) -> (epsilon: Double, order: Double) {
        accountant.epsilon(rdp: rdp, delta: delta)
    }
}
