// Strict, typed reading of a YAML mapping: every key must be known, every value of the right type
// and range; errors carry the key path and the line from Yams' node marks.
import Engine
import Foundation
import Yams

/// A YAML mapping being read, with its key path for error messages.
struct YAMLObject {
    /// The file, for errors.
    let file: String
    /// Dotted path of this mapping ("" at the top).
    let path: String
    /// The mapping's node.
    let node: Node
    /// Key → (key node, value node), in file order.
    let entries: [(key: String, keyNode: Node, value: Node)]

    /// Wraps `node`, which must be a mapping with unique scalar keys.
    init(_ node: Node, file: String, path: String) throws {
        self.file = file; self.path = path; self.node = node
        guard case let .mapping(mapping) = node else {
            throw TopologyError(file: file, line: node.mark?.line, key: path, problem: "expected a mapping of `key: value` lines, found \(YAMLObject.kind(node))")
        }
        var seen = Set<String>()
        var list: [(String, Node, Node)] = []
        for (k, v) in mapping {
            guard let name = k.scalar?.string else {
                throw TopologyError(file: file, line: k.mark?.line, key: path, problem: "keys must be plain words")
            }
            guard seen.insert(name).inserted else {
                throw TopologyError(file: file, line: k.mark?.line, key: Self.join(path, name), problem: "appears twice; give each key once")
            }
            list.append((name, k, v))
        }
        entries = list
    }

    /// "a.b" from "a" and "b".
    static func join(_ path: String, _ key: String) -> String { path.isEmpty ? key : path + "." + key }

    /// A word for the kind of node, for messages.
    static func kind(_ node: Node) -> String {
        switch node {
        case .scalar(let s): return "the value '\(s.string)'"
        case .mapping: return "a mapping"
        case .sequence: return "a list"
        }
    }

    /// Refuses any key not in `allowed`, naming the allowed ones.
    func onlyKeys(_ allowed: [String]) throws {
        for e in entries where !allowed.contains(e.key) {
            let near = allowed.min { Self.distance($0, e.key) < Self.distance($1, e.key) }
            let hint = near.map { Self.distance($0, e.key) <= 3 ? " (did you mean '\($0)'?)" : "" } ?? ""
            throw TopologyError(file: file, line: e.keyNode.mark?.line, key: Self.join(path, e.key),
                                problem: "unknown key\(hint); allowed here: \(allowed.joined(separator: ", "))")
        }
    }

    /// The value node of `key`, if given (an explicit `null` counts as absent).
    func value(_ key: String) -> Node? {
        guard let v = entries.first(where: { $0.key == key })?.value else { return nil }
        if v.null != nil { return nil }
        return v
    }

    /// An error about `key`.
    func error(_ key: String, _ problem: String) -> TopologyError {
        let line = entries.first(where: { $0.key == key })?.value.mark?.line ?? node.mark?.line
        return TopologyError(file: file, line: line, key: Self.join(path, key), problem: problem)
    }

    /// The nested mapping at `key`, if given.
    func object(_ key: String) throws -> YAMLObject? {
        guard let v = value(key) else { return nil }
        return try YAMLObject(v, file: file, path: Self.join(path, key))
    }

    /// The list at `key`, if given.
    func list(_ key: String) throws -> [Node]? {
        guard let v = value(key) else { return nil }
        guard case let .sequence(seq) = v else { throw error(key, "expected a list (lines starting with '- '), found \(Self.kind(v))") }
        return Array(seq)
    }

    /// A string value.
    func string(_ key: String, default d: String) throws -> String { try string(key) ?? d }

    /// A string value, if given.
    func string(_ key: String) throws -> String? {
        guard let v = value(key) else { return nil }
        guard case let .scalar(s) = v else { throw error(key, "expected a single value, found \(Self.kind(v))") }
        return s.string
    }

    /// One of `allowed`.
    func choice(_ key: String, _ allowed: [String], default d: String) throws -> String {
        let s = try string(key, default: d)
        guard allowed.contains(s) else { throw error(key, "'\(s)' is not allowed; use one of \(allowed.joined(separator: ", "))") }
        return s
    }

    /// An integer in `range`.
    func int(_ key: String, default d: Int, in range: ClosedRange<Int>) throws -> Int {
        guard let v = value(key) else { return d }
        guard let i = v.int else { throw error(key, "expected a whole number in \(range.lowerBound)...\(range.upperBound), found \(Self.kind(v))") }
        guard range.contains(i) else { throw error(key, "\(i) is out of range; allowed \(range.lowerBound)...\(range.upperBound)") }
        return i
    }

    /// A number in `range` (`open` excludes the lower bound).
    func double(_ key: String, default d: Double, in range: ClosedRange<Double>, lowerOpen: Bool = false) throws -> Double {
        guard let v = value(key) else { return d }
        guard let x = v.float ?? v.int.map(Double.init), x.isFinite else {
            throw error(key, "expected a number in \(lowerOpen ? "(" : "[")\(range.lowerBound), \(range.upperBound)], found \(Self.kind(v))")
        }
        guard range.contains(x), !(lowerOpen && x == range.lowerBound) else {
            throw error(key, "\(x) is out of range; allowed \(lowerOpen ? "(" : "[")\(range.lowerBound), \(range.upperBound)]")
        }
        return x
    }

    /// A boolean (`true`/`false`, `on`/`off`, `yes`/`no`).
    func bool(_ key: String, default d: Bool) throws -> Bool {
        guard let v = value(key) else { return d }
        if let b = v.bool { return b }
        if let s = v.scalar?.string.lowercased() {
            if ["on", "yes"].contains(s) { return true }
            if ["off", "no"].contains(s) { return false }
        }
        throw error(key, "expected true or false (on/off), found \(Self.kind(v))")
    }

    /// A byte size such as `256KB`, `1MB` or `262144`, in `range` bytes.
    func bytes(_ key: String, default d: Int, in range: ClosedRange<Int>) throws -> Int {
        guard let v = value(key) else { return d }
        guard let text = v.scalar?.string, let b = ByteSize.parse(text) else {
            throw error(key, "expected a size such as 256KB, 1MB or 262144 (bytes; KB = 1024 B), found \(Self.kind(v))")
        }
        guard range.contains(b) else {
            throw error(key, "\(ByteSize.format(b)) is out of range; allowed \(ByteSize.format(range.lowerBound)) to \(ByteSize.format(range.upperBound))")
        }
        return b
    }

    /// Milliseconds from `250ms`, `30s`, `2m` or a bare number of milliseconds.
    func milliseconds(_ key: String, default d: Int, in range: ClosedRange<Int>) throws -> Int {
        guard let v = value(key) else { return d }
        guard let text = v.scalar?.string, let ms = Self.parseDuration(text) else {
            throw error(key, "expected a duration such as 250ms, 30s or 2m, found \(Self.kind(v))")
        }
        guard range.contains(ms) else { throw error(key, "\(ms) ms is out of range; allowed \(range.lowerBound)...\(range.upperBound) ms") }
        return ms
    }

    /// Milliseconds in a duration text, or nil.
    static func parseDuration(_ text: String) -> Int? {
        let t = text.trimmingCharacters(in: .whitespaces).lowercased()
        for (suffix, scale) in [("ms", 1.0), ("s", 1000.0), ("m", 60_000.0)] where t.hasSuffix(suffix) {
            guard let x = Double(t.dropLast(suffix.count).trimmingCharacters(in: .whitespaces)), x >= 0 else { return nil }
            return Int((x * scale).rounded())
        }
        return Int(t).flatMap { $0 >= 0 ? $0 : nil }
    }

    /// Edit distance, for "did you mean".
    static func distance(_ a: String, _ b: String) -> Int {
        let a = Array(a), b = Array(b)
        if a.isEmpty || b.isEmpty { return max(a.count, b.count) }
        var row = Array(0...b.count)
        for i in 1...a.count {
            var prev = row[0]; row[0] = i
            for j in 1...b.count {
                let cur = row[j]
                row[j] = min(row[j] + 1, row[j - 1] + 1, prev + (a[i - 1] == b[j - 1] ? 0 : 1))
                prev = cur
            }
        }
        return row[b.count]
    }
}
