// CURVE key pairs (Z85, 40 characters) and socket setup for CURVE servers and clients
// (PROTOCOL.md §9). libzmq writes 41-byte NUL-terminated Z85 strings; options take 40 bytes.
import CZmq

/// A CURVE long-term key pair in Z85 text. Never log or send `secretKey`.
public struct CurveKeyPair: Equatable, Sendable {
    /// The 40-character Z85 public key; give it to peers.
    public let publicKey: String
    /// The 40-character Z85 secret key; keep it private.
    public let secretKey: String

    /// A key pair from existing Z85 keys (e.g. read from a key file); both must be valid.
    public init(publicKey: String, secretKey: String) throws {
        guard Curve.isValidKey(publicKey) else { throw CurveError.invalidKey("public key") }
        guard Curve.isValidKey(secretKey) else { throw CurveError.invalidKey("secret key") }
        self.publicKey = publicKey
        self.secretKey = secretKey
    }
}

/// Why a CURVE operation failed.
public enum CurveError: Error, Equatable, CustomStringConvertible {
    /// libzmq was built without CURVE (no libsodium).
    case unsupported
    /// A key is not 40 characters of valid Z85.
    case invalidKey(String)

    /// What went wrong and how to fix it.
    public var description: String {
        switch self {
        case .unsupported:
            return "this libzmq has no CURVE support; install Debian's libzmq3-dev (built with libsodium)"
        case let .invalidKey(which):
            return "the \(which) is not a 40-character Z85 CURVE key; generate keys with `fleet keys`"
        }
    }
}

/// CURVE key generation and checks.
public enum Curve {
    /// A fresh key pair from libzmq (zmq_curve_keypair).
    public static func keypair() throws -> CurveKeyPair {
        guard ZmqContext.has("curve") else { throw CurveError.unsupported }
        var pub = [CChar](repeating: 0, count: 41)
        var sec = [CChar](repeating: 0, count: 41)
        guard zmq_curve_keypair(&pub, &sec) == 0 else { throw ZmqError("zmq_curve_keypair") }
        return try CurveKeyPair(publicKey: String(cString: pub), secretKey: String(cString: sec))
    }

    /// The public key belonging to a Z85 secret key (zmq_curve_public).
    public static func publicKey(forSecretKey secret: String) throws -> String {
        guard isValidKey(secret) else { throw CurveError.invalidKey("secret key") }
        var pub = [CChar](repeating: 0, count: 41)
        guard zmq_curve_public(&pub, secret) == 0 else { throw ZmqError("zmq_curve_public") }
        return String(cString: pub)
    }

    /// Whether `key` is 40 characters that decode as Z85 to 32 bytes.
    public static func isValidKey(_ key: String) -> Bool { binary(fromZ85: key) != nil }

    /// The 32 binary bytes of a Z85 key, or nil when it is not a valid key.
    public static func binary(fromZ85 key: String) -> [UInt8]? {
        guard key.utf8.count == 40 else { return nil }
        var out = [UInt8](repeating: 0, count: 32)
        return zmq_z85_decode(&out, key) != nil ? out : nil
    }

    /// The Z85 text of a 32-byte binary key (as ZAP delivers client keys).
    public static func z85(_ binaryKey: [UInt8]) -> String? {
        guard binaryKey.count == 32 else { return nil }
        var out = [CChar](repeating: 0, count: 41)
        guard zmq_z85_encode(&out, binaryKey, 32) != nil else { return nil }
        return String(cString: out)
    }
}

extension ZmqSocket {
    /// Makes this socket a CURVE server with `secretKey`. Bind afterwards, and run a
    /// `ZapAuthenticator` on the same context first, or every client key is admitted.
    public func makeCurveServer(secretKey: String, zapDomain: String = "sparsefleet") throws {
        guard Curve.isValidKey(secretKey) else { throw CurveError.invalidKey("server secret key") }
        try setOption(ZMQ_CURVE_SERVER, Int32(1))
        try setOption(ZMQ_CURVE_SECRETKEY, bytes: Array(secretKey.utf8))
        try setOption(ZMQ_ZAP_DOMAIN, bytes: Array(zapDomain.utf8))
    }

    /// Makes this socket a CURVE client of the server with `serverPublicKey`. Connect afterwards.
    /// With a wrong server key nothing errors: messages never arrive (detect with timeouts).
    public func makeCurveClient(serverPublicKey: String, keyPair: CurveKeyPair) throws {
        guard Curve.isValidKey(serverPublicKey) else { throw CurveError.invalidKey("server public key") }
        try setOption(ZMQ_CURVE_SERVERKEY, bytes: Array(serverPublicKey.utf8))
        try setOption(ZMQ_CURVE_PUBLICKEY, bytes: Array(keyPair.publicKey.utf8))
        try setOption(ZMQ_CURVE_SECRETKEY, bytes: Array(keyPair.secretKey.utf8))
    }
}
