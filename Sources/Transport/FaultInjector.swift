// The seeded decisions of the fault proxy: for each message, drop it or not, send it once or
// twice, how long to delay it, and whether to hold it back behind later ones. One generator per
// direction, so the decisions of one direction do not depend on how the other interleaves, and
// every message draws the same four numbers whatever is decided, so changing one probability
// never shifts the draws of the others.

/// SplitMix64 (Steele, Lea, Flood 2014): a small, fast, seedable generator, so that a proxy's
/// faults repeat from its seed on every platform.
public struct FaultRandom: RandomNumberGenerator, Equatable, Sendable {
    /// The generator state.
    public var state: UInt64

    /// A generator whose stream is fixed by `seed`.
    public init(seed: UInt64) { state = seed }

    /// The next 64 random bits.
    public mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    /// A uniform draw in [0, 1) with 53 random bits.
    public mutating func unit() -> Double { Double(next() >> 11) / Double(UInt64(1) << 53) }
}

/// What happens to one message.
public struct FaultDecision: Equatable, Sendable {
    /// The message is discarded (nothing else applies).
    public var drop: Bool
    /// Copies sent: 1, or 2 when duplicated (0 when dropped).
    public var copies: Int
    /// Delay before the message may leave, ms.
    public var delayMs: Double
    /// The message is held back until `reorderDepth` later messages of its connection left.
    public var reorder: Bool

    /// Whether a second copy is sent.
    public var duplicated: Bool { copies > 1 }
}

/// Draws fault decisions from a plan, reproducibly from its seed.
public struct FaultInjector: Sendable {
    /// The plan decided from.
    public let plan: FaultPlan
    private var upstream: FaultRandom
    private var downstream: FaultRandom

    /// An injector at the start of `plan`'s decision streams.
    public init(plan: FaultPlan) {
        self.plan = plan
        upstream = FaultRandom(seed: plan.seed ^ 0x5550_5354_5245_414D)  // "UPSTREAM"
        downstream = FaultRandom(seed: plan.seed ^ 0x444F_574E_5354_524D)  // "DOWNSTRM"
    }

    /// The decision for the next message travelling `direction`.
    public mutating func decide(_ direction: ProxyDirection) -> FaultDecision {
        let r = plan.rates(direction)
        let (u1, u2, u3, u4): (Double, Double, Double, Double)
        switch direction {
        case .upstream: (u1, u2, u3, u4) = (upstream.unit(), upstream.unit(), upstream.unit(), upstream.unit())
        case .downstream: (u1, u2, u3, u4) = (downstream.unit(), downstream.unit(), downstream.unit(), downstream.unit())
        }
        // `u < p` is never true for p = 0 and always true for p = 1 (u < 1).
        if u1 < r.dropProbability { return FaultDecision(drop: true, copies: 0, delayMs: 0, reorder: false) }
        return FaultDecision(drop: false, copies: u2 < r.duplicateProbability ? 2 : 1, delayMs: r.latencyMs + u3 * r.jitterMs,
                             reorder: u4 < r.reorderProbability)
    }
}
