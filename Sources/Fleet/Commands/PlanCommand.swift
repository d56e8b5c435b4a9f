// `fleet plan TOPOLOGY`: the exact coordinator and node command lines (and CURVE keys) for
// launching a fleet across machines.
import ArgumentParser
import Federation
import FleetKit
import Foundation

/// `fleet plan`: command lines and keys for a multi-host run.
struct PlanCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "plan",
        abstract: "Print the coordinator and node command lines of a topology (and write config.json and keys) for multi-host runs.",
        discussion: """
        Example:
          fleet plan topologies/quickstart.yaml --coordinator-host 10.0.0.1 --out plan/
        Copy the plan folder (config.json and the node's key file) to each machine, then run the printed lines there.
        On a Slurm cluster, `fleet submit TOPOLOGY --slurm` starts and follows the processes for you.
        """)

    @Argument(help: "Topology YAML file.")
    var topology: String

    @Option(help: "Folder to write config.json and keys/ into (default: runs/<name>-plan).")
    var out: String?

    @Option(help: "Address the nodes connect to (the coordinator machine's address).")
    var coordinatorHost: String = "127.0.0.1"

    @Option(help: "Address the coordinator binds (0.0.0.0 for every interface).")
    var bindHost: String = "0.0.0.0"

    @Option(help: "TCP port of the coordinator.")
    var port: Int = 5555

    @Option(help: "Folder holding `coordinator` and `node` on the target machines (default: next to this `fleet`).")
    var binDir: String?

    @Flag(help: "Print the commands as JSON (argument arrays) instead of shell lines.")
    var json = false

    func validate() throws {
        guard (1...65535).contains(port) else { throw ValidationError("--port must be 1...65535") }
        guard !coordinatorHost.isEmpty, !bindHost.isEmpty else { throw ValidationError("--coordinator-host and --bind-host must not be empty") }
    }

    func run() throws {
        let t: Topology
        do { t = try Topology.validated(path: topology) } catch let e as TopologyError { throw failure(e) }
        if t.variants.count > 1 {
            throw failure("\(topology) sweeps \(t.sweep.map(\.path).joined(separator: ", ")) (\(t.cells.count) runs); plan one of them: copy the file without `sweep:` and set those keys")
        }
        let folder = RunFolder(path: URL(fileURLWithPath: out ?? "runs/\(t.name)-plan").standardizedFileURL.path)
        try folder.create()
        var plan = FleetPlan(t)
        if t.curve { plan = FleetPlan(t, curve: try folder.writeKeys(plan: plan)) }
        try folder.writeConfig(plan.config)
        let commands = LaunchCommands(plan: plan, folder: folder, binDir: binDir ?? LaunchCommands.defaultBinDir,
                                      bind: "tcp://\(bindHost):\(port)", connect: "tcp://\(coordinatorHost):\(port)", curve: t.curve,
                                      corruptNode: t.faults.corruptNode, corruptRound: t.faults.corruptRound)
        if json {
            let e = JSONEncoder()
            e.outputFormatting = [.prettyPrinted, .sortedKeys]
            print(String(decoding: try e.encode(commands), as: UTF8.self))
            return
        }
        print("# \(t.name): \(t.deviceCount) devices in \(t.nodes.count) node process(es); files in \(folder.path)")
        if t.curve { print("# CURVE is on: keys in \(folder.keys) (give each machine only its own .key file; the config holds the public keys)") }
        print("# every machine needs the built `coordinator`/`node`, the data set and the weights (`make deps weights` there)")
        if t.faults.killNode != nil { print("# faults.killNode is applied by `fleet run` only; kill that node by hand to reproduce it") }
        if t.network.proxy { print("# network.proxy (real-wire faults) is applied by `fleet run` only; these nodes connect to the coordinator directly") }
        print("\n# on the coordinator machine:")
        print(commands.coordinator.shellLine)
        for n in commands.nodes {
            print("\n# on the machine of \(n.name) (needs \(folder.config)\(t.curve ? " and \(folder.nodeKey(n.name))" : "")):")
            print(n.shellLine)
        }
    }
}
