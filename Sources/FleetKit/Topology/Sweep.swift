// The `sweep:` block: topology keys with lists of values. The run covers their grid (every
// combination), one cell per combination, every cell with the topology's own seed. Each cell is
// the file with the cell's values written in at their keys, parsed by the same strict parser, so
// a bad value is refused at its line in `sweep:` with the usual message.
import Foundation
import Yams

/// One swept key and its values, as written.
public struct SweepAxis: Equatable, Sendable, Codable {
    /// The key path, e.g. `privacy.noiseMultiplier` or `groups[*].policy`.
    public var path: String
    /// The values, as written.
    public var values: [String]
}

/// One cell of the grid: the values it sets and the topology they make.
public struct SweepCell: Equatable, Sendable {
    /// Folder-safe name, e.g. `noiseMultiplier-0.5_policy-dgsu`.
    public var label: String
    /// Key path → value, one per axis, in axis order.
    public var settings: [SweepSetting]
    /// The topology of the cell (it has no sweep of its own).
    public var topology: Topology
}

/// One key set by a cell.
public struct SweepSetting: Equatable, Sendable, Codable {
    /// The key path.
    public var path: String
    /// The value, as written.
    public var value: String
}

/// Expands `sweep:` into cells (YAML level).
enum SweepExpansion {
    /// Most cells a sweep may have.
    static let maxCells = 64
    /// Keys a sweep may not change, and why.
    static let fixedKeys: [String: String] = [
        "seed": "every cell runs with the topology's seed, so that cells differ only in the swept keys; run the sweep once per seed instead",
        "name": "the name is the run folder of the whole sweep; the cells are named after their values",
        "sweep": "a sweep cannot sweep itself",
        "nodes": "the node processes are the machine's layout, not a property of the fleet; set nodes.count once",
    ]

    /// One step of a key path: a key, optionally indexed into a list (`[2]`, or `[*]` for every element).
    struct Step: Equatable {
        var key: String
        var index: Index?
        enum Index: Equatable { case at(Int), all }
    }

    /// The axes of `sweep` (the block's mapping node) with their value nodes.
    static func axes(_ sweep: YAMLObject) throws -> [(axis: SweepAxis, steps: [Step], values: [Node], line: Int?)] {
        guard !sweep.entries.isEmpty else {
            throw TopologyError(file: sweep.file, line: sweep.node.mark?.line, key: sweep.path, problem: "is empty; give keys with lists of values, e.g. `privacy.noiseMultiplier: [0.5, 1, 2]`")
        }
        var out: [(SweepAxis, [Step], [Node], Int?)] = []
        for e in sweep.entries {
            let key = YAMLObject.join(sweep.path, e.key)
            guard let steps = parse(e.key) else {
                throw TopologyError(file: sweep.file, line: e.keyNode.mark?.line, key: key,
                                    problem: "is not a key path; write keys joined by dots, with [i] or [*] after a list, e.g. privacy.noiseMultiplier or groups[0].policy")
            }
            if let why = fixedKeys[steps[0].key] {
                throw TopologyError(file: sweep.file, line: e.keyNode.mark?.line, key: key, problem: "cannot be swept: \(why)")
            }
            guard case let .sequence(list) = e.value, !list.isEmpty else {
                throw TopologyError(file: sweep.file, line: e.value.mark?.line ?? e.keyNode.mark?.line, key: key,
                                    problem: "needs a non-empty list of values, e.g. [0.5, 1, 2]")
            }
            var texts: [String] = []
            for v in list {
                guard let s = v.scalar?.string, !s.isEmpty else {
                    throw TopologyError(file: sweep.file, line: v.mark?.line, key: key, problem: "\(YAMLObject.kind(v)) is not a plain value; sweep values are numbers or words")
                }
                guard !texts.contains(s) else {
                    throw TopologyError(file: sweep.file, line: v.mark?.line, key: key, problem: "'\(s)' is listed twice; give each value once")
                }
                texts.append(s)
            }
            out.append((SweepAxis(path: e.key, values: texts), steps, Array(list), e.keyNode.mark?.line))
        }
        let cells = out.reduce(1) { $0 * $1.2.count }
        guard cells <= maxCells else {
            throw TopologyError(file: sweep.file, line: sweep.node.mark?.line, key: sweep.path, problem: "makes \(cells) cells (the product of the list lengths); at most \(maxCells) are allowed. Shorten the lists or split the sweep into several files")
        }
        return out
    }

    /// Every combination of one value per axis, first axis slowest.
    static func grid(_ counts: [Int]) -> [[Int]] {
        counts.reduce([[]]) { acc, n in acc.flatMap { prefix in (0..<n).map { prefix + [$0] } } }
    }

    /// `root` with `value` written at `steps`; mappings on the way are created when absent.
    static func set(_ value: Node, at steps: ArraySlice<Step>, in node: Node?, file: String, path: String, line: Int?) throws -> Node {
        guard let step = steps.first else { return value }
        var mapping: Node.Mapping
        switch node {
        case nil: mapping = Node.Mapping([])
        case let .mapping(m)?: mapping = m
        case let other?:
            throw TopologyError(file: file, line: line, key: path, problem: "sweeps into \(YAMLObject.kind(other)), which has no key '\(step.key)'")
        }
        let child = mapping[step.key]
        let rest = steps.dropFirst()
        guard let index = step.index else {
            mapping[step.key] = try set(value, at: rest, in: child, file: file, path: path, line: line)
            return .mapping(mapping)
        }
        guard case let .sequence(seq)? = child else {
            throw TopologyError(file: file, line: line, key: path, problem: "indexes '\(step.key)', which is not a list in this file; give the list there first")
        }
        var items = Array(seq)
        switch index {
        case let .at(i):
            guard i < items.count else {
                throw TopologyError(file: file, line: line, key: path, problem: "index \(i) is past the end of '\(step.key)' (\(items.count) entries, from 0)")
            }
            items[i] = try set(value, at: rest, in: items[i], file: file, path: path, line: line)
        case .all:
            items = try items.map { try set(value, at: rest, in: $0, file: file, path: path, line: line) }
        }
        mapping[step.key] = .sequence(Node.Sequence(items, seq.tag, seq.style, seq.mark))
        return .mapping(mapping)
    }

    /// The steps of a key path, nil when it is malformed.
    static func parse(_ path: String) -> [Step]? {
        var out: [Step] = []
        for part in path.split(separator: ".", omittingEmptySubsequences: false) {
            var key = Substring(part), index: Step.Index?
            if let open = part.firstIndex(of: "[") {
                guard part.last == "]" else { return nil }
                let inner = part[part.index(after: open)..<part.index(before: part.endIndex)]
                key = part[..<open]
                if inner == "*" { index = .all } else if let i = Int(inner), i >= 0 { index = .at(i) } else { return nil }
            }
            guard !key.isEmpty, key.allSatisfy({ $0.isLetter || $0.isNumber }) else { return nil }
            out.append(Step(key: String(key), index: index))
        }
        return out.isEmpty ? nil : out
    }

    /// Folder-safe labels of the cells: `<name>-<value>` per axis joined by `_` (names: `shortName`).
    static func label(axes: [SweepAxis], values: [String]) -> String {
        zip(axes, values).map { safe(shortName($0.path, among: axes)) + "-" + safe($1) }.joined(separator: "_")
    }

    /// The path's last key, or the whole path without brackets when another axis shares that last key.
    static func shortName(_ path: String, among axes: [SweepAxis]) -> String {
        func last(_ p: String) -> String { String(p.split(separator: ".").last ?? "") }
        guard axes.filter({ last($0.path) == last(path) }).count > 1 else { return last(path) }
        return path.replacingOccurrences(of: "[*]", with: "").replacingOccurrences(of: "[", with: "").replacingOccurrences(of: "]", with: "")
    }

    /// Letters, digits, '.', '-' and '+' kept; anything else becomes '-'.
    static func safe(_ s: String) -> String {
        String(s.map { $0.isLetter || $0.isNumber || $0 == "." || $0 == "-" || $0 == "+" ? $0 : "-" })
    }
}
