// The coordinator's side of a SecAgg+ round: it relays keys and sealed shares between neighbours,
// sums the masked inputs, and unmasks the sum: it rebuilds each survivor's self-mask seed and each
// dropout's mask private key from the neighbours' shares (each checked against the commitment its
// dealer published, each rebuilt secret against its owner's commitment or public key), subtracts
// the survivors' self masks and the dropouts' pairwise masks with survivors, and is left with the
// sum of the survivors' inputs alone. Every message is checked before it changes anything; a bad
// one is refused with a SecAggError and the round goes on without that participant's message.
//
// Trust: the devices may be hostile; the coordinator is assumed honest-but-curious (it follows
// the protocol and learns only what it sees). A dealer whose shares do not rebuild its committed
// secret makes the round refuse (naming it) rather than go on: going on would need verifiable
// secret sharing or an extra exclusion phase, neither built.

/// The coordinator in one round.
public final class SecAggServer {
    /// Where the round is.
    public enum Phase: String, Sendable { case advertise, deal, maskedInput, unmask, finished }

    /// The round's parameters.
    public let parameters: SecAggParameters
    /// The round's graph.
    public let graph: NeighbourGraph
    /// The current phase.
    public private(set) var phase = Phase.advertise
    private var adverts: [Int: AdvertiseKeys] = [:]
    private var dealt: [Int: DealtShares] = [:]
    private var inputs: [Int: [UInt32]] = [:]
    private var unmasks: [Int: UnmaskShares] = [:]
    /// Participants left out, with why (refused messages, missing phases).
    public private(set) var dropped: [Int: String] = [:]
    /// Per participant, the coordinates of the round's `parameters.length` its vector covers (in
    /// order); nil: every participant covers all of them. Neighbours cover the same ones, so
    /// their pairwise masks cancel coordinate by coordinate.
    public let supports: [[Int32]]?

    /// A round over `graph` with `parameters`; with `supports`, participant i's masked vector
    /// holds the coordinates `supports[i]` of the sum (the `dealt` modes: public blocks).
    public init(parameters: SecAggParameters, graph: NeighbourGraph, supports: [[Int32]]? = nil) {
        precondition(graph.count == parameters.participants, "SecAggServer: graph and parameters disagree on n")
        if let supports {
            precondition(supports.count == graph.count && supports.allSatisfy { $0.allSatisfy { (0..<Int32(parameters.length)).contains($0) } },
                         "SecAggServer: one support per participant, inside the round's length")
            precondition((0..<graph.count).allSatisfy { i in graph.neighbours[i].allSatisfy { supports[$0] == supports[i] } },
                         "SecAggServer: neighbours must cover the same coordinates")
        }
        self.parameters = parameters; self.graph = graph; self.supports = supports
    }

    /// The length of participant i's masked vector.
    public func length(of i: Int) -> Int { supports?[i].count ?? parameters.length }

    /// `sum` += `v` (the vector of participant i, or a mask of its length) at i's coordinates;
    /// `subtract`: −=.
    private func accumulate(_ sum: inout [UInt32], _ v: [UInt32], of i: Int, subtract: Bool = false) {
        let bits = parameters.ringBits
        guard let s = supports?[i] else {
            if subtract { Ring.subtract(&sum, v, bits: bits) } else { Ring.add(&sum, v, bits: bits) }
            return
        }
        let m: UInt32 = bits == 32 ? .max : (1 << UInt32(bits)) - 1
        for (p, c) in s.enumerated() { sum[Int(c)] = (subtract ? sum[Int(c)] &- v[p] : sum[Int(c)] &+ v[p]) & m }
    }

    /// U1: who advertised keys.
    public var advertised: Set<Int> { Set(adverts.keys) }
    /// U2: who dealt shares.
    public var dealers: Set<Int> { Set(dealt.keys) }
    /// U3: whose masked input was accepted.
    public var survivors: Set<Int> { Set(inputs.keys) }
    /// U4: survivors whose unmask shares were accepted.
    public var unmasked: Set<Int> { Set(unmasks.keys) }
    /// After `finish`: the survivors whose inputs the sum holds.
    public private(set) var summed: Set<Int> = []
    /// After `finish`: survivors left out because their component's secrets could not be
    /// rebuilt (a graph of cliques: their group), with why.
    public private(set) var leftOut: [Int: String] = [:]

    private func expect(_ p: Phase) throws { guard phase == p else { throw SecAggError.wrongPhase(phase.rawValue) } }
    private func known(_ i: Int) throws { guard (0..<parameters.participants).contains(i) else { throw SecAggError.unknownParticipant(i) } }

    /// Phase 0: one participant's keys.
    public func receive(_ m: AdvertiseKeys) throws {
        try expect(.advertise); try known(m.participant)
        guard adverts[m.participant] == nil else { throw SecAggError.duplicate(m.participant) }
        guard m.maskPublicKey.count == 32, m.sharePublicKey.count == 32, m.selfMaskCommitment.count == 32 else {
            throw SecAggError.malformed(m.participant, "public keys and the commitment are 32 bytes each")
        }
        guard m.maskPublicKey != m.sharePublicKey else { throw SecAggError.malformed(m.participant, "the two public keys must differ") }
        adverts[m.participant] = m
    }

    /// Ends phase 0: for each participant in U1, its neighbours' keys (what to relay to it).
    public func closeAdvertise() throws -> [Int: [AdvertiseKeys]] {
        try expect(.advertise)
        guard adverts.count >= parameters.threshold else { throw SecAggError.tooFewSurvivors(have: adverts.count, need: parameters.threshold) }
        phase = .deal
        for i in 0..<parameters.participants where adverts[i] == nil { dropped[i] = "sent no keys" }
        return Dictionary(uniqueKeysWithValues: adverts.keys.map { i in (i, graph.neighbours[i].compactMap { adverts[$0] }) })
    }

    /// Phase 1: one dealer's sealed shares; they must cover exactly its neighbours in U1.
    public func receive(_ m: DealtShares) throws {
        try expect(.deal); try known(m.participant)
        guard adverts[m.participant] != nil else { throw SecAggError.malformed(m.participant, "dealt shares without having advertised keys") }
        guard dealt[m.participant] == nil else { throw SecAggError.duplicate(m.participant) }
        let expected = Set(graph.neighbours[m.participant].filter { adverts[$0] != nil })
        guard Set(m.shares.map(\.to)) == expected, m.shares.count == expected.count, m.shares.allSatisfy({ $0.from == m.participant }),
              Set(m.selfMaskShareCommitments.keys) == expected, Set(m.maskKeyShareCommitments.keys) == expected,
              (m.selfMaskShareCommitments.values.map(\.count) + m.maskKeyShareCommitments.values.map(\.count)).allSatisfy({ $0 == 32 }) else {
            throw SecAggError.malformed(m.participant, "shares and commitments must cover exactly its \(expected.count) neighbours that advertised keys, once each")
        }
        dealt[m.participant] = m
    }

    /// Ends phase 1: for each dealer, the sealed shares its neighbours dealt it (what to relay).
    public func closeDeal() throws -> [Int: [SealedShares]] {
        try expect(.deal)
        guard dealt.count >= parameters.threshold else { throw SecAggError.tooFewSurvivors(have: dealt.count, need: parameters.threshold) }
        phase = .maskedInput
        for i in adverts.keys where dealt[i] == nil { dropped[i] = "dealt no shares" }
        var out: [Int: [SealedShares]] = [:]
        for i in dealt.keys { out[i] = [] }
        for d in dealt.values { for s in d.shares where dealt[s.to] != nil { out[s.to]!.append(s) } }
        return out
    }

    /// Phase 2: one dealer's masked input.
    public func receive(_ m: MaskedInput) throws {
        try expect(.maskedInput); try known(m.participant)
        guard dealt[m.participant] != nil else { throw SecAggError.malformed(m.participant, "sent a masked input without having dealt shares") }
        guard inputs[m.participant] == nil else { throw SecAggError.duplicate(m.participant) }
        guard m.values.count == length(of: m.participant) else {
            throw SecAggError.wrongLength(participant: m.participant, expected: length(of: m.participant), got: m.values.count)
        }
        let limit: UInt64 = parameters.ringBits == 32 ? UInt64(UInt32.max) : (1 << UInt64(parameters.ringBits)) - 1
        guard m.values.allSatisfy({ UInt64($0) <= limit }) else { throw SecAggError.malformed(m.participant, "a value lies outside Z_2^\(parameters.ringBits)") }
        inputs[m.participant] = m.values
    }

    /// Ends phase 2: the survivors U3, to be sent to each of them.
    public func closeMaskedInput() throws -> Set<Int> {
        try expect(.maskedInput)
        guard inputs.count >= parameters.threshold else { throw SecAggError.tooFewSurvivors(have: inputs.count, need: parameters.threshold) }
        phase = .unmask
        for i in dealt.keys where inputs[i] == nil { dropped[i] = "sent no masked input" }
        return survivors
    }

    /// Phase 3: one survivor's shares. Each must match the commitment its dealer published, and
    /// no neighbour may get both kinds.
    public func receive(_ m: UnmaskShares) throws {
        try expect(.unmask); try known(m.participant)
        guard inputs[m.participant] != nil else { throw SecAggError.malformed(m.participant, "only survivors answer the unmask request") }
        guard unmasks[m.participant] == nil else { throw SecAggError.duplicate(m.participant) }
        for (v, s) in m.selfMaskShares {
            guard inputs[v] != nil, let d = dealt[v], d.selfMaskShareCommitments[m.participant] == ShareCommitment.of(s, kind: 1, holder: m.participant) else {
                throw SecAggError.malformed(m.participant, "its share of participant \(v)'s self-mask seed does not match what \(v) dealt it")
            }
        }
        for (v, s) in m.maskKeyShares {
            guard inputs[v] == nil, let d = dealt[v], d.maskKeyShareCommitments[m.participant] == ShareCommitment.of(s, kind: 2, holder: m.participant) else {
                throw SecAggError.malformed(m.participant, "its share of participant \(v)'s mask key does not match what \(v) dealt it, or \(v) survived")
            }
        }
        unmasks[m.participant] = m
    }

    /// Ends the round: the sum of the survivors' inputs in Z_{2^b} (those in `summed`), or why
    /// it cannot be unmasked (too few valid shares of some secret, or a dealer whose shares do not
    /// rebuild its commitment). Masks cancel within a connected component of the graph, so each
    /// component is unmasked on its own: one whose secrets cannot be rebuilt is left out whole
    /// (`leftOut`: its inputs are never added, nothing of it is revealed), and the round is
    /// refused only when no component is left. A Harary graph is one component.
    public func finish() throws -> [UInt32] {
        try expect(.unmask)
        let p = parameters
        var sum = [UInt32](repeating: 0, count: p.length)
        var lastError: Error?
        for component in graph.components {
            let survivors = component.filter { inputs[$0] != nil }
            guard !survivors.isEmpty else { continue }
            let dropouts = component.filter { inputs[$0] == nil && dealt[$0] != nil }
            do {
                // Every secret first: a component is added only when all of them rebuild.
                let seeds = try survivors.map { u in
                    try rebuild(u, shares: unmasks.values.compactMap { $0.selfMaskShares[u] }, count: 32) {
                        PairwiseKeys.commitment($0) == self.adverts[u]!.selfMaskCommitment
                    }
                }
                let keys = try dropouts.map { v in
                    try rebuild(v, shares: unmasks.values.compactMap { $0.maskKeyShares[v] }, count: 32) {
                        PairwiseKeys.publicKey(ofPrivate: $0) == self.adverts[v]!.maskPublicKey
                    }
                }
                for (u, seed) in zip(survivors, seeds) {
                    accumulate(&sum, inputs[u]!, of: u)
                    accumulate(&sum, MaskStream.ring(seed: seed, nonce: p.round, count: length(of: u), bits: p.ringBits), of: u, subtract: true)
                }
                for (v, key) in zip(dropouts, keys) {
                    for u in graph.neighbours[v] where inputs[u] != nil {
                        let seed = try PairwiseKeys.secret(privateKey: key, publicKey: adverts[u]!.maskPublicKey, purpose: .mask, round: p.round)
                        let mask = MaskStream.ring(seed: seed, nonce: p.round, count: length(of: u), bits: p.ringBits)
                        // u added +mask if u < v, −mask otherwise: take it back out.
                        accumulate(&sum, mask, of: u, subtract: u < v)
                    }
                }
                summed.formUnion(survivors)
            } catch {
                lastError = error
                for u in survivors { leftOut[u] = "\(error)" }
            }
        }
        guard !summed.isEmpty else { throw lastError ?? SecAggError.tooFewSurvivors(have: 0, need: p.threshold) }
        phase = .finished
        return sum
    }

    /// The secret of `owner` from `shares` (t of them), accepted only when `valid` says it is
    /// the one the owner committed to.
    private func rebuild(_ owner: Int, shares: [Share], count: Int, valid: ([UInt8]) -> Bool) throws -> [UInt8] {
        let t = parameters.threshold
        guard shares.count >= t else { throw SecAggError.tooFewShares(participant: owner, have: shares.count, need: t) }
        let chosen = Array(shares.sorted { $0.x < $1.x }.prefix(t))
        guard let elements = ShamirSharing.reconstruct(chosen), let bytes = SecretEncoding.bytes(elements, count: count), valid(bytes) else {
            // Every share matched its published commitment, so the dealer's shares are inconsistent.
            throw SecAggError.inconsistentDealer(owner)
        }
        return bytes
    }
}
