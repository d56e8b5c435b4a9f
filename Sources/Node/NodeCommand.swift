// `node`: hosts virtual devices. `node run` joins a coordinator; `node finetune` trains one device
// alone; `node plan` prints a device's memory plan for a budget.
import ArgumentParser

@main
struct NodeCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "node",
        abstract: "SparseFleet node: simulated 256 KB devices that train with sparse updates.",
        subcommands: [RunCommand.self, FinetuneCommand.self, PlanCommand.self, BenchCommand.self],
        defaultSubcommand: RunCommand.self)
}
