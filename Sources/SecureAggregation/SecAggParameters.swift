// The public settings of one secure-aggregation round, fixed by the coordinator before it starts
// and the same for every participant.

/// One round's public parameters.
public struct SecAggParameters: Equatable, Sendable {
    /// The round (binds every derived key and stream to it).
    public var round: UInt64
    /// Participants n (indices 0..<n, in the coordinator's order).
    public var participants: Int
    /// Neighbours per participant k (n − 1 or more: classic SecAgg).
    public var degree: Int
    /// Shares needed to reconstruct a secret, t (2 ≤ t ≤ k).
    public var threshold: Int
    /// Length of every masked vector.
    public var length: Int
    /// Ring width b (Z_{2^b}).
    public var ringBits: Int

    /// Checked parameters; throws `SecAggError.parameters` with the reason. `degree` is the
    /// fewest neighbours any participant has; `harary`: the graph is a Harary graph, whose
    /// degree below n − 1 must be even (a graph of cliques, `NeighbourGraph(groups:)`, need not be).
    public init(round: UInt64, participants: Int, degree: Int, threshold: Int, length: Int, ringBits: Int, harary: Bool = true) throws {
        guard participants >= 2 else { throw SecAggError.parameters("secure aggregation needs at least 2 participants (got \(participants))") }
        let k = min(degree, participants - 1)
        guard k >= 1, !harary || k == participants - 1 || k % 2 == 0 else {
            throw SecAggError.parameters("degree \(degree) must be even (a Harary graph), or at least n − 1 = \(participants - 1)")
        }
        guard threshold >= 2, threshold <= k else {
            throw SecAggError.parameters("threshold \(threshold) must be in 2...\(k) (the neighbours each participant deals shares to)")
        }
        guard length >= 1 else { throw SecAggError.parameters("vector length must be at least 1") }
        guard (1...32).contains(ringBits) else { throw SecAggError.parameters("ring width \(ringBits) must be 1...32 bits") }
        self.round = round; self.participants = participants; self.degree = k; self.threshold = threshold
        self.length = length; self.ringBits = ringBits
    }
}
