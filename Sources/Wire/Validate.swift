// Small field checks shared by every header validator.

/// Field-level checks that throw `WireError` naming the field.
enum Validate {
    /// An identifier: 1 ... `maxIdentifierBytes` bytes of UTF-8.
    static func identifier(_ s: String, field: String, limits: WireLimits) throws {
        let n = s.utf8.count
        guard n >= 1 else { throw WireError.invalid(field: field, reason: "must not be empty") }
        guard n <= limits.maxIdentifierBytes else {
            throw WireError.tooLarge(field: field, size: n, limit: limits.maxIdentifierBytes)
        }
    }

    /// Free text: at most `maxTextBytes` bytes.
    static func text(_ s: String, field: String, limits: WireLimits) throws {
        let n = s.utf8.count
        guard n <= limits.maxTextBytes else { throw WireError.tooLarge(field: field, size: n, limit: limits.maxTextBytes) }
    }

    /// A value that must be at least 1.
    static func positive<T: BinaryInteger>(_ v: T, field: String) throws {
        guard v >= 1 else { throw WireError.invalid(field: field, reason: "must be at least 1, got \(v)") }
    }

    /// A count that must not exceed `limit`.
    static func count(_ n: Int, field: String, limit: Int) throws {
        guard n <= limit else { throw WireError.tooLarge(field: field, size: n, limit: limit) }
    }

    /// Channel indices: strictly ascending, each below `channelCount`, at least one.
    static func channels(_ c: [Int], tensor: String, channelCount: Int) throws {
        guard !c.isEmpty else { throw WireError.badChannels(tensor: tensor, reason: "a channel subset must not be empty") }
        guard c.count <= channelCount else {
            throw WireError.badChannels(tensor: tensor, reason: "\(c.count) indices for \(channelCount) channels")
        }
        var previous = -1
        for (j, x) in c.enumerated() {
            guard x >= 0, x < channelCount else {
                throw WireError.badChannels(tensor: tensor, reason: "index \(x) at position \(j) is out of range 0..<\(channelCount)")
            }
            guard x > previous else {
                throw WireError.badChannels(tensor: tensor, reason: "index \(x) at position \(j) is not above the previous \(previous) (unsorted or duplicated)")
            }
            previous = x
        }
    }
}
