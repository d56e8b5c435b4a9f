// One participant's side of a SecAgg+ round (Bonawitz et al., CCS 2017; Bell et al., CCS 2020):
// it advertises two X25519 public keys and a commitment to its self-mask seed, deals Shamir shares
// of that seed and of its mask private key to its neighbours (sealed under pairwise keys), sends
// its input plus its self mask and pairwise masks, and finally reveals, per neighbour, the share
// of the self-mask seed of a survivor or of the mask key of a dropout — never both.

/// A participant in one round.
public final class SecAggClient {
    /// Its index in the round.
    public let index: Int
    /// The round's parameters.
    public let parameters: SecAggParameters
    /// Its neighbours in the round's graph (sorted).
    public let neighbours: [Int]
    private let maskKeys: AgreementKeyPair
    private let shareKeys: AgreementKeyPair
    private let selfMaskSeed: [UInt8]
    private var rng: ChaChaGenerator
    /// Neighbour → its advertised keys (phase 0 as relayed).
    private var advertised: [Int: AdvertiseKeys] = [:]
    /// Dealer → the shares it dealt this participant (phase 1 as relayed and opened).
    private var held: [Int: (selfMask: Share, maskKey: Share)] = [:]
    /// Neighbours whose shares this participant masked with (U2 ∩ N(i)).
    private var maskedWith: Set<Int> = []
    private var revealed = false

    /// Participant `index` of the round's `graph` with its own 32-byte `seed` (all of its
    /// randomness derives from it).
    public convenience init(index: Int, parameters: SecAggParameters, graph: NeighbourGraph, seed: [UInt8]) {
        precondition(graph.count == parameters.participants && (0..<graph.count).contains(index), "SecAggClient: index or graph does not match the round")
        self.init(index: index, parameters: parameters, neighbours: graph.neighbours[index], seed: seed)
    }

    /// Participant `index` with its `neighbours` in the round's graph (what its TASK says) and
    /// its own 32-byte `seed`. Its masked vector has `parameters.length` elements: the
    /// coordinates it shares with every neighbour.
    public init(index: Int, parameters: SecAggParameters, neighbours: [Int], seed: [UInt8]) {
        precondition((0..<parameters.participants).contains(index) && !neighbours.contains(index), "SecAggClient: index or neighbours do not match the round")
        self.index = index; self.parameters = parameters; self.neighbours = neighbours.sorted()
        var g = ChaChaGenerator(seed: seed)
        maskKeys = AgreementKeyPair(using: &g)
        shareKeys = AgreementKeyPair(using: &g)
        selfMaskSeed = g.bytes(32)
        rng = g
    }

    /// Phase 0: the public keys and the self-mask commitment.
    public func advertise() -> AdvertiseKeys {
        AdvertiseKeys(participant: index, maskPublicKey: maskKeys.publicKey, sharePublicKey: shareKeys.publicKey,
                      selfMaskCommitment: PairwiseKeys.commitment(selfMaskSeed))
    }

    /// Phase 1: given the neighbours' advertised keys, the sealed shares for each of them.
    public func deal(neighbours keys: [AdvertiseKeys]) throws -> DealtShares {
        advertised = [:]
        for k in keys where neighbours.contains(k.participant) && k.maskPublicKey.count == 32 && k.sharePublicKey.count == 32 {
            advertised[k.participant] = k
        }
        let live = advertised.keys.sorted()
        guard live.count >= parameters.threshold else {
            throw SecAggError.tooFewNeighbours(participant: index, have: live.count, need: parameters.threshold)
        }
        let xs = live.map { UInt64($0 + 1) }
        let selfShares = ShamirSharing.split(SecretEncoding.elements(selfMaskSeed), threshold: parameters.threshold, xs: xs, using: &rng)
        let keyShares = ShamirSharing.split(SecretEncoding.elements(maskKeys.privateKey), threshold: parameters.threshold, xs: xs, using: &rng)
        var sealed: [SealedShares] = [], selfCommit: [Int: [UInt8]] = [:], keyCommit: [Int: [UInt8]] = [:]
        for (i, v) in live.enumerated() {
            let key = try PairwiseKeys.secret(privateKey: shareKeys.privateKey, publicKey: advertised[v]!.sharePublicKey,
                                              purpose: .shareEncryption, round: parameters.round)
            let plain = Self.encode(selfShares[i]) + Self.encode(keyShares[i])
            sealed.append(SealedShares(from: index, to: v, sealed: PairwiseKeys.seal(plain, key: key, nonce: parameters.round,
                                                                                       context: Self.context(from: index, to: v, round: parameters.round))))
            selfCommit[v] = ShareCommitment.of(selfShares[i], kind: 1, holder: v)
            keyCommit[v] = ShareCommitment.of(keyShares[i], kind: 2, holder: v)
        }
        return DealtShares(participant: index, shares: sealed, selfMaskShareCommitments: selfCommit, maskKeyShareCommitments: keyCommit)
    }

    /// Phase 2: given the shares the neighbours dealt it (as relayed: the dealers are U2 ∩ N(i)),
    /// `input` (already in the ring, `parameters.length` elements) plus its masks.
    public func maskedInput(received: [SealedShares], input: [UInt32]) throws -> MaskedInput {
        precondition(input.count == parameters.length, "SecAggClient: input has \(input.count) elements; the round has \(parameters.length)")
        held = [:]; maskedWith = []
        for s in received where s.to == index && advertised[s.from] != nil && maskedWith.insert(s.from).inserted {
            // A share that does not open is not held (its dealer is still masked with: the pair
            // mask must cancel against the dealer's).
            guard let key = try? PairwiseKeys.secret(privateKey: shareKeys.privateKey, publicKey: advertised[s.from]!.sharePublicKey,
                                                      purpose: .shareEncryption, round: parameters.round),
                  let plain = PairwiseKeys.open(s.sealed, key: key, context: Self.context(from: s.from, to: index, round: parameters.round)),
                  let shares = Self.decode(plain), shares.0.x == UInt64(index + 1), shares.1.x == UInt64(index + 1) else { continue }
            held[s.from] = (shares.0, shares.1)
        }
        guard maskedWith.count >= parameters.threshold else {
            throw SecAggError.tooFewNeighbours(participant: index, have: maskedWith.count, need: parameters.threshold)
        }
        var y = input
        Ring.add(&y, MaskStream.ring(seed: selfMaskSeed, nonce: parameters.round, count: parameters.length, bits: parameters.ringBits), bits: parameters.ringBits)
        for v in maskedWith.sorted() {
            let seed = try PairwiseKeys.secret(privateKey: maskKeys.privateKey, publicKey: advertised[v]!.maskPublicKey, purpose: .mask, round: parameters.round)
            let mask = MaskStream.ring(seed: seed, nonce: parameters.round, count: parameters.length, bits: parameters.ringBits)
            if index < v { Ring.add(&y, mask, bits: parameters.ringBits) } else { Ring.subtract(&y, mask, bits: parameters.ringBits) }
        }
        return MaskedInput(participant: index, values: y)
    }

    /// Phase 3: given the survivors (those whose masked input the coordinator accepted), the
    /// shares that let it unmask their sum. Refuses a survivor set below the threshold, one
    /// without this participant, or a second request (revealing twice could reveal both secrets
    /// of one neighbour).
    public func unmask(survivors: Set<Int>) throws -> UnmaskShares {
        guard !revealed else { throw SecAggError.wrongPhase("unmasking is answered once per round") }
        guard survivors.contains(index) else { throw SecAggError.malformed(index, "the survivor set leaves out this participant") }
        guard survivors.count >= parameters.threshold else { throw SecAggError.tooFewSurvivors(have: survivors.count, need: parameters.threshold) }
        revealed = true
        var selfShares: [Int: Share] = [:], keyShares: [Int: Share] = [:]
        for (v, s) in held {
            if survivors.contains(v) { selfShares[v] = s.selfMask } else { keyShares[v] = s.maskKey }
        }
        return UnmaskShares(participant: index, selfMaskShares: selfShares, maskKeyShares: keyShares)
    }

    /// The associated data binding a sealed share to its dealer, holder and round.
    static func context(from: Int, to: Int, round: UInt64) -> [UInt8] {
        Array("sparsefleet/secagg/shares".utf8) + LittleEndian.bytes(UInt64(from), UInt64(to), round)
    }

    /// A share as bytes: x, count, values (little-endian 64-bit words).
    static func encode(_ s: Share) -> [UInt8] {
        LittleEndian.bytes([s.x, UInt64(s.values.count)] + s.values.map(\.value))
    }

    /// Two shares from `encode(a) + encode(b)`; nil when malformed.
    static func decode(_ bytes: [UInt8]) -> (Share, Share)? {
        func word(_ at: Int) -> UInt64? { LittleEndian.word(bytes, at: at) }
        var at = 0
        func one() -> Share? {
            guard let x = word(at), let n = word(at + 8), n <= 64 else { return nil }
            at += 16
            var values: [FieldElement] = []
            for _ in 0..<n {
                guard let v = word(at), v < FieldElement.modulus else { return nil }
                values.append(FieldElement(v)); at += 8
            }
            return Share(x: x, values: values)
        }
        guard let a = one(), let b = one(), at == bytes.count else { return nil }
        return (a, b)
    }
}
