// The coordinator: admits the configured devices, holds the global (folded) model, and runs
// rounds — sample, send MODEL + TASK, collect UPDATEs until the deadline, aggregate per
// coordinate, evaluate, log — writing metrics.jsonl and summary.json into the run folder.
//
// Failure rules (the configuration format is documented in FederationConfig.swift):
//   - a sampled device with no accepted update by the deadline is a straggler: dropped, counted;
//   - a round with fewer than `rounds.minUpdates` accepted updates is skipped: model unchanged;
//   - rounds are synchronous, so an UPDATE must carry the open round and the version its TASK
//     named; one for a closed round or an older version is refused with STALE (never aggregated,
//     not down-weighted), a second one for the same (device, round) with DUPLICATE;
//   - any malformed or hostile message gets the protocol's ERROR reply and the round goes on;
//     an UPDATE touching a tensor outside the device's sparse layout is SCHEMA_MISMATCH.
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

/// A round in progress.
struct OpenRound {
    var round: UInt64
    var version: UInt64
    var sampled: [String]
    var pending: Set<String>
    var results: [String: DeviceResult] = [:]
    var updateBytes: [String: Int] = [:]
    var failures: [String: FailureReason] = [:]
    var refused = 0
    var before: [String: Double] = [:]
    var after: [String: Double] = [:]
}

/// Runs a federation from a configuration.
public final class CoordinatorService {
    /// The ERROR reason given to a peer that has not joined (a node that hears it after a
    /// coordinator restart joins again).
    public static let joinFirst = "send JOIN first"

    private let config: FederationConfig
    private let options: CoordinatorOptions
    private var logger: Logger
    private let stop: ShutdownFlag
    private let codec = WireCodec()
    private var model: GlobalModel
    private let rule: any AggregationRule
    private var state = ServerState()
    private var registry: PeerRegistry
    private var gate = UpdateGate(maxStaleness: 0, window: 1)
    private var open: OpenRound?
    private var layouts: [String: SparseLayout] = [:]
    private var trainable: [String: Set<Int>] = [:]
    private let test: ImageDataset
    private let testCache: FeatureCache
    private let resolution: Int
    private var socket: ZmqSocket?
    private var zap: ZapAuthenticator?
    private var zapRefusedSeen = 0
    private var bytesDown = 0, bytesUp = 0, modelBytesDown = 0
    private var totalDown = 0, totalUp = 0
    private var personalFinal: [String: Double] = [:]
    private var everTouched: [Int: Set<Int>] = [:]
    private var roundRefused = 0
    private var assigner: TaskAssignments?

    /// Loads the test set and the initial model, fits every device's layout, and caches the test
    /// features at the earliest block any device trains.
    public init(config: FederationConfig, options: CoordinatorOptions, logger: Logger, stop: ShutdownFlag) throws {
        self.config = config
        self.options = options
        self.logger = logger
        self.stop = stop
        test = try FederatedData.testSet(config)
        resolution = config.model.resolution
        let net = try DevicePlans.initialModel(config, classes: test.classes)
        model = GlobalModel(net, keep: config.rounds.keepVersions)
        rule = RoundAggregation.rule(config.aggregation)
        registry = PeerRegistry(defaultInterval: Int64(config.heartbeatMs))
        var memo: [String: SparseLayout] = [:]
        var firstBlock = net.arch.blocks.count
        for d in config.resolvedDevices {
            let key = "\(d.budget)|\(d.policy.rawValue)|\(d.batch)"
            let layout = try memo[key] ?? DevicePlans.layout(d, arch: net.arch, resolution: resolution)
            memo[key] = layout
            layouts[d.id] = layout
            trainable[d.id] = ModelTensors.trainableTensors(layout, arch: net.arch)
            firstBlock = min(firstBlock, DevicePlans.startBlock(layout, arch: net.arch))
        }
        if config.rounds.coordinatedSchedule {
            assigner = TaskAssignments(layouts: layouts, arch: net.arch, seed: config.seed ^ 0xC0_0D_1A_7E)
        }
        testCache = FeatureCache(net: net, data: test, preprocessing: .imageNet(size: resolution), block: firstBlock)
    }

    /// Global test accuracy and loss of the current model.
    private func evaluate() -> Evaluation {
        Evaluator.evaluate(model.network, cache: testCache, labels: test.labels, indices: Array(0..<test.count), size: resolution)
    }

    /// Runs every round, then the final personalised evaluation; returns the summary.
    @discardableResult
    public func run() throws -> RunSummary {
        let started = Date()
        try FileManager.default.createDirectory(atPath: options.runFolder, withIntermediateDirectories: true)
        let restored = options.resume ? try Checkpoint.load(folder: options.runFolder, schema: model.schema, config: config) : nil
        let metrics: JSONLinesWriter
        let initial: (accuracy: Double, loss: Double)
        var skipped = 0, completed = 0
        var updateBytesSum = 0, updateCount = 0
        var last: (accuracy: Double, loss: Double)
        if let c = restored {
            let s = c.state
            model = GlobalModel(model.network, keep: config.rounds.keepVersions, restoring: c.model, version: s.modelVersion)
            state = c.server
            everTouched = Dictionary(uniqueKeysWithValues: s.everTouched.compactMap { k, v in Int(k).map { ($0, Set(v)) } })
            personalFinal = s.personalFinal
            (completed, skipped, updateBytesSum, updateCount, totalDown, totalUp) =
                (s.completed, s.skipped, s.updateBytesSum, s.updateCount, s.totalDown, s.totalUp)
            initial = (s.initialAccuracy, s.initialLoss)
            last = (s.lastAccuracy, s.lastLoss)
            metrics = try JSONLinesWriter(path: options.runFolder + "/metrics.jsonl", keepLines: s.completed)
            logger.notice("resuming from checkpoint", metadata: ["round": "\(s.round)", "model.version": "\(s.modelVersion)"])
        } else {
            if options.resume { logger.notice("--resume: no checkpoint in the run folder yet; starting from round 1") }
            try config.json().write(to: URL(fileURLWithPath: options.runFolder + "/config.json"))
            try model.network.stateDict().write(path: options.runFolder + "/model-initial.safetensors")
            metrics = try JSONLinesWriter(path: options.runFolder + "/metrics.jsonl")
            let e = evaluate()
            initial = (e.accuracy, e.loss)
            last = initial
            logger.info("initial model", metadata: ["test.accuracy": "\(fmt(initial.accuracy))", "parameters": "\(model.schema.parameterCount)"])
        }

        let context = try ZmqContext()
        let router = try ZmqSocket(context: context, type: .router)
        try router.setHighWaterMarks(send: 1000, receive: 1000)
        try router.setMaxMessageSize(bytes: WireLimits.default.maxMessageBytes)
        if let curve = config.curve {
            guard let pair = options.keyPair else {
                throw ConfigError.invalid(path: "curve", reason: "the configuration asks for CURVE; give the coordinator its key file with --key-file")
            }
            guard pair.publicKey == curve.serverPublicKey else {
                throw ConfigError.invalid(path: "curve.serverPublicKey", reason: "does not match the coordinator's key file; nodes would never get through")
            }
            zap = try ZapAuthenticator(context: context, allowedClientKeys: Set(curve.clientPublicKeys))
            try router.makeCurveServer(secretKey: pair.secretKey)
        }
        try router.bind(options.endpoint)
        socket = router
        defer { router.close(); zap?.stop() }
        logger.info("listening", metadata: ["endpoint": "\(router.lastEndpoint)", "curve": "\(config.curve != nil)",
                                            "devices": "\(config.devices.count)", "rounds": "\(config.rounds.count)"])

        // Wait for the configured devices.
        let all = Set(config.devices.map(\.id))
        let joinDeadline = MonotonicClock.nowMilliseconds() + Int64(config.rounds.joinWaitMs)
        try pump(until: { Set(self.registry.liveDevices) == all }, deadline: joinDeadline)
        logger.info("devices joined", metadata: ["live": "\(registry.liveDevices.count)", "configured": "\(all.count)"])

        for round in stride(from: UInt64(completed + 1), through: UInt64(config.rounds.count), by: 1) where !stop.isSet {
            guard let m = try runRound(round) else {
                logger.notice("second signal: round abandoned, not aggregated; the checkpoint stays at the last finished round (--resume replays it)",
                              metadata: ["round": "\(round)", "checkpoint.round": "\(completed)"])
                break
            }
            last = (accuracy: m.testAccuracy, loss: m.testLoss)
            try metrics.append(m)
            completed += 1
            if m.skipped { skipped += 1 }
            updateBytesSum += m.updateBytes.values.reduce(0, +)
            updateCount += m.updateBytes.count
            // The commit point of the round: a crash before the rename replays the round (the
            // metrics line just written is dropped on resume), a crash after it does not.
            let cs = CheckpointState(
                round: round, modelVersion: model.version, completed: completed, skipped: skipped, updateBytesSum: updateBytesSum,
                updateCount: updateCount, totalDown: totalDown, totalUp: totalUp, initialAccuracy: initial.accuracy,
                initialLoss: initial.loss, lastAccuracy: last.accuracy, lastLoss: last.loss,
                everTouched: Dictionary(uniqueKeysWithValues: everTouched.map { ("\($0.key)", $0.value.sorted()) }), personalFinal: personalFinal)
            try Checkpoint(state: cs, model: model.values, server: state).write(folder: options.runFolder, schema: model.schema, config: config) {
                options.crashAt?.fire(round: round, phase: .checkpointing)
            }
            if stop.isSet {
                logger.notice("signal: round finished and checkpointed; stopping (coordinator --resume continues)", metadata: ["round": "\(round)"])
            }
        }
        try model.network.stateDict().write(path: options.runFolder + "/model-final.safetensors")
        if !stop.isSet { try finalEvaluation(round: UInt64(completed)) }
        for (identity, _) in registry.peers {
            var bye = PBBye()
            bye.reason = stop.isSet ? "coordinator stopping (signal)" : "run complete"
            try? send(identity, .bye(bye))
        }
        let summary = RunSummary(
            rounds: completed, skippedRounds: skipped, modelVersion: model.version, testAccuracy: last.accuracy, testLoss: last.loss,
            initialTestAccuracy: initial.accuracy, personalFinal: personalFinal,
            personalFinalDistribution: Distribution(Array(personalFinal.values)), bytesDown: totalDown, bytesUp: totalUp,
            meanUpdateBytes: updateCount == 0 ? 0 : Double(updateBytesSum) / Double(updateCount),
            denseModelBytes: model.schema.denseF32Bytes, interrupted: stop.isSet, wallSeconds: Date().timeIntervalSince(started))
        let e = JSONEncoder()
        e.outputFormatting = [.prettyPrinted, .sortedKeys]
        try e.encode(summary).write(to: URL(fileURLWithPath: options.runFolder + "/summary.json"))
        logger.info("run finished", metadata: ["rounds": "\(completed)", "skipped": "\(skipped)", "model.version": "\(model.version)",
                                               "test.accuracy": "\(fmt(last.accuracy))", "interrupted": "\(stop.isSet)"])
        return summary
    }

    /// One round: sample, send, collect, aggregate, evaluate. A first SIGINT/SIGTERM during the
    /// round lets it finish (every update or the deadline); a second abandons it: nil, nothing applied.
    private func runRound(_ round: UInt64) throws -> RoundMetrics? {
        let started = Date()
        // Hear everyone first; with no live device, wait (up to joinWaitMs) for one to (re)join.
        try pump(until: { true }, deadline: 0)
        if registry.liveDevices.isEmpty {
            logger.warning("no live devices; waiting for a node to join", metadata: ["round": "\(round)"])
            try pump(until: { !self.registry.liveDevices.isEmpty },
                     deadline: MonotonicClock.nowMilliseconds() + Int64(config.rounds.joinWaitMs))
        }
        let live = registry.liveDevices
        var rng = SplitMix64(seed: config.seed ^ (round &* 0x9E37_79B9_7F4A_7C15))
        let k = live.isEmpty ? 0 : min(live.count, max(1, Int((config.rounds.sampleFraction * Double(live.count)).rounded())))
        let sampled = Array(live.shuffled(using: &rng).prefix(k)).sorted()
        var log = logger
        log[metadataKey: "round"] = "\(round)"
        open = OpenRound(round: round, version: model.version, sampled: sampled, pending: Set(sampled))
        // MODEL first (once per node process), then one TASK per sampled device.
        let byPeer = Dictionary(grouping: sampled) { registry.owner[$0]! }
        var tasksSent = 0
        let assignments = assigner?.assignments(round: round, sampled: sampled, schema: model.schema) ?? [:]
        for (identity, devices) in byPeer.sorted(by: { $0.value[0] < $1.value[0] }) {
            try sendModelIfNeeded(identity)
            for id in devices {
                let d = config.device(id)!
                var t = PBTask()
                t.round = round
                t.deviceID = id
                t.modelVersion = model.version
                t.localSteps = UInt32(d.localSteps)
                t.learningRate = d.learningRate
                t.batchSize = UInt32(d.batch)
                var p = PBPolicy()
                p.name = d.policy.rawValue
                t.policy = p
                t.deltaEncoding = config.encoding.encoding.pb
                t.deadlineMs = UInt64(config.rounds.deadlineMs)
                t.seed = config.seed &+ round
                t.assignments = assignments[id] ?? []
                try send(identity, .task(t))
                tasksSent += 1
                if tasksSent * 2 >= sampled.count { options.crashAt?.fire(round: round, phase: .sending) }
            }
        }
        log.info("round open", metadata: ["sampled": "\(sampled.count)", "live": "\(live.count)", "model.version": "\(model.version)"])
        let deadline = MonotonicClock.nowMilliseconds() + Int64(config.rounds.deadlineMs)
        try pump(until: { self.open?.pending.isEmpty ?? true }, deadline: deadline, stopAfterSignals: 2)
        var r = open!
        open = nil
        if stop.requests >= 2 { return nil }
        for id in r.pending { r.failures[id] = .deadline }
        if !r.pending.isEmpty { log.warning("stragglers dropped", metadata: ["devices": "\(r.pending.sorted().joined(separator: ","))"]) }

        let input = AggregationInput(round: round, schema: model.schema, model: model.values, results: Array(r.results.values),
                                     failures: r.failures.map { DeviceFailure(deviceID: $0.key, reason: $0.value) }, state: state)
        let agg = RoundAggregation.run(rule, input, minUpdates: config.rounds.minUpdates)
        options.crashAt?.fire(round: round, phase: .aggregating)
        if agg.skipped {
            log.warning("round skipped: too few updates; model unchanged",
                        metadata: ["updates": "\(r.results.count)", "needed": "\(config.rounds.minUpdates)"])
        } else {
            state = agg.outcome.state
            model.advance(to: agg.outcome.model)
        }
        let eval = evaluate()
        var coverage: [String: Double] = [:], cumulative: [String: Double] = [:], touched: [String: [Int]] = [:]
        for (i, chans) in agg.outcome.touchedChannels {
            let spec = model.schema.tensors[i]
            touched[spec.name] = chans
            everTouched[i, default: []].formUnion(chans)
            if spec.shape.count == 4 && spec.channelAxis == 1 && spec.channelCount > 1 {
                coverage[spec.name] = Double(chans.count) / Double(spec.channelCount)
            }
        }
        for (i, chans) in everTouched {
            let spec = model.schema.tensors[i]
            if spec.shape.count == 4 && spec.channelAxis == 1 && spec.channelCount > 1 {
                cumulative[spec.name] = Double(chans.count) / Double(spec.channelCount)
            }
        }
        let reporting = r.results.keys.sorted()
        let meanUpdate = r.updateBytes.isEmpty ? 0 : Double(r.updateBytes.values.reduce(0, +)) / Double(r.updateBytes.count)
        let m = RoundMetrics(
            round: round, modelVersion: model.version, skipped: agg.skipped, rule: rule.name,
            testAccuracy: eval.accuracy, testLoss: eval.loss, sampled: sampled, reporting: reporting,
            failed: r.failures.mapValues(\.rawValue), refusedMessages: roundRefused, bytesDown: bytesDown,
            modelBytesDown: modelBytesDown, bytesUp: bytesUp, updateBytes: r.updateBytes, meanUpdateBytes: meanUpdate,
            denseModelBytes: model.schema.denseF32Bytes, updateFractionOfDense: meanUpdate / Double(model.schema.denseF32Bytes),
            coverage: coverage, coverageCumulative: cumulative, touchedChannels: touched,
            personalBefore: Distribution(reporting.compactMap { r.before[$0] }),
            personalAfter: Distribution(reporting.compactMap { r.after[$0] }),
            wallSeconds: Date().timeIntervalSince(started))
        // Counters restart after each round, so round 1 includes the bytes of the joins.
        bytesDown = 0; bytesUp = 0; modelBytesDown = 0; roundRefused = 0
        log.info("round closed", metadata: [
            "reporting": "\(reporting.count)/\(sampled.count)", "failed": "\(r.failures.count)", "refused": "\(roundRefused)",
            "test.accuracy": "\(fmt(eval.accuracy))", "bytes.up": "\(m.bytesUp)", "bytes.down": "\(m.bytesDown)",
            "update.fraction": "\(String(format: "%.4f", m.updateFractionOfDense))",
            "personal.after.mean": "\(m.personalAfter.map { fmt($0.mean) } ?? "-")", "skipped": "\(agg.skipped)"])
        return m
    }

    /// Sends every node the final model and asks each device for its personalised accuracy.
    private func finalEvaluation(round: UInt64) throws {
        try pump(until: { true }, deadline: 0)
        for identity in registry.peers.keys {
            try sendModelIfNeeded(identity)
            var m = PBMetrics()
            m.round = round
            m.modelVersion = model.version
            m.values = ["final_evaluation": 1]
            try send(identity, .metrics(m))
        }
        let expected = Set(registry.liveDevices)
        try pump(until: { Set(self.personalFinal.keys).isSuperset(of: expected) },
                 deadline: MonotonicClock.nowMilliseconds() + Int64(config.rounds.finalWaitMs))
        if let d = Distribution(Array(personalFinal.values)) {
            logger.info("personalised accuracy after the final round",
                        metadata: ["devices": "\(d.count)", "mean": "\(fmt(d.mean))", "p10": "\(fmt(d.p10))", "worst": "\(fmt(d.worst))"])
        }
    }

    // MARK: - Messages

    /// Handles messages until `done()` holds, the deadline passes, or a signal arrives. Messages
    /// already queued are always read first, so that a coordinator that was busy (aggregating,
    /// evaluating, descheduled) hears its peers before it judges them dead.
    /// `stopAfterSignals`: how many SIGINT/SIGTERMs end the wait early.
    private func pump(until done: () -> Bool, deadline: Int64, stopAfterSignals: Int = 1) throws {
        while true {
            try drain()
            tick()
            if stop.requests >= stopAfterSignals || done() || MonotonicClock.nowMilliseconds() >= deadline { return }
            guard let router = socket, try router.poll(milliseconds: 20) else { continue }
            try handle(try router.receive())
        }
    }

    /// Handles every message that is already waiting.
    private func drain() throws {
        guard let router = socket else { return }
        while try router.poll(milliseconds: 0) { try handle(try router.receive()) }
    }

    /// Heartbeats to idle peers, dead-peer reaping, and ZAP refusals in the log.
    private func tick() {
        let now = MonotonicClock.nowMilliseconds()
        for (identity, p) in registry.peers where now - p.lastSent >= Int64(config.heartbeatMs) {
            var h = PBHeartbeat()
            h.intervalMs = UInt32(config.heartbeatMs)
            h.sequence = UInt64(now)
            try? send(identity, .heartbeat(h))
        }
        reapDead()
        if let zap, zap.refusedCount != zapRefusedSeen {
            zapRefusedSeen = zap.refusedCount
            logger.warning("refused a CURVE client: its public key is not on the allow list",
                           metadata: ["keys": "\(zap.refusedKeysSeen.joined(separator: ","))"])
        }
    }

    /// Forgets dead peers; their devices' open tasks fail.
    private func reapDead() {
        for identity in registry.liveness.reapDead(at: MonotonicClock.nowMilliseconds()) {
            let name = registry.peers[identity]?.name ?? "?"
            let devices = registry.remove(identity)
            logger.warning("node dead (3 heartbeat intervals silent)", metadata: ["node": "\(name)", "devices": "\(devices.joined(separator: ","))"])
            fail(devices, .disconnected)
        }
    }

    /// Marks the open tasks of `devices` as failed.
    private func fail(_ devices: [String], _ reason: FailureReason) {
        guard var r = open else { return }
        for d in devices where r.pending.contains(d) {
            r.pending.remove(d)
            r.failures[d] = reason
        }
        open = r
    }

    /// Encodes and sends `message` to `identity`, counting the bytes.
    private func send(_ identity: [UInt8], _ message: WireMessage) throws {
        let frames = try codec.encode(message, schema: model.schema)
        try sendFrames(identity, frames)
        if case .model = message { modelBytesDown += frames.reduce(0) { $0 + $1.count } }
    }

    /// Sends ready-made frames to `identity`, counting the bytes.
    private func sendFrames(_ identity: [UInt8], _ frames: [[UInt8]]) throws {
        guard let router = socket else { return }
        try router.send([identity] + frames)
        let n = frames.reduce(0) { $0 + $1.count }
        bytesDown += n; totalDown += n
        registry.update(identity) { $0.lastSent = MonotonicClock.nowMilliseconds() }
    }

    /// Sends the MODEL a node needs to reach the current version, if any.
    private func sendModelIfNeeded(_ identity: [UInt8]) throws {
        guard let held = registry.peers[identity]?.heldVersion, let m = model.message(from: held) else { return }
        try send(identity, .model(m))
        registry.update(identity) { $0.heldVersion = self.model.version }
    }

    /// Refuses a message with an ERROR reply and counts it.
    private func refuse(_ identity: [UInt8], _ error: WireError, kind: MessageKind?, deviceID: String = "", round: UInt64 = 0) throws {
        roundRefused += 1
        logger.warning("refused message", metadata: ["peer": "\(String(decoding: identity, as: UTF8.self))", "device.id": "\(deviceID)",
                                                     "round": "\(round)", "error": "\(error)"])
        try sendFrames(identity, ErrorReply.frames(for: error, refusedKind: kind, deviceID: deviceID, round: round))
    }

    /// Dispatches one inbound message (`frames[0]` is the routing identity).
    private func handle(_ all: [[UInt8]]) throws {
        guard all.count >= 2 else { return }
        let identity = registry.resolve(all[0])
        let frames = Array(all.dropFirst())
        let size = frames.reduce(0) { $0 + $1.count }
        bytesUp += size; totalUp += size
        let now = MonotonicClock.nowMilliseconds()
        if registry.peers[identity] != nil { registry.liveness.heard(from: identity, at: now) }
        switch codec.inbound(frames, schema: model.schema) {
        case let .refused(error, reply):
            roundRefused += 1
            logger.warning("refused message", metadata: ["peer": "\(String(decoding: identity, as: UTF8.self))", "error": "\(error)"])
            if let reply { try sendFrames(identity, reply) }
        case let .message(message):
            if case let .join(j) = message { return try handleJoin(identity, j, now: now) }
            guard registry.peers[identity] != nil else {
                if case .error = message { return }
                return try refuse(identity, .unexpected(kind: message.kind, reason: Self.joinFirst), kind: message.kind)
            }
            switch message {
            case let .update(u): try handleUpdate(identity, u, bytes: size)
            case let .metrics(m): handleMetrics(identity, m)
            case let .heartbeat(h): registry.liveness.heard(from: identity, at: now, interval: Int64(max(1, h.intervalMs)))
            case let .bye(b):
                let devices = registry.remove(identity)
                logger.info("node left", metadata: ["reason": "\(b.reason)", "devices": "\(devices.joined(separator: ","))"])
                fail(devices, .disconnected)
            case let .error(e): try handleError(identity, e)
            case .model, .task, .join:
                try refuse(identity, .unexpected(kind: message.kind, reason: "only the coordinator sends this"), kind: message.kind)
            }
        }
    }

    /// Admits a node whose devices are all configured, then brings it the model.
    private func handleJoin(_ identity: [UInt8], _ j: PBJoin, now: Int64) throws {
        let ids = j.devices.map(\.deviceID).sorted()
        if let unknown = ids.first(where: { config.device($0) == nil }) {
            return try refuse(identity, .unknownDevice(deviceID: unknown), kind: .join, deviceID: unknown)
        }
        var retired = Set<[UInt8]>()  // a node's old connection, retired once for all its devices
        for id in ids {
            guard let other = registry.owner[id], other != identity, !retired.contains(other) else { continue }
            if registry.peers[other]?.name == j.nodeName {
                retired.insert(other)
                logger.info("node reconnected; its old connection's messages count as its own", metadata: ["node": "\(j.nodeName)"])
                registry.retire(other, replacedBy: identity)
            } else {
                return try refuse(identity, .unexpected(kind: .join, reason: "device '\(id)' already joined from node '\(registry.peers[other]?.name ?? "?")'"),
                                  kind: .join, deviceID: id)
            }
        }
        registry.register(identity, info: PeerInfo(name: j.nodeName, devices: ids, heldVersion: j.heldModelVersion,
                                                    interval: Int64(j.heartbeatIntervalMs), lastSent: 0))
        registry.liveness.heard(from: identity, at: now, interval: Int64(max(1, j.heartbeatIntervalMs)))
        logger.info("node joined", metadata: ["node": "\(j.nodeName)", "devices": "\(ids.joined(separator: ","))", "held.version": "\(j.heldModelVersion)"])
        if model.message(from: j.heldModelVersion) != nil {
            try sendModelIfNeeded(identity)
        } else {
            var h = PBHeartbeat()
            h.intervalMs = UInt32(config.heartbeatMs)
            h.sequence = UInt64(now)
            try send(identity, .heartbeat(h))
        }
    }

    /// Checks an UPDATE against the open round, the device's task and layout, then accepts it.
    private func handleUpdate(_ identity: [UInt8], _ u: UpdateMessage, bytes: Int) throws {
        let id = u.deviceID
        guard registry.owner[id] == identity else {
            return try refuse(identity, .unknownDevice(deviceID: id), kind: .update, deviceID: id, round: u.round)
        }
        guard var r = open else {
            return try refuse(identity, .stale(deviceID: id, reason: "round \(u.round) is closed and no round is open"), kind: .update, deviceID: id, round: u.round)
        }
        if u.round < r.round {
            return try refuse(identity, .stale(deviceID: id, reason: "round \(u.round) is closed (open round: \(r.round))"), kind: .update, deviceID: id, round: u.round)
        }
        guard u.round == r.round, r.sampled.contains(id) else {
            return try refuse(identity, .unexpected(kind: .update, reason: "device '\(id)' has no task in round \(u.round)"), kind: .update, deviceID: id, round: u.round)
        }
        let allowed = trainable[id] ?? []
        if let bad = u.delta.tensors.first(where: { !allowed.contains(model.schema.position(of: $0.name) ?? -1) }) {
            return try refuse(identity, .schemaMismatch(tensor: bad.name, reason: "not trainable under device '\(id)''s sparse layout"),
                              kind: .update, deviceID: id, round: u.round)
        }
        do {
            try gate.admit(u, currentRound: r.round, currentVersion: r.version)
        } catch let error as WireError {
            return try refuse(identity, error, kind: .update, deviceID: id, round: u.round)
        }
        r.results[id] = DeviceResult(deviceID: id, sampleCount: u.sampleCount, baseVersion: u.baseModelVersion, delta: u.delta)
        r.updateBytes[id] = bytes
        r.pending.remove(id)
        open = r
        options.crashAt?.fire(round: r.round, phase: .collecting)
        logger.debug("update accepted", metadata: ["device.id": "\(id)", "round": "\(u.round)", "bytes": "\(bytes)", "values": "\(u.delta.valueCount)"])
    }

    /// Records personalised accuracies reported by devices.
    private func handleMetrics(_ identity: [UInt8], _ m: PBMetrics) {
        guard !m.deviceID.isEmpty, registry.owner[m.deviceID] == identity else { return }
        if let v = m.values["personal_final"] { personalFinal[m.deviceID] = v }
        guard var r = open, m.round == r.round else { return }
        if let v = m.values["personal_before"] { r.before[m.deviceID] = v }
        if let v = m.values["personal_after"] { r.after[m.deviceID] = v }
        open = r
    }

    /// Reacts to a node's ERROR: a refused PATCH gets a SNAPSHOT; a failed task is a device failure.
    private func handleError(_ identity: [UInt8], _ e: PBError) throws {
        logger.warning("node sent ERROR", metadata: ["code": "\(e.code)", "device.id": "\(e.deviceID)", "round": "\(e.round)", "message": "\(e.message)"])
        if e.refusedKind == UInt32(MessageKind.model.rawValue) && e.code == .stale {
            registry.update(identity) { $0.heldVersion = 0 }
            try sendModelIfNeeded(identity)
            return
        }
        if !e.deviceID.isEmpty, registry.owner[e.deviceID] == identity, let r = open, e.round == r.round {
            fail([e.deviceID], e.code == .stale ? .refused : .deviceError)
        }
    }
}

/// Three decimals.
func fmt(_ x: Double) -> String { String(format: "%.3f", x) }
