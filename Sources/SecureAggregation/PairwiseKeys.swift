// Key agreement of SecAgg (Bonawitz et al. 2017): every device holds two X25519 key pairs per
// round, one whose pairwise secrets seed the masks (s) and one whose pairwise secrets encrypt the
// Shamir shares it deals through the coordinator (c). A pairwise secret is HKDF-SHA256 of the
// X25519 shared secret, bound to the round and the use, so the same keys never serve twice.
import Crypto
import Foundation

/// One X25519 key pair, from a seeded 32-byte private key (the simulator is reproducible; a real
/// device would draw it from its own CSPRNG).
public struct AgreementKeyPair: Sendable {
    /// The private key's raw bytes.
    public let privateKey: [UInt8]
    /// The public key's raw bytes (32).
    public let publicKey: [UInt8]

    /// The pair of `privateKey` (32 bytes; X25519 clamps it).
    public init(privateKey: [UInt8]) throws {
        let key = try Curve25519.KeyAgreement.PrivateKey(rawRepresentation: privateKey)
        self.privateKey = privateKey
        publicKey = [UInt8](key.publicKey.rawRepresentation)
    }

    /// A pair drawn from `rng`.
    public init<G: RandomNumberGenerator>(using rng: inout G) {
        let bytes = LittleEndian.bytes(rng.next(), rng.next(), rng.next(), rng.next())
        // Any 32 bytes are a valid X25519 private key.
        try! self.init(privateKey: bytes)
    }
}

/// What a pairwise secret is for.
public enum PairwisePurpose: String, Sendable {
    /// The seed of the pairwise mask two neighbours add with opposite signs.
    case mask = "sparsefleet/secagg/mask"
    /// The key that encrypts the shares one device deals to the other.
    case shareEncryption = "sparsefleet/secagg/share-encryption"
}

/// Derivations from X25519 shared secrets.
public enum PairwiseKeys {
    /// The 32-byte pairwise secret of `mine` and `theirs` for `purpose` in `round` (the same on
    /// both sides). Throws when `theirs` is not a valid X25519 public key.
    public static func secret(privateKey mine: [UInt8], publicKey theirs: [UInt8], purpose: PairwisePurpose, round: UInt64) throws -> [UInt8] {
        let priv = try Curve25519.KeyAgreement.PrivateKey(rawRepresentation: mine)
        let pub = try Curve25519.KeyAgreement.PublicKey(rawRepresentation: theirs)
        let shared = try priv.sharedSecretFromKeyAgreement(with: pub)
        let info = Array(purpose.rawValue.utf8) + LittleEndian.bytes(round)
        let key = shared.hkdfDerivedSymmetricKey(using: SHA256.self, salt: Array("sparsefleet-secagg-v1".utf8), sharedInfo: info, outputByteCount: 32)
        return key.withUnsafeBytes { [UInt8]($0) }
    }

    /// The public key of a raw X25519 private key (to check a reconstructed key against the one
    /// its owner advertised).
    public static func publicKey(ofPrivate key: [UInt8]) -> [UInt8]? {
        (try? Curve25519.KeyAgreement.PrivateKey(rawRepresentation: key)).map { [UInt8]($0.publicKey.rawRepresentation) }
    }

    /// SHA-256 of `bytes` (the commitment to a self-mask seed).
    public static func commitment(_ bytes: [UInt8]) -> [UInt8] { [UInt8](SHA256.hash(data: bytes)) }

    /// `plaintext` sealed with ChaCha20-Poly1305 under `key`, bound to `context` (sender,
    /// receiver, round) as associated data; nonce from `nonce`.
    public static func seal(_ plaintext: [UInt8], key: [UInt8], nonce: UInt64, context: [UInt8]) -> [UInt8] {
        let n = LittleEndian.bytes(nonce) + [0, 0, 0, 0]
        let box = try! ChaChaPoly.seal(plaintext, using: SymmetricKey(data: key), nonce: try! ChaChaPoly.Nonce(data: n), authenticating: context)
        return [UInt8](box.combined)
    }

    /// The plaintext of `sealed`, or nil when it was not sealed under `key` with `context`.
    public static func open(_ sealed: [UInt8], key: [UInt8], context: [UInt8]) -> [UInt8]? {
        guard let box = try? ChaChaPoly.SealedBox(combined: sealed),
              let plain = try? ChaChaPoly.open(box, using: SymmetricKey(data: key), authenticating: context) else { return nil }
        return [UInt8](plain)
    }
}
