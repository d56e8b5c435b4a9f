// Errors a topology file can cause: each names the file, the line, the key, the problem and what
// is allowed, so the user can fix the YAML without reading the source.

/// A topology that cannot be used.
public struct TopologyError: Error, CustomStringConvertible, Equatable {
    /// The topology file (or "topology" for text given in memory).
    public var file: String
    /// 1-based line of the offending node, when known.
    public var line: Int?
    /// Dotted key path, e.g. `groups[1].budget`.
    public var key: String
    /// What is wrong and what is allowed.
    public var problem: String

    /// An error at `key` (line from the YAML node mark).
    public init(file: String, line: Int?, key: String, problem: String) {
        self.file = file; self.line = line; self.key = key; self.problem = problem
    }

    /// `file:line: key: problem`.
    public var description: String {
        let place = line.map { "\(file):\($0)" } ?? file
        return "\(place): \(key.isEmpty ? "topology" : key): \(problem)"
    }
}
