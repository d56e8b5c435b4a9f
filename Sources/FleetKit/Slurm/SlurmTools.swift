// The Slurm commands `fleet submit/status/cancel` run (sbatch, sinfo, squeue, scontrol, scancel),
// with the failures a cluster user meets turned into errors that name the fix.
import Foundation

/// A Slurm failure, said so that the user knows what to do.
public struct SlurmError: Error, CustomStringConvertible, Equatable {
    public var description: String
    public init(_ description: String) { self.description = description }
}

/// Runs Slurm's client commands.
public struct SlurmTools: Sendable {
    /// Where to look for the commands (the PATH of this process by default).
    public var path: String

    public init(path: String = ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin") { self.path = path }

    /// The full path of `tool` on `path`, or nil.
    public func locate(_ tool: String) -> String? {
        for dir in path.split(separator: ":") {
            let p = "\(dir)/\(tool)"
            if FileManager.default.isExecutableFile(atPath: p) { return p }
        }
        return nil
    }

    /// Throws the "no Slurm here" error when sbatch is not on the PATH.
    public func requireClient() throws {
        guard locate("sbatch") != nil, locate("squeue") != nil, locate("scontrol") != nil else {
            throw SlurmError("""
                sbatch is not on the PATH, so there is no Slurm client here. On a cluster, run this on a login node (or load \
                its Slurm module); on Debian, `apt-get install slurm-client` (tools/slurm-cluster.sh start runs a real \
                one-machine cluster). To run the fleet on this machine instead: fleet run <topology>
                """)
        }
    }

    /// Runs `tool arguments`; returns (status, stdout, stderr).
    @discardableResult
    public func run(_ tool: String, _ arguments: [String]) throws -> (status: Int32, out: String, err: String) {
        guard let exe = locate(tool) else { throw SlurmError("\(tool) is not on the PATH; is this a Slurm client machine?") }
        let p = Process()
        p.executableURL = URL(fileURLWithPath: exe)
        p.arguments = arguments
        let out = Pipe(), err = Pipe()
        p.standardOutput = out
        p.standardError = err
        try p.run()
        let o = out.fileHandleForReading.readDataToEndOfFile(), e = err.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        return (p.terminationStatus, String(decoding: o, as: UTF8.self), String(decoding: e, as: UTF8.self))
    }

    /// The cluster's partitions (sinfo), the default one marked by Slurm with a trailing `*` removed.
    public func partitions() throws -> (names: [String], defaultName: String?) {
        let r = try run("sinfo", ["-h", "-o", "%P"])
        guard r.status == 0 else { throw SlurmError("sinfo failed (is slurmctld reachable? SLURM_CONF?): \(r.err.trimmingCharacters(in: .whitespacesAndNewlines))") }
        var names: [String] = [], def: String?
        for line in r.out.split(separator: "\n") {
            var n = line.trimmingCharacters(in: .whitespaces)
            if n.hasSuffix("*") { n.removeLast(); def = n }
            if !n.isEmpty && !names.contains(n) { names.append(n) }
        }
        return (names, def)
    }

    /// Throws unless `partition` exists, naming the ones that do.
    public func requirePartition(_ partition: String) throws {
        let p = try partitions()
        guard p.names.contains(partition) else {
            throw SlurmError("partition '\(partition)' does not exist on this cluster; it has \(p.names.joined(separator: ", "))\(p.defaultName.map { " (default \($0))" } ?? ""). Give one of them with --partition, or leave --partition out for the default")
        }
    }

    /// Submits `script`; returns the job id.
    public func submit(_ script: String) throws -> String {
        let r = try run("sbatch", ["--parsable", script])
        guard r.status == 0 else { throw SlurmError("sbatch refused the job: \(r.err.trimmingCharacters(in: .whitespacesAndNewlines)) (script: \(script))") }
        guard let id = r.out.trimmingCharacters(in: .whitespacesAndNewlines).split(separator: ";").first, Int(id) != nil else {
            throw SlurmError("sbatch answered '\(r.out.trimmingCharacters(in: .whitespacesAndNewlines))', not a job id")
        }
        return String(id)
    }

    /// The job's state and exit code (`scontrol show job`), or nil once Slurm has forgotten it.
    public func jobState(_ id: String) throws -> (state: String, exitCode: String, reason: String, nodes: String)? {
        let r = try run("scontrol", ["show", "job", "-o", id])
        guard r.status == 0, !r.out.isEmpty else { return nil }
        func field(_ name: String) -> String {
            for token in r.out.split(separator: " ") where token.hasPrefix(name + "=") { return String(token.dropFirst(name.count + 1)) }
            return ""
        }
        return (field("JobState"), field("ExitCode"), field("Reason"), field("NodeList"))
    }

    /// Sends `signal` to the job's batch shell only (`scancel --batch`): the job script passes it on.
    public func signalBatch(_ id: String, _ signal: String) throws {
        let r = try run("scancel", ["--batch", "--signal=\(signal)", id])
        guard r.status == 0 else { throw SlurmError("scancel failed: \(r.err.trimmingCharacters(in: .whitespacesAndNewlines))") }
    }
}
