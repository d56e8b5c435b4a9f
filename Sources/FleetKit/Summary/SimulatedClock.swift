// The simulated wall clock of a round, FedScale-style: each reporting device takes
//   download + compute + upload, where a transfer of B bytes costs latency + 8·B / bandwidth,
//   compute = localSteps · batch · FLOPs per sample / device speed,
// and a lost message (probability p, drawn from a seeded RNG so a run's clock is reproducible)
// costs one more transfer plus a 2·latency timeout before the retransmission. The round ends when
// the slowest reporting device is done. With a simulated deadline (`rounds.simulatedDeadline`) the
// round is capped by it, devices past it count as simulated stragglers, and a round in which a
// sampled device really failed (straggler or dead node) lasted the whole simulated deadline.
import Engine
import Federation

/// Simulated timing of one round.
public struct SimulatedRound: Codable, Equatable, Sendable {
    /// Round number.
    public var round: Int
    /// Simulated seconds the round took.
    public var seconds: Double
    /// Slowest device's compute seconds.
    public var computeSeconds: Double
    /// Slowest device's transfer seconds (both directions, retransmissions included).
    public var transferSeconds: Double
    /// Messages lost and sent again.
    public var retransmissions: Int
    /// Reporting devices whose simulated time passed the simulated deadline (real stragglers are in `failures`).
    public var simulatedStragglers: Int
}

/// Computes simulated round times.
public struct SimulatedClock {
    /// The network model.
    public var network: NetworkModel
    /// Simulated deadline, seconds (nil: none).
    public var deadlineSeconds: Double?
    /// Device id → (compute seconds per round).
    public var computeSeconds: [String: Double]
    /// Node processes (a MODEL goes once to each node; a device downloads one copy).
    public var nodes: Int
    /// Seed of the loss draws.
    public var seed: UInt64

    /// A clock for a fleet plan.
    public init(topology t: Topology, plans: [GroupPlan], fleet: FleetPlan) {
        network = t.network
        deadlineSeconds = t.simulatedDeadlineMs.map { Double($0) / 1000 }
        nodes = max(1, t.nodes.count)
        seed = t.seed
        var compute: [String: Double] = [:]
        for (g, p) in zip(t.groups, plans) {
            let s = Double(g.localSteps * g.batch) * p.flopsPerSample / (g.mflops * 1e6)
            for id in g.deviceIDs { compute[id] = s }
        }
        computeSeconds = compute
    }

    /// Seconds to move `bytes` once.
    func transfer(_ bytes: Double) -> Double {
        network.latencyMs / 1000 + 8 * bytes / (network.bandwidthKbps * 1000)
    }

    /// Seconds to move `bytes` with losses drawn from `rng`; counts retransmissions.
    func lossyTransfer(_ bytes: Double, _ rng: inout SplitMix64, _ lost: inout Int) -> Double {
        var t = transfer(bytes)
        var tries = 0
        while network.dropProbability > 0, tries < 50, Double(rng.next() >> 11) / Double(1 << 53) < network.dropProbability {
            t += transfer(bytes) + 2 * network.latencyMs / 1000
            lost += 1; tries += 1
        }
        return t
    }

    /// The simulated timing of round `m`.
    public func round(_ m: RoundMetrics) -> SimulatedRound {
        var rng = SplitMix64(seed: seed ^ (m.round &* 0x9E37_79B9_7F4A_7C15) ^ 0x51A0)
        let down = Double(m.modelBytesDown) / Double(nodes)
        var slowest = 0.0, slowCompute = 0.0, slowTransfer = 0.0, lost = 0, late = 0
        for id in m.reporting {
            let c = computeSeconds[id] ?? 0
            let x = lossyTransfer(down, &rng, &lost) + lossyTransfer(Double(m.updateBytes[id] ?? 0), &rng, &lost)
            if let d = deadlineSeconds, c + x > d { late += 1 }
            if c + x > slowest { slowest = c + x; slowCompute = c; slowTransfer = x }
        }
        var seconds = slowest
        if let d = deadlineSeconds { seconds = m.failed.isEmpty ? min(slowest, d) : d }
        return SimulatedRound(round: Int(m.round), seconds: seconds, computeSeconds: slowCompute, transferSeconds: slowTransfer,
                              retransmissions: lost, simulatedStragglers: late)
    }
}
