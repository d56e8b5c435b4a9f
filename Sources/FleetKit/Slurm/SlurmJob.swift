// The batch job `fleet submit --slurm` writes (RUN/job.sbatch). One allocation, several `srun`
// steps: the coordinator as a one-task step on the first allocated node, the node processes as
// one step of K tasks spread cyclically over the allocation (one core each), then `fleet finish`
// writes summary.json and report.html exactly as `fleet run` does. Chosen over a heterogeneous
// job because every process wants the same one core: one job id to follow and to cancel, one
// time limit, and it runs on clusters that do not enable hetjobs.
import Foundation

/// What the user asked of the cluster.
public struct SlurmRequest: Codable, Equatable, Sendable {
    public var partition: String?
    public var account: String?
    /// Slurm nodes to spread the node processes over.
    public var nodes: Int
    /// Time limit in seconds.
    public var timeSeconds: Int
    public init(partition: String? = nil, account: String? = nil, nodes: Int, timeSeconds: Int) {
        self.partition = partition; self.account = account; self.nodes = nodes; self.timeSeconds = timeSeconds
    }
}

/// The files of one submission.
public struct SlurmJob {
    public var folder: RunFolder
    public var commands: LaunchCommands
    public var request: SlurmRequest
    /// Where `fleet` is (the job calls `fleet finish`).
    public var fleetExecutable: String
    /// Whether the coordinator resumes from its checkpoint.
    public var resume: Bool

    public var script: String { folder.path + "/job.sbatch" }
    public var tasksScript: String { folder.path + "/slurm/node-task.sh" }
    /// Written by the first step on every node; the check that the folder is shared.
    public var sharedMarker: String { folder.path + "/slurm/shared-check" }

    public init(folder: RunFolder, commands: LaunchCommands, request: SlurmRequest, fleetExecutable: String, resume: Bool = false) {
        self.folder = folder; self.commands = commands; self.request = request; self.fleetExecutable = fleetExecutable; self.resume = resume
    }

    /// The coordinator's endpoint placeholder in the commands: the job fills it in at run time.
    public static let endpointVariable = "SPARSEFLEET_COORDINATOR"

    /// The batch script.
    public func batchScript(name: String) -> String {
        let q = ProcessCommand.quote
        let k = commands.nodes.count
        var coordinator = commands.coordinator
        if let i = coordinator.arguments.firstIndex(of: "--bind") { coordinator.arguments[i + 1] = "tcp://0.0.0.0:__PORT__" }
        if resume && !coordinator.arguments.contains("--resume") { coordinator.arguments.append("--resume") }
        let coordinatorLine = coordinator.shellLine.replacingOccurrences(of: "tcp://0.0.0.0:__PORT__", with: "\"tcp://0.0.0.0:$port\"")
        var header = [
            "#!/bin/bash",
            "#SBATCH --job-name=\(q("sparsefleet-" + name))",
            "#SBATCH --nodes=\(request.nodes)",
            "#SBATCH --ntasks=\(k + 1)",
            "#SBATCH --cpus-per-task=1",
            "#SBATCH --time=\(SlurmTime.format(request.timeSeconds))",
            "#SBATCH --output=\(folder.logs)/slurm-%j.out",
            "#SBATCH --signal=B:INT@\(max(30, min(300, request.timeSeconds / 10)))",
        ]
        if let p = request.partition { header.append("#SBATCH --partition=\(q(p))") }
        if let a = request.account { header.append("#SBATCH --account=\(q(a))") }
        return header.joined(separator: "\n") + """

            # Written by `fleet submit --slurm` for \(folder.path).
            # The run folder must be on a file system that every allocated node sees (the first step checks).
            set -u
            RUN=\(q(folder.path))
            cd "$RUN"
            started=$(date +%s)
            record() { echo "$1" >> "$RUN/slurm/steps.txt"; }
            record "job $SLURM_JOB_ID on $SLURM_JOB_NODELIST"

            # Every node sees the run folder?
            if ! srun --nodes=$SLURM_JOB_NUM_NODES --ntasks=$SLURM_JOB_NUM_NODES --ntasks-per-node=1 test -f \(q(sharedMarker)); then
                record "failed: shared-folder check"
                echo "fleet: $RUN is not visible on every allocated node; put the run folder on a shared file system (fleet submit --runs DIR)" >&2
                exit 3
            fi

            # The coordinator on the first node, at the address Slurm knows it by.
            head=$(scontrol show hostnames "$SLURM_JOB_NODELIST" | head -n 1)
            addr=$(scontrol show node "$head" | tr ' ' '\\n' | sed -n 's/^NodeAddr=//p' | head -n 1)
            port=$(( 20000 + SLURM_JOB_ID % 20000 ))
            export \(Self.endpointVariable)="tcp://${addr:-$head}:$port"
            record "coordinator on $head at $\(Self.endpointVariable)"
            # Steps: 0 the check above, 1 the coordinator, 2 the node processes. A single SIGINT to srun only
            # reports status, so signals go to the steps through scancel (fleet cancel and the time limit's
            # warning signal the batch shell; it asks the coordinator to finish and checkpoint its round).
            stopping=0
            on_signal() { stopping=1; record "signal: stopping"; scancel --signal=INT "$SLURM_JOB_ID.1" 2>/dev/null; }
            trap on_signal INT TERM
            # The coordinator shares its core (--overlap): the node step may then use every allocated core.
            srun --overlap --nodes=1 --ntasks=1 --nodelist="$head" --output="$RUN/logs/coordinator.log" \(coordinatorLine) &
            coord=$!
            sleep 1
            srun --exact --ntasks=\(k) --distribution=cyclic --kill-on-bad-exit=0 --output=/dev/null \(q(tasksScript)) &
            nodes=$!
            wait "$coord"; status=$?
            while kill -0 "$coord" 2>/dev/null; do wait "$coord"; status=$?; done
            record "coordinator exited $status"
            # Nodes leave after the coordinator's BYE; ask those that do not, then end them.
            for _ in $(seq 1 60); do kill -0 "$nodes" 2>/dev/null || break; sleep 0.5; done
            if kill -0 "$nodes" 2>/dev/null; then
                scancel --signal=INT "$SLURM_JOB_ID.2" 2>/dev/null
                for _ in $(seq 1 40); do kill -0 "$nodes" 2>/dev/null || break; sleep 0.5; done
                kill -0 "$nodes" 2>/dev/null && scancel "$SLURM_JOB_ID.2" 2>/dev/null
            fi
            wait "$nodes" 2>/dev/null
            # A node process that failed (not stopped by a signal) fails the job, so Slurm says FAILED.
            for f in "$RUN"/slurm/*.status; do
                [ -f "$f" ] || continue
                s=$(cat "$f"); [ "$s" = 0 ] || [ "$s" = 130 ] || [ "$stopping" = 1 ] || { record "failed: $(basename "$f" .status) exited $s"; status=${status/#0/$s}; }
            done
            interrupted=""
            [ "$stopping" = 1 ] && interrupted="--interrupted"
            \(q(fleetExecutable)) finish "$RUN" --real-seconds $(( $(date +%s) - started )) $interrupted
            finished=$?
            record "finish exited $finished"
            [ "$status" = 0 ] || [ "$stopping" = 1 ] || exit "$status"
            exit $finished

            """
    }

    /// The per-task script of the node step: task i runs node-(i+1)'s command line, logging to
    /// logs/node-(i+1).log and recording its exit status.
    public func nodeTasks() -> String {
        var cases = ""
        for (i, c) in commands.nodes.enumerated() {
            var cmd = c
            if let j = cmd.arguments.firstIndex(of: "--connect") { cmd.arguments[j + 1] = "__ENDPOINT__" }
            let line = cmd.shellLine.replacingOccurrences(of: "__ENDPOINT__", with: "\"$\(Self.endpointVariable)\"")
            cases += "    \(i)) name=\(ProcessCommand.quote(c.name)); set -- \(line) ;;\n"
        }
        return """
            #!/bin/bash
            # Task $SLURM_PROCID of the node step: one node process (written by `fleet submit --slurm`).
            RUN=\(ProcessCommand.quote(folder.path))
            case "$SLURM_PROCID" in
            \(cases)    *) echo "no node process for task $SLURM_PROCID" >&2; exit 2 ;;
            esac
            echo "$name task $SLURM_PROCID on $SLURMD_NODENAME" >> "$RUN/slurm/tasks.txt"
            "$@" > "$RUN/logs/$name.log" 2>&1 &
            child=$!
            trap 'kill -INT $child 2>/dev/null' INT TERM
            wait $child; status=$?
            while kill -0 $child 2>/dev/null; do wait $child; status=$?; done
            echo "$status" > "$RUN/slurm/$name.status"
            exit $status

            """
    }

    /// Writes job.sbatch, the node-task script and the shared-folder marker.
    public func write(name: String) throws {
        try FileManager.default.createDirectory(atPath: folder.path + "/slurm", withIntermediateDirectories: true)
        try FileManager.default.createDirectory(atPath: folder.logs, withIntermediateDirectories: true)
        try batchScript(name: name).write(toFile: script, atomically: true, encoding: .utf8)
        try nodeTasks().write(toFile: tasksScript, atomically: true, encoding: .utf8)
        try FileManager.default.setAttributes([.posixPermissions: 0o755], ofItemAtPath: tasksScript)
        try "written by fleet submit on \(ProcessInfo.processInfo.hostName)\n".write(toFile: sharedMarker, atomically: true, encoding: .utf8)
        for f in ["steps.txt", "tasks.txt"] { try? FileManager.default.removeItem(atPath: folder.path + "/slurm/" + f) }
        for c in commands.nodes { try? FileManager.default.removeItem(atPath: folder.path + "/slurm/\(c.name).status") }
    }
}
