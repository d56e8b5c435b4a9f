// `fleet submit TOPOLOGY --slurm`: the topology as a real Slurm batch job.
import ArgumentParser
import FleetKit
import Foundation

struct SubmitCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "submit",
        abstract: "Submit a topology as a Slurm batch job: coordinator and node processes as srun steps, summary and report as `fleet run` writes them.",
        discussion: """
        Example:
          fleet submit topologies/quickstart.yaml --slurm --partition debug --time 01:00:00
          fleet status runs/quickstart-<time>
          fleet cancel runs/quickstart-<time>      # resumable: fleet resume runs/quickstart-<time> --slurm

        The run folder (under --runs) and the executables (--bin-dir) must be on a file system that every \
        allocated node sees; the job checks the folder on every node first and fails with that message if not. \
        The coordinator runs on the first allocated node and listens on port 20000 + job id mod 20000 (TCP, \
        CURVE on as the topology says, keys in the run folder); the nodes find it from the allocation.
        """)

    @Argument(help: "Topology YAML file, e.g. topologies/quickstart.yaml.")
    var topology: String

    @Option(help: "Folder that holds run folders; must be shared with the cluster's nodes.")
    var runs: String = "runs"

    @Option(help: "Folder holding `coordinator`, `node` and `fleet` (default: next to this `fleet`); must be visible on every node.")
    var binDir: String?

    @OptionGroup var cluster: SlurmOptions

    func validate() throws {
        guard cluster.slurm else { throw ValidationError("fleet submit needs an engine: --slurm (to run on this machine, use fleet run)") }
        guard FileManager.default.fileExists(atPath: topology) else { throw ValidationError("no topology file '\(topology)'; see topologies/*.yaml") }
    }

    func run() throws {
        let t: Topology
        do { t = try Topology.validated(path: topology) } catch let e as TopologyError { throw failure(e) }
        let bin = URL(fileURLWithPath: binDir ?? LaunchCommands.defaultBinDir).standardizedFileURL.path
        let submitter = SlurmSubmitter(binDir: bin)
        let request = cluster.request(t)
        do {
            for w in try submitter.check(t, request: request, allowShortTime: cluster.allowShortTime) { print("warning     \(w)") }
            let runsPath = URL(fileURLWithPath: runs).standardizedFileURL.path
            if runsPath.hasPrefix("/tmp/") || runsPath.hasPrefix("/dev/shm/") {
                print("warning     \(runsPath) is under /tmp, which on most clusters is local to each node; the job checks that every node sees the run folder")
            }
            let folder = RunFolder.fresh(parent: runsPath, name: t.name)
            let source = try String(contentsOfFile: topology, encoding: .utf8)
            let record = try submitter.submit(t, source: source, folder: folder, request: request)
            print("run folder  \(folder.path)")
            print("job         \(record.jobId): \(t.deviceCount) devices in \(t.nodes.count) node process(es) over \(request.nodes) Slurm node(s), time limit \(SlurmTime.format(request.timeSeconds))\(request.partition.map { ", partition \($0)" } ?? "")")
            print("follow      fleet status \(folder.path)   (squeue -j \(record.jobId); logs in \(folder.logs))")
            print("stop        fleet cancel \(folder.path)   (resumable: fleet resume \(folder.path) --slurm)")
        } catch let e as SlurmError {
            throw failure(e)
        } catch let e as RunFolderError {
            throw failure(e)
        }
    }
}
