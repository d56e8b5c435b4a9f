// `fleet run` for one topology (or one compared policy): run folder, keys, config, coordinator
// and nodes as child processes with logs, live progress, injected faults, the fault proxy on the
// real wire (`network.proxy: on`), clean shutdown, then the summary and the report.
import Federation
import Foundation
import Logging
import Transport

/// Settings of the launcher itself.
public struct LaunchOptions: Sendable {
    /// Where `coordinator` and `node` are.
    public var binDir: String
    /// Seconds children get between SIGINT and SIGKILL.
    public var grace: Double = 20
    /// Log level passed to the children.
    public var logLevel = "info"
    /// Options.
    public init(binDir: String) { self.binDir = binDir }
}

/// What one launch produced.
public struct LaunchResult {
    /// The run folder.
    public var folder: RunFolder
    /// The launcher's summary.
    public var summary: FleetSummary
}

/// Runs fleets on this machine.
public final class Launcher {
    private let options: LaunchOptions
    private let logger: Logger
    private let stop: ShutdownFlag

    /// A launcher; `stop` is set by Ctrl-C.
    public init(options: LaunchOptions, logger: Logger, stop: ShutdownFlag) {
        self.options = options; self.logger = logger; self.stop = stop
    }

    /// Runs `t` in `folder`; `source` is the topology text copied into the folder.
    public func run(_ t: Topology, label: String?, folder: RunFolder, source: String) throws -> LaunchResult {
        let started = Date()
        let plan = try Self.prepare(t, folder: folder, source: source)
        let endpoint = "tcp://127.0.0.1:\(LaunchCommands.freePort())"
        let proxy = try startProxy(t, folder: folder, plan: plan, coordinator: endpoint, curve: t.curve)
        let commands = LaunchCommands(plan: plan, folder: folder, binDir: options.binDir, bind: endpoint, connect: proxy?.endpoint ?? endpoint,
                                      curve: t.curve, corruptNode: t.faults.corruptNode, corruptRound: t.faults.corruptRound,
                                      logLevel: options.logLevel)
        let script = ([commands.coordinator] + commands.nodes).map { $0.shellLine + " &" }.joined(separator: "\n") + "\nwait\n"
        let proxyNote = proxy.map { "# The nodes connected to the fault proxy inside `fleet run` (\($0.endpoint), network.proxy: on); by hand, point them at \(endpoint).\n" } ?? ""
        try ("#!/bin/sh\n# The processes `fleet run` started for this run.\n" + proxyNote + script).write(toFile: folder.path + "/commands.sh", atomically: true, encoding: .utf8)
        print("run folder  \(folder.path)")
        print("fleet       \(t.deviceCount) devices (\(t.groups.map { "\($0.count)× \($0.name) \($0.policy.rawValue) @ \(SummaryTable.bytes($0.budget))" }.joined(separator: ", "))) in \(t.nodes.count) node process\(t.nodes.count == 1 ? "" : "es"), \(t.rounds.count) rounds, coordinator at \(endpoint)")
        if let proxy { print("network     \(Self.describe(t.network)) on the real wire: nodes connect to the fault proxy at \(proxy.endpoint)") }
        if t.coordinatedSchedule { print("note        coordinated channel schedule on: the coordinator deals each device its channels") }
        if t.rounds.lrSchedule != .constant { print("note        learning rates decay over the rounds (rounds.lrSchedule: \(t.rounds.lrSchedule.rawValue))") }
        return try execute(t, label: label, folder: folder, commands: commands, started: started, faults: true, logSuffix: "", priorSeconds: 0,
                           proxy: proxy, priorWire: nil)
    }

    /// Creates `folder` with the topology text, CURVE keys (when on) and the validated config.json:
    /// what every launcher (here or `fleet submit --slurm`) starts from.
    public static func prepare(_ t: Topology, folder: RunFolder, source: String) throws -> FleetPlan {
        try folder.create()
        try source.write(toFile: folder.topology, atomically: true, encoding: .utf8)
        var plan = FleetPlan(t)
        if t.curve { plan = FleetPlan(t, curve: try folder.writeKeys(plan: plan)) }
        try plan.config.validate()
        try folder.writeConfig(plan.config)
        return plan
    }

    /// Writes summary.json and report.html of the run in `folder` from what its coordinator
    /// recorded: the last step of every launcher.
    public static func finish(_ t: Topology, label: String?, folder: RunFolder, realSeconds: Double, interrupted: Bool,
                              realWire: ProxyCounters? = nil) throws -> FleetSummary {
        let metrics = SummaryBuilder.readMetrics(path: folder.metrics)
        let summary = try SummaryBuilder.build(topology: t, label: label, metrics: metrics,
                                               coordinator: SummaryBuilder.readCoordinatorSummary(path: folder.coordinatorSummary),
                                               realSeconds: realSeconds, interrupted: interrupted, realWire: realWire)
        try SummaryBuilder.write(summary, to: folder.summary)
        try HTMLReport.write(summary: summary, metrics: metrics, to: folder.report)
        return summary
    }

    /// The fault proxy of a run with `network.proxy: on` (nil otherwise), in front of `coordinator`.
    private func startProxy(_ t: Topology, folder: RunFolder, plan: FleetPlan, coordinator: String, curve: Bool) throws -> FaultProxy? {
        guard t.network.proxy else { return nil }
        let log = logger
        return try WireProxy.start(t, folder: folder, nodeNames: plan.nodeNames, coordinator: coordinator, curve: curve,
                                   heartbeatMs: t.heartbeatMs) { log.warning("\($0)") }
    }

    /// "drop 15 %, duplicate 5 %, reorder 5 %, latency 150 ms + jitter 0–20 ms".
    static func describe(_ n: NetworkModel) -> String {
        func pct(_ p: Double) -> String { String(format: "%g %%", 100 * p) }
        var parts = ["drop \(pct(n.dropProbability))", "duplicate \(pct(n.duplicateProbability))", "reorder \(pct(n.reorderProbability))",
                     String(format: "latency %g ms", n.latencyMs)]
        if n.jitterMs > 0 { parts[3] += String(format: " + jitter 0–%g ms", n.jitterMs) }
        return parts.joined(separator: ", ")
    }

    /// Continues the stopped run in `folder` (its config.json and keys) with `coordinator --resume`;
    /// nodes start afresh and rejoin. Injected faults are not repeated.
    public func resume(_ t: Topology, label: String?, folder: RunFolder) throws -> LaunchResult {
        let started = Date()
        let config = try FederationConfig.load(path: folder.config)
        var plan = FleetPlan(t, curve: config.curve)
        plan.config = config
        let endpoint = "tcp://127.0.0.1:\(LaunchCommands.freePort())"
        let proxy = try startProxy(t, folder: folder, plan: plan, coordinator: endpoint, curve: config.curve != nil)
        var commands = LaunchCommands(plan: plan, folder: folder, binDir: options.binDir, bind: endpoint, connect: proxy?.endpoint ?? endpoint,
                                      curve: config.curve != nil, logLevel: options.logLevel)
        commands.coordinator.arguments.append("--resume")
        let stamp = Int(started.timeIntervalSince1970)
        print("resuming    \(folder.path) (\(SummaryBuilder.readMetrics(path: folder.metrics).count) round(s) on record; logs *-resumed-\(stamp).log)")
        let prior = (try? SummaryBuilder.read(path: folder.summary))?.wallTime.realSeconds ?? 0
        return try execute(t, label: label, folder: folder, commands: commands, started: started, faults: false,
                           logSuffix: "-resumed-\(stamp)", priorSeconds: prior.isFinite ? prior : 0,
                           proxy: proxy, priorWire: WireProxy.read(path: folder.network)?.counters)
    }

    /// Starts the processes, follows the run, stops them, and writes the summary and the report
    /// (and, with a proxy, network.json: its counters added to `priorWire`, a resumed run's earlier ones).
    private func execute(_ t: Topology, label: String?, folder: RunFolder, commands: LaunchCommands, started: Date,
                         faults: Bool, logSuffix: String, priorSeconds: Double, proxy: FaultProxy?, priorWire: ProxyCounters?) throws -> LaunchResult {
        defer { proxy?.stop() }  // after every process has stopped: the nodes deliver their last messages through it
        let children = ChildProcesses(logger: logger)
        let coordinator = try children.start(commands.coordinator, logDir: folder.logs, suffix: logSuffix)
        var nodes: [Child] = []
        do {
            for c in commands.nodes { nodes.append(try children.start(c, logDir: folder.logs, suffix: logSuffix)) }
        } catch {
            children.stopAll(grace: options.grace)
            throw error
        }

        var progress = ProgressLine(planned: t.rounds.count, started: started)
        var killed = false
        var interrupted = false
        var reportedDeaths = Set<String>()
        while coordinator.process.isRunning {
            if stop.isSet {
                // Coordinator first, nodes once it has exited: they deliver the round it finishes.
                interrupted = true
                progress.finish()
                print("stopping: SIGINT to the coordinator, which finishes and checkpoints the round in progress (Ctrl-C again abandons it); "
                      + "then SIGINT to the node(s) still running; SIGKILL after \(Int(options.grace)) s")
                children.interrupt(coordinator: coordinator, nodes: nodes, grace: options.grace, stop: stop)
                break
            }
            let metrics = SummaryBuilder.readMetrics(path: folder.metrics)
            progress.draw(metrics)
            if faults, let k = t.faults.killNode, !killed, metrics.count >= t.faults.killAfterRound, nodes.indices.contains(k - 1) {
                killed = true
                children.kill(nodes[k - 1])
                progress.finish()
                print("fault       killed \(nodes[k - 1].command.name) (SIGKILL) after round \(metrics.count), as the topology asks")
            }
            for n in nodes where !n.process.isRunning && n.process.terminationStatus != 0 && !n.killedOnPurpose
                && !reportedDeaths.contains(n.command.name) {
                reportedDeaths.insert(n.command.name)
                progress.finish()
                print("warning     \(n.command.name) exited with status \(n.process.terminationStatus); see \(n.log)")
            }
            // Every node failed on its own: nothing can join, so stop now and show why.
            if !nodes.isEmpty, nodes.allSatisfy({ !$0.process.isRunning && $0.process.terminationStatus != 0 && !$0.killedOnPurpose }) {
                progress.finish()
                children.stopAll(grace: options.grace)
                throw RunFolderError("every node process failed; \(nodes[0].command.name)'s log:\n" + Self.tail(nodes[0].log, lines: 12)
                                     + "\n(logs in \(folder.logs))")
            }
            usleep(200_000)
        }
        progress.draw(SummaryBuilder.readMetrics(path: folder.metrics))
        progress.finish()
        // The coordinator said BYE: nodes leave by themselves; stop any that do not (through the
        // proxy a BYE may have been dropped, so wait less before asking them to stop).
        if !children.wait(nodes, seconds: proxy == nil ? 10 : 3) { children.stopAll(grace: options.grace) }
        var wire: ProxyCounters?
        if let proxy {
            proxy.stop()
            let counters = priorWire.map { $0 + proxy.counters } ?? proxy.counters
            try WireProxy.write(WireRecord(plan: t.network.faultPlan(seed: t.seed), frontend: proxy.endpoint,
                                           upstream: proxy.upstream,
                                           counters: counters), to: folder.network)
            wire = counters
        }
        if !interrupted, coordinator.process.terminationStatus != 0 {
            throw RunFolderError("the coordinator failed (status \(coordinator.process.terminationStatus)); its log:\n"
                                 + Self.tail(coordinator.log, lines: 15) + "\n(full log: \(coordinator.log))")
        }
        let summary = try Self.finish(t, label: label, folder: folder, realSeconds: priorSeconds + Date().timeIntervalSince(started),
                                      interrupted: interrupted, realWire: wire)
        return LaunchResult(folder: folder, summary: summary)
    }

    /// The last `lines` lines of a file.
    static func tail(_ path: String, lines: Int) -> String {
        let text = (try? String(contentsOfFile: path, encoding: .utf8)) ?? ""
        return text.split(separator: "\n").suffix(lines).joined(separator: "\n")
    }
}
