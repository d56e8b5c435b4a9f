// The coordinator: admits the configured devices, holds the global (folded) model, and runs
// rounds — plan (RoundPlanner), send MODEL + TASK, collect UPDATEs until the deadline (admitted
// by UpdateAdmission), aggregate per coordinate, check, evaluate, log (RunLedger) — over any
// MessageChannel: a ZeroMQ ROUTER in production (CoordinatorEndpoint), an InMemoryNetwork in
// tests. The message handlers are in CoordinatorService+Messages.swift.
//
// Failure rules (the configuration format is documented in FederationConfig.swift):
//   - a sampled device with no accepted update by the deadline is a straggler: dropped, counted;
//   - a round with fewer than `rounds.minUpdates` accepted updates is skipped: model unchanged;
//   - a round whose aggregate holds a non-finite value is refused: model unchanged, counted;
//   - any malformed, hostile or out-of-range message gets the protocol's ERROR reply and the
//     round goes on; aggregation and evaluation run off the message loop, so heartbeats flow.
import Engine
import Foundation
import Logging
import Transport
import Wire

/// Where the coordinator listens and writes.
public struct CoordinatorOptions: Sendable {
    /// Endpoint to bind.
    public var endpoint: String
    /// Run folder (created): metrics.jsonl, summary.json, model checkpoints.
    public var runFolder: String
    /// The coordinator's CURVE key pair (required when the configuration has `curve`).
    public var keyPair: CurveKeyPair?
    /// Continue from the run folder's checkpoint (a fresh start when there is none).
    public var resume = false
    /// Fault injection for tests: SIGKILL this process at this point of a round.
    public var crashAt: CrashPoint?

    /// Options.
    public init(endpoint: String, runFolder: String, keyPair: CurveKeyPair? = nil, resume: Bool = false) {
        self.endpoint = endpoint; self.runFolder = runFolder; self.keyPair = keyPair; self.resume = resume
    }
}

/// Runs a federation from a configuration.
public final class CoordinatorService {
    let config: FederationConfig
    let options: CoordinatorOptions
    var logger: Logger
    let stop: ShutdownFlag
    let codec = WireCodec()
    var model: GlobalModel
    let rule: any AggregationRule
    /// The noise multiplier z under DP (given or calibrated), else 0.
    let noiseMultiplier: Double
    var state = ServerState()
    var registry: PeerRegistry
    var open: OpenRound?
    /// The global model's last evaluation and its version (a round that leaves the model as it was reuses it).
    var lastEvaluation: (version: UInt64, evaluation: Evaluation)?
    let admission: UpdateAdmission
    let joins: JoinAdmission
    let limits: CoordinatorLimits
    let test: ImageDataset
    let testCache: FeatureCache
    let resolution: Int
    var ledger = RunLedger(initialAccuracy: 0, initialLoss: 0)
    /// The privacy spent so far (nil without DP).
    var privacy: PrivacySpend?
    /// Whether the run stopped before a round that would exceed privacy.maxEpsilon.
    var stoppedAtMaxEpsilon = false
    let assigner: TaskAssignments?
    var endpoint: CoordinatorEndpoint?
    var zapRefusedSeen = 0
    /// Refused messages per connection since the round opened (past `limits.maxRepliesPerPeer`
    /// a peer's refusals are dropped without an ERROR, so a flood cannot amplify).
    var refusalsByPeer: [[UInt8]: Int] = [:]
    /// When each device's node was last taken for dead (monotonic ms), for the farewell.
    var lostAt: [String: Int64] = [:]
    /// The end of the run, once the coordinator says BYE.
    var farewell: Farewell?
    /// Every device's layout and aggregation weight n_k (its training-shard size).
    let layouts: [String: SparseLayout], weights: [String: UInt64]
    /// The secure round in progress (secure aggregation).
    var secure: SecureCollection?
    /// The run's secure rounds so far (nil without secure aggregation).
    var secureTally: SecureAggregationSummary?
    /// Tests: sees every accepted masked vector (device, ring elements) — what the coordinator sees.
    var maskedObserver: ((String, [UInt32]) -> Void)?

    /// Loads the data and the initial model, fits every device's layout, computes every
    /// device's aggregation weight (its training-shard size) and caches the test features at the
    /// earliest block any device trains.
    public init(config: FederationConfig, options: CoordinatorOptions, logger: Logger, stop: ShutdownFlag) throws {
        ProcessMemory.configureForLongRuns()
        self.config = config
        self.options = options
        self.logger = logger
        self.stop = stop
        test = try FederatedData.testSet(config)
        resolution = config.model.resolution
        let net = try DevicePlans.initialModel(config, classes: test.classes)
        model = GlobalModel(net, keep: config.rounds.keepVersions)
        registry = PeerRegistry(defaultInterval: Int64(config.heartbeatMs))
        let train = try FederatedData.trainingIndex(config)  // labels only: the coordinator holds no training image
        let shards = try FederatedData.shards(config, labels: train.labels, classes: train.classes)
        var memo: [String: SparseLayout] = [:]
        var layouts: [String: SparseLayout] = [:], trainable: [String: Set<Int>] = [:]
        var weights: [String: UInt64] = [:], norms: [String: Double] = [:], steps: [String: UInt32] = [:]
        var firstBlock = net.arch.blocks.count
        for d in config.resolvedDevices {
            let key = "\(d.budget)|\(d.policy.rawValue)|\(d.batch)"
            let layout = try memo[key] ?? DevicePlans.layout(d, arch: net.arch, resolution: resolution)
            memo[key] = layout
            layouts[d.id] = layout
            trainable[d.id] = ModelTensors.trainableTensors(layout, arch: net.arch)
            weights[d.id] = UInt64(shards[d.id]?.train.count ?? 0)
            norms[d.id] = config.aggregation.maxUpdateNorm(for: d)
            steps[d.id] = UInt32(d.localSteps)
            firstBlock = min(firstBlock, DevicePlans.startBlock(layout, arch: net.arch))
        }
        if config.privacy.enabled {
            noiseMultiplier = try config.privacy.resolvedNoiseMultiplier(config)
            let schema = model.schema
            var candidates = Set<Int>()
            for d in config.resolvedDevices {
                let shared = config.personalisation.sharedTensors(layouts[d.id]!, arch: net.arch)
                candidates.formUnion(shared)
                norms[d.id] = LocalNoise.maxUpdateNorm(config.privacy, noiseMultiplier: noiseMultiplier,
                                                       coordinates: shared.reduce(0) { $0 + schema.tensors[$1].elementCount })
            }
            rule = DPFixedDenominatorRule(clip: config.privacy.clip, noiseMultiplier: [.local, .distributed].contains(config.privacy.mode) ? 0 : noiseMultiplier,
                                          expectedCohort: config.privacy.expectedCohort(config), candidates: Array(candidates),
                                          serverLearningRate: config.aggregation.serverLearningRate, seed: config.seed ^ 0xD1FF_E4E7_1A1)
        } else {
            noiseMultiplier = 0
            rule = RoundAggregation.rule(config.aggregation)
        }
        self.layouts = layouts
        self.weights = weights
        secureTally = config.secureAggregation.enabled ? SecureAggregationSummary(mode: config.secureAggregation.mode) : nil
        admission = UpdateAdmission(schema: model.schema, trainable: trainable, weights: weights, maxNorms: norms,
                                    localSteps: steps, encoding: config.encoding.encoding)
        joins = JoinAdmission(configured: Set(config.devices.map(\.id)), allowList: config.curve)
        limits = CoordinatorLimits(schema: model.schema)
        assigner = config.rounds.coordinatedSchedule
            ? TaskAssignments(layouts: layouts, arch: net.arch, seed: config.seed ^ 0xC0_0D_1A_7E) : nil
        testCache = FeatureCache(net: net, data: test, preprocessing: .imageNet(size: resolution), block: firstBlock)
    }

    /// Binds the configured ZeroMQ endpoint (CURVE + ZAP when configured) and runs.
    @discardableResult
    public func run() throws -> RunSummary {
        let endpoint = try CoordinatorEndpoint.bind(config: config, options: options, limits: limits)
        defer { endpoint.close() }
        return try run(on: endpoint)
    }

    /// Runs every round over `endpoint`, then the final personalised evaluation; writes and
    /// returns the summary.
    @discardableResult
    public func run(on endpoint: CoordinatorEndpoint) throws -> RunSummary {
        let started = Date()
        try FileManager.default.createDirectory(atPath: options.runFolder, withIntermediateDirectories: true)
        let restored = options.resume ? try Checkpoint.load(folder: options.runFolder, schema: model.schema, config: config) : nil
        let metrics: JSONLinesWriter
        if let c = restored {
            model = GlobalModel(model.network, keep: config.rounds.keepVersions, restoring: c.model, version: c.state.modelVersion)
            state = c.server
            ledger = RunLedger(restoring: c.state)
            if config.privacy.enabled { privacy = PrivacySpend(config: config, noiseMultiplier: noiseMultiplier, rounds: c.state.privacyRounds ?? 0) }
            if let tally = c.state.secureAggregation, config.secureAggregation.enabled { secureTally = tally }
            metrics = try JSONLinesWriter(path: options.runFolder + "/metrics.jsonl", keepLines: c.state.completed)
            logger.notice("resuming from checkpoint", metadata: ["round": "\(c.state.round)", "model.version": "\(c.state.modelVersion)"])
        } else {
            if options.resume { logger.notice("--resume: no checkpoint in the run folder yet; starting from round 1") }
            try config.json().write(to: URL(fileURLWithPath: options.runFolder + "/config.json"))
            try model.network.stateDict().write(path: options.runFolder + "/model-initial.safetensors")
            metrics = try JSONLinesWriter(path: options.runFolder + "/metrics.jsonl")
            let e = evaluate(model.network)
            ledger = RunLedger(initialAccuracy: e.accuracy, initialLoss: e.loss)
            if config.privacy.enabled { privacy = PrivacySpend(config: config, noiseMultiplier: noiseMultiplier) }
            logger.info("initial model", metadata: ["test.accuracy": "\(fmt(e.accuracy))", "parameters": "\(model.schema.parameterCount)"])
        }
        self.endpoint = endpoint
        defer { self.endpoint = nil }
        logger.info("listening", metadata: [
            "endpoint": "\(endpoint.address)", "curve": "\(config.curve != nil)", "devices": "\(config.devices.count)",
            "rounds": "\(config.rounds.count)", "bound.per.peer": "\(limits.description)"])
        if config.curve == nil {
            logger.warning("plain transport: node identities are NOT authenticated (any peer may claim a configured node name); use CURVE outside trusted local runs")
        }

        // Wait for the configured devices.
        let all = Set(config.devices.map(\.id))
        let joinDeadline = MonotonicClock.nowMilliseconds() + Int64(config.rounds.joinWaitMs)
        try pump(until: { Set(self.registry.liveDevices) == all }, deadline: joinDeadline)
        logger.info("devices joined", metadata: ["live": "\(registry.liveDevices.count)", "configured": "\(all.count)"])

        if let p = privacy {
            logger.info("differential privacy", metadata: ["mode": "\(p.settings.mode.rawValue)", "clip": "\(p.settings.clip)", "z": "\(p.noiseMultiplier)",
                                                           "q": "\(p.samplingRate)", "delta": "\(p.delta)", "sampling": "\(p.settings.sampling.rawValue)"])
        }
        for round in stride(from: UInt64(ledger.completed + 1), through: UInt64(config.rounds.count), by: 1) where !stop.isSet {
            if let p = privacy, p.nextRoundExceedsBudget {
                stoppedAtMaxEpsilon = true
                logger.notice("privacy budget: the next round would take ε over maxEpsilon; stopping before it",
                              metadata: ["round": "\(round)", "epsilon": "\(p.epsilon)", "epsilon.next": "\(p.epsilonAfterNextRound)",
                                         "maxEpsilon": "\(p.settings.maxEpsilon ?? 0)"])
                break
            }
            guard let m = try runRound(round) else {
                logger.notice("second signal: round abandoned, not aggregated; the checkpoint stays at the last finished round (--resume replays it)",
                              metadata: ["round": "\(round)", "checkpoint.round": "\(ledger.completed)"])
                break
            }
            do { try metrics.append(m) } catch { logger.warning("metrics line not written", metadata: ["round": "\(round)", "error": "\(error)"]) }
            // The commit point of the round: a crash before the rename replays the round (the
            // metrics line just written is dropped on resume), a crash after it does not.
            var cs = ledger.checkpointState(round: round, modelVersion: model.version)
            cs.privacyRounds = privacy?.rounds
            cs.secureAggregation = secureTally
            try Checkpoint(state: cs, model: model.values, server: state).write(folder: options.runFolder, schema: model.schema, config: config) {
                options.crashAt?.fire(round: round, phase: .checkpointing)
            }
            if stop.isSet {
                logger.notice("signal: round finished and checkpointed; stopping (coordinator --resume continues)", metadata: ["round": "\(round)"])
            }
        }
        try model.network.stateDict().write(path: options.runFolder + "/model-final.safetensors")
        if !stop.isSet { try finalEvaluation(round: UInt64(ledger.completed)) }
        try sayFarewell(reason: stop.isSet ? "coordinator stopping (signal)" : "run complete")
        var summary = ledger.summary(modelVersion: model.version, denseModelBytes: model.schema.denseF32Bytes, interrupted: stop.isSet,
                                     wallSeconds: Date().timeIntervalSince(started), identityAuthenticated: config.curve != nil,
                                     privacy: privacy?.summary(stoppedAtMaxEpsilon: stoppedAtMaxEpsilon), secure: secureTally)
        summary.personalisationMethod = config.personalisation.method.rawValue
        try RunLedger.write(summary, to: options.runFolder + "/summary.json", logger: logger)
        logger.info("run finished", metadata: ["rounds": "\(ledger.completed)", "skipped": "\(ledger.skipped)", "refused.rounds": "\(ledger.refusedRounds)",
                                               "model.version": "\(model.version)", "test.accuracy": "\(fmt(ledger.last.accuracy))",
                                               "interrupted": "\(stop.isSet)"])
        return summary
    }

    /// Global test accuracy and loss of `net` (safe off the message loop: it reads only the test cache).
    func evaluate(_ net: Network) -> Evaluation {
        Evaluator.evaluate(net, cache: testCache, labels: test.labels, indices: Array(0..<test.count), size: resolution)
    }

    /// One round: plan, send, collect, aggregate, check, evaluate. A first SIGINT/SIGTERM during
    /// the round lets it finish (every update or the deadline); a second abandons it: nil,
    /// nothing applied.
    func runRound(_ round: UInt64) throws -> RoundMetrics? {
        let started = Date()
        refusalsByPeer = [:]
        // Hear everyone first; with no live device, wait (up to joinWaitMs) for one to (re)join.
        try pump(until: { true }, deadline: 0)
        if registry.liveDevices.isEmpty {
            logger.warning("no live devices; waiting for a node to join", metadata: ["round": "\(round)"])
            try pump(until: { !self.registry.liveDevices.isEmpty },
                     deadline: MonotonicClock.nowMilliseconds() + Int64(config.rounds.joinWaitMs))
        }
        let live = registry.liveDevices
        var log = logger
        log[metadataKey: "round"] = "\(round)"
        // Under secure aggregation the round's plan (participants, graph, blocks) comes first.
        var securePlan: SecureRoundPlan?, secureRefusal: String?
        if config.secureAggregation.enabled {
            do {
                securePlan = try SecureRoundPlan.make(round: round, sampled: RoundPlanner.sample(round: round, live: live, config: config), config: config,
                                                      layouts: layouts, weights: weights, arch: model.network.arch, schema: model.schema,
                                                      noiseMultiplier: noiseMultiplier)
            } catch {
                secureRefusal = "\(error)"
                log.warning("secure round not run; model unchanged", metadata: ["reason": "\(error)"])
            }
        }
        var plan = RoundPlanner.plan(round: round, live: live, config: config, modelVersion: model.version) { sampled in
            securePlan?.assignments ?? self.assigner?.assignments(round: round, sampled: sampled, schema: self.model.schema) ?? [:]
        }
        open = OpenRound(round: round, version: model.version, sampled: plan.sampled)
        var taskDevices = plan.sampled
        if config.secureAggregation.enabled {
            taskDevices = securePlan?.participants ?? []
            for id in plan.sampled where !taskDevices.contains(id) {
                open?.failures[id] = .satOut
                open?.pending.remove(id)
            }
            for id in taskDevices { plan.tasks[id]?.secureAggregation = securePlan!.setups[id]! }
        }
        // MODEL first (once per node process), then one TASK per sampled device.
        let byPeer = Dictionary(grouping: taskDevices) { registry.owner[$0]! }
        var tasksSent = 0
        for (identity, devices) in byPeer.sorted(by: { $0.value[0] < $1.value[0] }) {
            sendModelIfNeeded(identity)
            for id in devices {
                send(identity, .task(plan.tasks[id]!))
                tasksSent += 1
                if tasksSent * 2 >= plan.sampled.count { options.crashAt?.fire(round: round, phase: .sending) }
            }
        }
        log.info("round open", metadata: ["sampled": "\(plan.sampled.count)", "live": "\(live.count)", "model.version": "\(model.version)"])
        let deadline = MonotonicClock.nowMilliseconds() + Int64(config.rounds.deadlineMs)
        var secureEnd: SecureCollectionEnd?, secureReport: SecureRoundReport?
        if let sp = securePlan {
            let s = SecureCollection(plan: sp)
            secure = s
            let end = try collectSecurely(s, roundDeadline: deadline, log: log)
            secure = nil
            secureEnd = end
            secureReport = self.secureReport(s, end: end)
        } else if secureRefusal == nil {
            try pump(until: { self.open?.pending.isEmpty ?? true }, deadline: deadline, stopAfterSignals: 2)
        }
        var r = open!
        open = nil
        if stop.requests >= 2 { return nil }
        for id in r.pending { r.failures[id] = .deadline }
        if !r.pending.isEmpty { log.warning("stragglers dropped", metadata: ["devices": "\(r.pending.sorted().joined(separator: ","))"]) }

        // Under secure aggregation the one unmasked aggregate stands for the survivors' updates.
        var results = Array(r.results.values), minUpdates = config.rounds.minUpdates
        var notApplied: String?
        switch secureEnd {
        case let .aggregate(result, survivors, _)?:
            results = [result]
            r.secureSurvivors = survivors
            minUpdates = survivors.count >= minUpdates ? 1 : Int.max
        case let .refused(why)?:
            results = []; r.secureSurvivors = []
            notApplied = "secure aggregation: \(why)"
        case .abandoned?: return nil
        case nil:
            if let why = secureRefusal { results = []; r.secureSurvivors = []; notApplied = "secure aggregation: \(why)" }
        }
        if let report = secureReport { secureTally?.record(report, uplink: (r.secureSurvivors ?? []).compactMap { r.updateBytes[$0] }) }
        let input = AggregationInput(round: round, schema: model.schema, model: model.values, results: results,
                                     failures: r.failures.map { DeviceFailure(deviceID: $0.key, reason: $0.value) }, state: state)
        let localOnly = !config.personalisation.method.sendsUpdates  // local: nothing to aggregate, the model stays
        let (rule, schema, refused) = (self.rule, model.schema, notApplied != nil || localOnly)
        let agg = try offLoop {
            if refused { return (RoundAggregationResult(skipped: false, outcome: AggregationOutcome(model: input.model, state: input.state, touchedChannels: [:])), String?.none) }
            let agg = RoundAggregation.run(rule, input, minUpdates: minUpdates)
            return (agg, agg.skipped ? nil : RoundAggregation.nonFiniteTensor(agg.outcome, schema: schema))
        }
        options.crashAt?.fire(round: round, phase: .aggregating)
        if notApplied != nil {
            log.warning("round not applied; the previous model stays", metadata: ["reason": "\(notApplied!)"])
        } else if localOnly {
        } else if agg.0.skipped {
            log.warning("round skipped: too few updates; model unchanged",
                        metadata: ["updates": "\(r.results.count)", "needed": "\(config.rounds.minUpdates)"])
        } else if let bad = agg.1 {
            notApplied = "the aggregate of '\(bad)' is not finite"
            log.error("round refused: the aggregate is not finite; the previous model stays", metadata: ["tensor": "\(bad)"])
        } else {
            state = agg.0.outcome.state
            model.advance(to: agg.0.outcome.model)
            privacy?.charge()  // a noised aggregate was released
        }
        let net = model.network
        let eval: Evaluation
        if let known = lastEvaluation, known.version == model.version { eval = known.evaluation } else {
            eval = try offLoop { self.evaluate(net) }
            lastEvaluation = (model.version, eval)
        }
        let m = ledger.closeRound(RunLedger.RoundEnd(open: r, aggregation: agg.0, notApplied: notApplied, evaluation: (eval.accuracy, eval.loss),
                                                     modelVersion: model.version, rule: rule.name, started: started,
                                                     epsilon: privacy.map(\.epsilon), secure: secureReport), schema: model.schema)
        ProcessMemory.trim()  // the round's decoded updates are gone: hand their memory back
        log.info("round closed", metadata: [
            "reporting": "\(m.reporting.count)/\(m.sampled.count)", "failed": "\(r.failures.count)", "refused": "\(m.refusedMessages)",
            "test.accuracy": "\(fmt(eval.accuracy))", "bytes.up": "\(m.bytesUp)", "bytes.down": "\(m.bytesDown)",
            "update.fraction": "\(String(format: "%.4f", m.updateFractionOfDense))",
            "personal.after.mean": "\(m.personalAfter.map { fmt($0.mean) } ?? "-")", "skipped": "\(agg.0.skipped)",
            "held.back": "\(agg.0.outcome.heldBackCoordinates)",
            "update.norm.max": "\(m.updateNorm?.largest.map { String(format: "%.4g", $0) } ?? "-")",
            "rss.bytes": "\(ProcessMemory.residentBytes())", "heap.bytes": "\(ProcessMemory.heapInUseBytes())"])
        return m
    }

    /// Runs `work` on another thread while the message loop goes on (heartbeats, joins, refusals
    /// of late updates), and returns its result.
    func offLoop<T>(_ work: @escaping () -> T) throws -> T {
        let done = DispatchSemaphore(value: 0)
        let box = ResultBox<T>()
        DispatchQueue.global(qos: .userInitiated).async {
            box.value = work()
            done.signal()
        }
        var finished = false
        try pump(until: {
            if !finished { finished = done.wait(timeout: .now()) == .success }
            return finished
        }, deadline: .max, stopAfterSignals: .max)
        if !finished { done.wait() }
        return box.value!
    }

    /// Sends every node the final model and asks each device for its personalised accuracy.
    func finalEvaluation(round: UInt64) throws {
        try pump(until: { true }, deadline: 0)
        for identity in registry.peers.keys {
            sendModelIfNeeded(identity)
            var m = PBMetrics()
            m.round = round
            m.modelVersion = model.version
            m.values = [MetricKey.finalEvaluation: 1]
            if config.attacks.membership { m.values[MetricKey.membershipAttack] = 1 }
            send(identity, .metrics(m))
        }
        let expected = Set(registry.liveDevices)
        // With the membership attacks, LiRA's figures come after the others (each node first
        // trains its shadow models): wait for them too, within the same final wait.
        let lira = MetricKey.liraMembership("global", "auc")
        func liraMissing() -> [String] {
            config.attacks.membership ? expected.filter { ledger.membership[$0]?[lira] == nil }.sorted() : []
        }
        try pump(until: { Set(self.ledger.personalFinal.keys).isSuperset(of: expected) && liraMissing().isEmpty },
                 deadline: MonotonicClock.nowMilliseconds() + Int64(config.rounds.finalWaitMs))
        if case let missing = liraMissing(), !missing.isEmpty {
            logger.warning("final wait over before the LiRA figures of some devices came; raise rounds.finalWaitMs (each node logs how long its shadow models took)",
                           metadata: ["devices": "\(missing.count)", "first": "\(missing[0])", "final.wait.ms": "\(config.rounds.finalWaitMs)"])
        }
        if let d = Distribution(Array(ledger.personalFinal.values)) {
            logger.info("personalised accuracy after the final round",
                        metadata: ["devices": "\(d.count)", "mean": "\(fmt(d.mean))", "p10": "\(fmt(d.p10))", "worst": "\(fmt(d.worst))"])
        }
    }
}

/// A result handed from a worker thread to the message loop (the semaphore orders the accesses).
final class ResultBox<T>: @unchecked Sendable {
    var value: T?
}

/// Three decimals.
func fmt(_ x: Double) -> String { String(format: "%.3f", x) }
