// What the fault proxy does to the messages it forwards (FaultProxy): per direction, the
// chance that a message is dropped, duplicated or held back behind later ones (reordered), and
// the delay it gets (fixed latency plus uniform jitter). Plain values, checked by `validate`.

/// Which way a message travels through the proxy.
public enum ProxyDirection: String, CaseIterable, Codable, Sendable {
    /// Node → coordinator (frontend to upstream).
    case upstream
    /// Coordinator → node (upstream to frontend).
    case downstream
}

/// The faults of one direction.
public struct FaultRates: Equatable, Codable, Sendable {
    /// Probability that a message is discarded, in [0, 1].
    public var dropProbability: Double
    /// Probability that a kept message is sent twice, in [0, 1].
    public var duplicateProbability: Double
    /// Probability that a kept message is held back until later messages of its connection
    /// have overtaken it, in [0, 1].
    public var reorderProbability: Double
    /// Fixed delay of every message, ms (≥ 0).
    public var latencyMs: Double
    /// Extra delay drawn uniformly from [0, jitterMs) per message, ms (≥ 0). Messages of one
    /// connection still leave in order (as over TCP); only the reorder fault reorders them.
    public var jitterMs: Double
    /// Later messages of the same connection that overtake a reordered one (≥ 1).
    public var reorderDepth: Int
    /// Longest a reordered message waits for later ones after its own delay, ms (≥ 0): the last
    /// message of a burst is not held forever.
    public var reorderMaxHoldMs: Double

    /// Rates; every fault is off unless given.
    public init(dropProbability: Double = 0, duplicateProbability: Double = 0, reorderProbability: Double = 0,
                latencyMs: Double = 0, jitterMs: Double = 0, reorderDepth: Int = 1, reorderMaxHoldMs: Double = 200) {
        self.dropProbability = dropProbability
        self.duplicateProbability = duplicateProbability
        self.reorderProbability = reorderProbability
        self.latencyMs = latencyMs
        self.jitterMs = jitterMs
        self.reorderDepth = reorderDepth
        self.reorderMaxHoldMs = reorderMaxHoldMs
    }

    /// No faults: messages pass unchanged and at once.
    public static let none = FaultRates()

    /// Whether any fault is on.
    public var isActive: Bool {
        dropProbability > 0 || duplicateProbability > 0 || reorderProbability > 0 || latencyMs > 0 || jitterMs > 0
    }

    /// What is wrong with these rates, naming the field and the allowed range; nil when usable.
    public func problem() -> String? {
        for (name, p) in [("dropProbability", dropProbability), ("duplicateProbability", duplicateProbability),
                          ("reorderProbability", reorderProbability)] where !(p.isFinite && p >= 0 && p <= 1) {
            return "\(name) is \(p); use a probability in [0, 1]"
        }
        for (name, ms) in [("latencyMs", latencyMs), ("jitterMs", jitterMs), ("reorderMaxHoldMs", reorderMaxHoldMs)]
        where !(ms.isFinite && ms >= 0 && ms <= 600_000) {
            return "\(name) is \(ms); use milliseconds in [0, 600000]"
        }
        if !(1...1000).contains(reorderDepth) { return "reorderDepth is \(reorderDepth); use 1...1000 later messages" }
        return nil
    }
}

/// The faults of both directions and the seed of their decisions.
public struct FaultPlan: Equatable, Codable, Sendable {
    /// Seeds the decisions: the same seed and the same message sequence give the same faults.
    public var seed: UInt64
    /// Faults of node → coordinator messages.
    public var upstream: FaultRates
    /// Faults of coordinator → node messages.
    public var downstream: FaultRates

    /// A plan with separate rates per direction.
    public init(seed: UInt64, upstream: FaultRates, downstream: FaultRates) {
        self.seed = seed; self.upstream = upstream; self.downstream = downstream
    }

    /// A plan with the same rates both ways.
    public init(seed: UInt64, both rates: FaultRates) {
        self.init(seed: seed, upstream: rates, downstream: rates)
    }

    /// A plan that forwards everything unchanged.
    public static func passThrough(seed: UInt64 = 0) -> FaultPlan { FaultPlan(seed: seed, both: .none) }

    /// The rates of `direction`.
    public func rates(_ direction: ProxyDirection) -> FaultRates {
        direction == .upstream ? upstream : downstream
    }

    /// Throws `FaultPlanError` naming the first unusable rate.
    public func validate() throws {
        for d in ProxyDirection.allCases {
            if let p = rates(d).problem() { throw FaultPlanError(direction: d, problem: p) }
        }
    }
}

/// A fault plan that cannot be used.
public struct FaultPlanError: Error, Equatable, CustomStringConvertible {
    /// The direction whose rates are wrong.
    public var direction: ProxyDirection
    /// What is wrong and what is allowed.
    public var problem: String

    /// "fault plan (upstream): dropProbability is 2.0; use a probability in [0, 1]".
    public var description: String { "fault plan (\(direction.rawValue)): \(problem)" }
}
