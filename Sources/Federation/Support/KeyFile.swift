// Reading CURVE key files in the format `fleet keys` writes: "public <Z85>\nsecret <Z85>\n".
import Foundation
import Transport

/// Loads key pairs from key files.
public enum KeyFile {
    /// The key pair in `path`; errors name the file and the fix, never the secret.
    public static func load(path: String) throws -> CurveKeyPair {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw ConfigError.invalid(path: path, reason: "cannot read the key file; generate one with `fleet keys --out \(path)`")
        }
        var pub: String?, sec: String?
        for line in String(decoding: data, as: UTF8.self).split(whereSeparator: \.isNewline) {
            let parts = line.split(separator: " ", maxSplits: 1).map(String.init)
            guard parts.count == 2 else { continue }
            if parts[0] == "public" { pub = parts[1].trimmingCharacters(in: .whitespaces) }
            if parts[0] == "secret" { sec = parts[1].trimmingCharacters(in: .whitespaces) }
        }
        guard let sec else {
            throw ConfigError.invalid(path: path, reason: "no 'secret <Z85>' line; the file must be written by `fleet keys --out`")
        }
        do {
            let derived = try Curve.publicKey(forSecretKey: sec)
            if let pub, pub != derived {
                throw ConfigError.invalid(path: path, reason: "the public key does not belong to the secret key; regenerate the file with `fleet keys`")
            }
            return try CurveKeyPair(publicKey: derived, secretKey: sec)
        } catch let error as CurveError {
            throw ConfigError.invalid(path: path, reason: error.description)
        }
    }
}
