// `network.proxy: on`: the fault proxy that `fleet run` puts between the nodes and the
// coordinator (Transport's FaultProxy, on a thread of the fleet process), its fault plan from
// the topology's network block, and network.json, where its counters go at the end of the run.
import Federation
import Foundation
import Transport

extension NetworkModel {
    /// The real-wire faults of this network, the same both ways, seeded from the topology's seed.
    public func faultPlan(seed: UInt64) -> FaultPlan {
        FaultPlan(seed: seed ^ 0x0F1A_5EED_0000_0001,
                  both: FaultRates(dropProbability: dropProbability, duplicateProbability: duplicateProbability,
                                   reorderProbability: reorderProbability, latencyMs: latencyMs, jitterMs: jitterMs))
    }
}

/// What network.json holds: the plan, where the proxy sat, and what it did.
public struct WireRecord: Codable, Equatable, Sendable {
    /// Format tag: `sparsefleet.network/1`.
    public var schema = "sparsefleet.network/1"
    /// The faults applied.
    public var plan: FaultPlan
    /// The endpoint the nodes connected to (the proxy).
    public var frontend: String
    /// The coordinator's endpoint.
    public var upstream: String
    /// The proxy's counters (a resumed run adds its own to the earlier ones).
    public var counters: ProxyCounters
}

/// Starting the run's proxy and recording it.
public enum WireProxy {
    /// Starts the proxy of the run in `folder`, bound to a free loopback port, in front of the
    /// coordinator at `coordinator`; with CURVE it loads the coordinator's and every node's key
    /// pair from the folder's keys/. Nodes connect to the returned proxy's `endpoint`.
    /// `log` receives the proxy's notable events.
    public static func start(_ t: Topology, folder: RunFolder, nodeNames: [String], coordinator: String, curve: Bool,
                             heartbeatMs: Int, log: (@Sendable (String) -> Void)? = nil) throws -> FaultProxy {
        var options = FaultProxyOptions(bind: "tcp://127.0.0.1:*", upstream: coordinator, plan: t.network.faultPlan(seed: t.seed))
        options.log = log
        if curve {
            options.curve = FaultProxyCurve(coordinator: try KeyFile.load(path: folder.coordinatorKey),
                                            nodes: try nodeNames.map { try KeyFile.load(path: folder.nodeKey($0)) })
        }
        // A node silent for many heartbeat intervals is gone (the coordinator reaps it after 3).
        options.idleUpstreamMs = Int64(max(60_000, 20 * heartbeatMs))
        do {
            return try FaultProxy(options: options)
        } catch let e as FaultPlanError {
            throw RunFolderError("network: \(e.description); fix the topology's network block")
        }
    }

    /// Writes `record` as pretty, sorted JSON to `path`.
    public static func write(_ record: WireRecord, to path: String) throws {
        let e = JSONEncoder()
        e.outputFormatting = [.prettyPrinted, .sortedKeys]
        try e.encode(record).write(to: URL(fileURLWithPath: path))
    }

    /// The record at `path`, if there is a readable one.
    public static func read(path: String) -> WireRecord? {
        FileManager.default.contents(atPath: path).flatMap { try? JSONDecoder().decode(WireRecord.self, from: $0) }
    }
}
