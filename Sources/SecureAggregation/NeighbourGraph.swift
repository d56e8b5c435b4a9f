// The SecAgg+ communication graph (Bell, Bonawitz, Gascón, Lepoint, Raykova, CCS 2020): instead
// of every pair of devices, each device masks with, and deals shares to, only its k neighbours.
// The graph is a Harary graph H(k, n) (a ring where each node links to the k/2 nearest on either
// side) over a seeded random permutation of the cohort, so who neighbours whom is random but
// public. k ≥ n − 1 gives the complete graph: classic SecAgg (Bonawitz et al. 2017).

/// Who masks with whom in one round.
public struct NeighbourGraph: Equatable, Sendable {
    /// Cohort size n.
    public let count: Int
    /// neighbours[i]: the sorted neighbours of participant i (never i itself).
    public let neighbours: [[Int]]

    /// The graph of `count` participants with degree `k` (even, or n − 1; clamped to n − 1),
    /// shuffled by `rng`.
    public init<G: RandomNumberGenerator>(count: Int, degree k: Int, using rng: inout G) {
        precondition(count >= 1 && k >= 1, "NeighbourGraph: needs at least one participant and degree ≥ 1")
        self.count = count
        if k >= count - 1 {
            neighbours = (0..<count).map { i in (0..<count).filter { $0 != i } }
            return
        }
        precondition(k % 2 == 0, "NeighbourGraph: a Harary graph below the complete graph needs an even degree (got \(k))")
        var order = Array(0..<count)
        order.shuffle(using: &rng)
        var sets = Array(repeating: Set<Int>(), count: count)
        for (pos, node) in order.enumerated() {
            for d in 1...(k / 2) {
                let other = order[(pos + d) % count]
                sets[node].insert(other); sets[other].insert(node)
            }
        }
        neighbours = sets.map { $0.sorted() }
    }

    /// Cliques: every participant neighbours exactly the others of its group (the `dealt` modes,
    /// where a group shares one block of coordinates). `groups` must partition 0..<count, each
    /// group at least 2 participants.
    public init(groups: [[Int]], count: Int) {
        precondition(groups.flatMap { $0 }.sorted() == Array(0..<count) && groups.allSatisfy { $0.count >= 2 },
                     "NeighbourGraph: groups must partition the participants, two or more each")
        self.count = count
        var rows = [[Int]](repeating: [], count: count)
        for g in groups { for i in g { rows[i] = g.filter { $0 != i }.sorted() } }
        neighbours = rows
    }

    /// The connected components (each sorted, in order of their smallest member): masks cancel
    /// within a component, so each one's sum can be unmasked, or left out, on its own.
    public var components: [[Int]] {
        var seen = [Bool](repeating: false, count: count), out: [[Int]] = []
        for start in 0..<count where !seen[start] {
            var stack = [start], members: [Int] = []
            seen[start] = true
            while let i = stack.popLast() {
                members.append(i)
                for j in neighbours[i] where !seen[j] { seen[j] = true; stack.append(j) }
            }
            out.append(members.sorted())
        }
        return out
    }

    /// The fewest neighbours any participant has.
    public var minimumDegree: Int { neighbours.map(\.count).min() ?? 0 }

    /// Whether i and j are neighbours.
    public func adjacent(_ i: Int, _ j: Int) -> Bool { neighbours[i].contains(j) }
}
