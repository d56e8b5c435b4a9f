// `fleet check TOPOLOGY`: validates a topology and prints each group's memory plan, without running.
import ArgumentParser
import Engine
import FleetKit
import Foundation

/// `fleet check`: validate a topology and print its memory plans.
struct CheckCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "check",
        abstract: "Validate a topology (keys, values, every group's budget) and print each group's memory plan.")

    @Argument(help: "Topology YAML file.")
    var topology: String

    func run() throws {
        let t: Topology
        do { t = try Topology.validated(path: topology) } catch let e as TopologyError { throw failure(e) }
        print("\(t.name): \(t.about)")
        for v in t.variants {
            if let l = v.label { print("-- \(l)") }
            for p in try BudgetCheck.plans(v.topology, file: topology) {
                print(String(format: "  %@  %d devices  %@  peak %@ of %@ at %@  (%d bias, %d weight layers; %.2f%% conv weights/step)",
                             p.group as NSString, p.devices, p.policy as NSString, ByteSize.format(p.peakBytes) as NSString,
                             ByteSize.format(p.budgetBytes) as NSString, p.peakAt as NSString, p.biasLayers, p.weightLayers,
                             p.convWeightsPerStepPercent))
            }
        }
        print("ok")
    }
}
