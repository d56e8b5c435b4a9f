// A topology turned into what the processes need: the federation configuration (JSON) and the
// devices each node process hosts.
import Engine
import Federation
import Foundation

/// The federation configuration and node assignment of a topology.
public struct FleetPlan: Equatable, Sendable {
    /// The configuration every process reads.
    public var config: FederationConfig
    /// Device ids per node process (node 1 first).
    public var nodeDevices: [[String]]
    /// Device id → group name.
    public var groupOf: [String: String]

    /// Builds the configuration; `curve` holds the keys when CURVE is on.
    public init(_ t: Topology, curve: CurveConfig? = nil) {
        var c = FederationConfig()
        c.seed = t.seed
        c.model = t.model
        c.dataset = t.dataset
        c.partition = t.partition
        c.deviceDefaults.memory = t.memory
        c.deviceDefaults.search = t.search
        c.rounds = t.rounds
        c.rounds.coordinatedSchedule = t.coordinatedSchedule
        c.aggregation = t.aggregation
        c.privacy = t.privacy
        c.secureAggregation = t.secureAggregation
        c.attacks = t.attacks
        c.encoding = t.encoding
        c.personalisation = t.personalisation
        c.heartbeatMs = t.heartbeatMs
        c.curve = curve
        var ids: [String] = []
        var groupOf: [String: String] = [:]
        for g in t.groups {
            for id in g.deviceIDs {
                var d = DeviceConfig(id: id)
                d.budget = g.budget; d.policy = g.policy; d.localSteps = g.localSteps; d.batch = g.batch; d.learningRate = g.learningRate
                d.localSchedule = g.localSchedule
                c.devices.append(d)
                ids.append(id)
                groupOf[id] = g.name
            }
        }
        var nodes = Array(repeating: [String](), count: t.nodes.count)
        if t.nodes.split == "contiguous" {
            let per = (ids.count + t.nodes.count - 1) / t.nodes.count
            for (i, id) in ids.enumerated() { nodes[min(i / per, t.nodes.count - 1)].append(id) }
        } else {
            for (i, id) in ids.enumerated() { nodes[i % t.nodes.count].append(id) }
        }
        config = c
        nodeDevices = nodes
        self.groupOf = groupOf
    }

    /// Node names, `node-1`…
    public var nodeNames: [String] { nodeDevices.indices.map { "node-\($0 + 1)" } }
}

extension Topology {
    /// The runs this topology asks for: itself, or one per sweep cell (label, topology).
    public var variants: [(label: String?, topology: Topology)] {
        guard !cells.isEmpty else { return [(nil, self)] }
        return cells.map { ($0.label, $0.topology) }
    }

    /// The run that `folder` holds: a sweep cell's subfolder is named after the cell; any other folder holds the first run.
    public func variant(of folder: RunFolder) -> (label: String?, topology: Topology) {
        let name = (folder.path as NSString).lastPathComponent
        return variants.first { $0.label == name } ?? variants[0]
    }

    /// Parses, checks budgets of every variant, the files the run needs, and the generated configuration.
    public static func validated(path: String, checkFiles: Bool = true) throws -> Topology {
        let t = try TopologyParser.load(path: path)
        for v in t.variants { _ = try BudgetCheck.plans(v.topology, file: path) }
        if checkFiles { try InputFiles.check(t, file: path) }
        do {
            try FleetPlan(t.variants[0].topology).config.validate()
        } catch let e as ConfigError {
            throw TopologyError(file: path, line: nil, key: "", problem: "the generated federation configuration is refused: \(e.description)")
        }
        return t
    }
}
