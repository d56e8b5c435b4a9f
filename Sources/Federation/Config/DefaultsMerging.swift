// Decoding JSON where every field is optional: the user's object is laid over the JSON form of
// the defaults (objects merge key by key, everything else replaces), then decoded.
import Foundation

/// Decodes Codable values with defaults for absent fields.
enum DefaultsMerging {
    /// `data` decoded as `T`, with `defaults` filling every field the JSON leaves out.
    static func decode<T: Codable>(_ data: Data, defaults: T) throws -> T {
        let base = try JSONSerialization.jsonObject(with: JSONEncoder().encode(defaults))
        let given = try JSONSerialization.jsonObject(with: data)
        guard given is [String: Any] else {
            throw ConfigError.invalid(path: "configuration", reason: "the top level must be a JSON object")
        }
        let merged = merge(base, given)
        return try JSONDecoder().decode(T.self, from: JSONSerialization.data(withJSONObject: merged))
    }

    /// `over` laid on `base`: objects merge recursively, any other value replaces.
    static func merge(_ base: Any, _ over: Any) -> Any {
        guard var b = base as? [String: Any], let o = over as? [String: Any] else { return over }
        for (k, v) in o { b[k] = b[k].map { merge($0, v) } ?? v }
        return b
    }
}
