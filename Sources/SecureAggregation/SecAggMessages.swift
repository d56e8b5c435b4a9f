// The messages of one SecAgg+ round, as values (the wire encoding is the transport's job):
// 0 advertise keys → 1 deal shares → 2 masked input → 3 unmask. The coordinator relays phase 0
// and 1 messages between neighbours and learns nothing from them but public keys, sealed shares
// and share commitments.

/// Phase 0, participant → coordinator: its round public keys and the commitment to its self-mask seed.
public struct AdvertiseKeys: Equatable, Sendable {
    /// The sender.
    public var participant: Int
    /// X25519 public key whose pairwise secrets seed the pairwise masks (s).
    public var maskPublicKey: [UInt8]
    /// X25519 public key whose pairwise secrets seal the dealt shares (c).
    public var sharePublicKey: [UInt8]
    /// SHA-256 of the self-mask seed b.
    public var selfMaskCommitment: [UInt8]

    /// Keys with every field.
    public init(participant: Int, maskPublicKey: [UInt8], sharePublicKey: [UInt8], selfMaskCommitment: [UInt8]) {
        self.participant = participant; self.maskPublicKey = maskPublicKey; self.sharePublicKey = sharePublicKey
        self.selfMaskCommitment = selfMaskCommitment
    }
}

/// Phase 1, dealer → coordinator → one neighbour: the dealer's shares for that neighbour, sealed.
public struct SealedShares: Equatable, Sendable {
    /// The dealer.
    public var from: Int
    /// The neighbour it is for.
    public var to: Int
    /// ChaCha20-Poly1305 of (share of b, share of the mask private key) under their pairwise key.
    public var sealed: [UInt8]

    /// Sealed shares from `from` to `to`.
    public init(from: Int, to: Int, sealed: [UInt8]) { self.from = from; self.to = to; self.sealed = sealed }
}

/// Phase 1, dealer → coordinator: sealed shares for every neighbour, and public commitments to each
/// share (so a share revealed later can be checked against what was dealt).
public struct DealtShares: Equatable, Sendable {
    /// The dealer.
    public var participant: Int
    /// One per neighbour that advertised keys.
    public var shares: [SealedShares]
    /// Neighbour → SHA-256 of its share of b.
    public var selfMaskShareCommitments: [Int: [UInt8]]
    /// Neighbour → SHA-256 of its share of the mask private key.
    public var maskKeyShareCommitments: [Int: [UInt8]]

    /// A dealer's shares and commitments.
    public init(participant: Int, shares: [SealedShares], selfMaskShareCommitments: [Int: [UInt8]], maskKeyShareCommitments: [Int: [UInt8]]) {
        self.participant = participant; self.shares = shares
        self.selfMaskShareCommitments = selfMaskShareCommitments; self.maskKeyShareCommitments = maskKeyShareCommitments
    }
}

/// Phase 2, participant → coordinator: its input plus all its masks, in Z_{2^b}.
public struct MaskedInput: Equatable, Sendable {
    /// The sender.
    public var participant: Int
    /// x + PRG(b) + Σ ±PRG(s_uv) over its neighbours that dealt shares.
    public var values: [UInt32]

    /// A masked input.
    public init(participant: Int, values: [UInt32]) { self.participant = participant; self.values = values }
}

/// Phase 3, participant → coordinator: for each neighbour that dealt it shares, the share of its
/// self-mask seed (if it survived) or of its mask private key (if it dropped) — never both.
public struct UnmaskShares: Equatable, Sendable {
    /// The sender.
    public var participant: Int
    /// Surviving neighbour → the sender's share of its b.
    public var selfMaskShares: [Int: Share]
    /// Dropped neighbour → the sender's share of its mask private key.
    public var maskKeyShares: [Int: Share]

    /// An unmask answer.
    public init(participant: Int, selfMaskShares: [Int: Share], maskKeyShares: [Int: Share]) {
        self.participant = participant; self.selfMaskShares = selfMaskShares; self.maskKeyShares = maskKeyShares
    }
}

/// The commitment to one share: SHA-256 of a tag, the holder and the share's values.
enum ShareCommitment {
    static func of(_ share: Share, kind: UInt8, holder: Int) -> [UInt8] {
        PairwiseKeys.commitment([kind] + LittleEndian.bytes([UInt64(holder), share.x] + share.values.map(\.value)))
    }
}
