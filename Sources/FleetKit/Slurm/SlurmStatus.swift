// `fleet status RUN` for a run submitted to Slurm: the job's state from scontrol (or, once Slurm
// has forgotten the job, from what the job wrote into the run folder), the progress line read
// from metrics.jsonl, and for a job that died its Slurm state and the tail of the failing log.
import Foundation

public struct SlurmStatus {
    public var tools: SlurmTools
    public init(tools: SlurmTools = SlurmTools()) { self.tools = tools }

    /// Slurm states in which the job has ended badly.
    static let failedStates: Set<String> = ["FAILED", "TIMEOUT", "NODE_FAIL", "OUT_OF_MEMORY", "BOOT_FAIL", "DEADLINE", "PREEMPTED"]

    /// The status report of the run in `folder`.
    public func report(_ folder: RunFolder, planned: Int) throws -> String {
        let record = try SlurmRecord.read(folder)
        try tools.requireClient()
        let state = try tools.jobState(record.jobId)
        var lines: [String] = []
        let slurmState = state?.state ?? "ENDED (Slurm no longer lists the job)"
        lines.append("job         \(record.jobId)\(record.resume ? " (resumed run" + (record.earlierJobs.isEmpty ? ")" : "; earlier jobs \(record.earlierJobs.joined(separator: ", ")))") : "")"
                     + "  state \(slurmState)" + (state.map { "  exit \($0.exitCode)" + ($0.nodes.isEmpty || $0.nodes == "(null)" ? "" : "  nodes \($0.nodes)") } ?? "")
                     + (state.map { $0.state == "PENDING" ? "  reason \($0.reason)" : "" } ?? ""))
        lines.append("progress    " + ProgressLine(planned: planned, started: record.submitted).text(SummaryBuilder.readMetrics(path: folder.metrics)))
        if FileManager.default.fileExists(atPath: folder.summary) { lines.append("summary     \(folder.summary)") }
        if let s = state, Self.failedStates.contains(s.state) || (s.state == "COMPLETED" && s.exitCode != "0:0") {
            lines.append("failed      Slurm says \(s.state) (exit \(s.exitCode))" + (s.state == "TIMEOUT" ? ": the time limit was too short; fleet resume \(folder.path) --slurm --time LONGER continues from the checkpoint" : ""))
            let (name, log) = failingLog(folder)
            lines.append("tail of \(name) (\(log)):")
            lines.append(Self.tail(log, lines: 12))
        }
        return lines.joined(separator: "\n")
    }

    /// The log of the first process that failed: a node task with a non-zero status file, else
    /// the coordinator when it did not exit 0, else the job's own output.
    func failingLog(_ folder: RunFolder) -> (String, String) {
        let slurm = folder.path + "/slurm"
        let files = (try? FileManager.default.contentsOfDirectory(atPath: slurm)) ?? []
        for f in files.sorted() where f.hasSuffix(".status") {
            let status = (try? String(contentsOfFile: slurm + "/" + f, encoding: .utf8))?.trimmingCharacters(in: .whitespacesAndNewlines) ?? ""
            if status != "0" && status != "130" {
                let name = String(f.dropLast(".status".count))
                return (name, folder.logs + "/\(name).log")
            }
        }
        let steps = (try? String(contentsOfFile: slurm + "/steps.txt", encoding: .utf8)) ?? ""
        if let line = steps.split(separator: "\n").first(where: { $0.hasPrefix("coordinator exited") }), !line.hasSuffix(" 0") {
            return ("the coordinator", folder.logs + "/coordinator.log")
        }
        let outs = ((try? FileManager.default.contentsOfDirectory(atPath: folder.logs)) ?? []).filter { $0.hasPrefix("slurm-") }.sorted()
        return ("the job", folder.logs + "/" + (outs.last ?? "slurm.out"))
    }

    static func tail(_ path: String, lines: Int) -> String {
        let text = (try? String(contentsOfFile: path, encoding: .utf8)) ?? "(no log at \(path))"
        return text.split(separator: "\n", omittingEmptySubsequences: false).suffix(lines).joined(separator: "\n")
    }
}
