// The cluster options of `fleet submit --slurm` and `fleet resume --slurm`.
import ArgumentParser
import FleetKit

struct SlurmOptions: ParsableArguments {
    @Flag(help: "Run as a Slurm batch job (sbatch); the only engine `fleet submit` has today.")
    var slurm = false

    @Option(help: "Slurm partition (default: the cluster's default partition).")
    var partition: String?

    @Option(help: "Slurm nodes to spread the node processes over (default: up to 2, at most the topology's node processes).")
    var nodes: Int?

    @Option(help: "Time limit in Slurm's syntax (MM, HH:MM:SS, D-HH:MM) (default: the topology's estimate, which already has a 2× margin, and at least 00:10:00).")
    var time: String?

    @Option(help: "Slurm account to charge.")
    var account: String?

    @Flag(help: "Submit even when --time is shorter than the topology's estimate.")
    var allowShortTime = false

    func validate() throws {
        if let time, SlurmTime.seconds(time) == nil {
            throw ValidationError("--time '\(time)' is not a Slurm time limit; write MM, HH:MM:SS or D-HH:MM, e.g. --time 00:30:00")
        }
        if let nodes, nodes < 1 { throw ValidationError("--nodes must be at least 1") }
    }

    /// The request for topology `t`, defaults filled in.
    func request(_ t: Topology) -> SlurmRequest {
        SlurmRequest(partition: partition, account: account, nodes: nodes ?? min(2, max(1, t.nodes.count)),
                     timeSeconds: time.flatMap(SlurmTime.seconds) ?? max(600, SlurmEstimate.seconds(t)))
    }
}
