// `node run`: one process hosting one or many virtual devices. It holds the global model once
// (devices share it copy-on-write), trains tasks on a worker thread so heartbeats keep flowing,
// and answers the coordinator with touched-channel UPDATEs (PROTOCOL.md §6).
import Engine
import Foundation
import Logging
import Privacy
import SecureAggregation
import Transport
import Wire

/// How a node connects and what it hosts.
public struct NodeOptions: Sendable {
    /// Coordinator endpoint.
    public var endpoint: String
    /// Node name (routing identity prefix and JOIN node_name).
    public var name: String
    /// Ids of the devices this node hosts (each must be in the configuration).
    public var deviceIDs: [String]
    /// This node's CURVE key pair (required when the configuration has `curve`).
    public var keyPair: CurveKeyPair?
    /// Milliseconds to wait for the coordinator's first answer after JOIN.
    public var joinTimeoutMs: Int = 15_000
    /// Fault injection for tests: in this round, send one corrupted UPDATE before the real one.
    public var corruptUpdateInRound: UInt64?
    /// Fault injection for tests: SIGKILL this process on receiving the first TASK of this round.
    public var crashAtRound: UInt64?
    /// Fault injection for tests (a slow node): hold each trained update of this round for this
    /// many milliseconds before it may be sent (heartbeats go on).
    public var slowAtRound: (round: UInt64, milliseconds: Int)?
    /// Folder where each device's state is saved after every task and restored from at start
    /// (`--state-dir`); nil: no persistence.
    public var stateDirectory: String?

    /// Options with the defaults above.
    public init(endpoint: String, name: String, deviceIDs: [String], keyPair: CurveKeyPair? = nil) {
        self.endpoint = endpoint; self.name = name; self.deviceIDs = deviceIDs; self.keyPair = keyPair
    }
}

/// Why a node stopped with an error.
public enum NodeError: Error, CustomStringConvertible {
    /// Nothing came back after JOIN.
    case noAnswer(endpoint: String, milliseconds: Int, curve: Bool)
    /// The coordinator refused the JOIN.
    case refused(String)

    /// The problem and the fix.
    public var description: String {
        switch self {
        case let .noAnswer(endpoint, ms, curve):
            return "coordinator at \(endpoint) did not answer the JOIN within \(ms) ms; "
                + (curve ? "probable authentication failure: check that this node's public key is on the coordinator's allow list (curve.clientPublicKeys) and that curve.serverPublicKey is the coordinator's key"
                        : "is it running and is the endpoint right?")
        case let .refused(text): return "the coordinator refused this node: \(text)"
        }
    }
}

/// Work finished on the training thread, waiting to be sent.
enum NodeWork {
    case outcome(TaskOutcome)
    /// A trained task under secure aggregation: its METRICS, then its ADVERTISE.
    case secure(TaskOutcome, DeviceSecureRound)
    /// A secure phase's answer computed on the training thread (MASKED).
    case secAgg(SecAggMessage)
    case failed(deviceID: String, round: UInt64, reason: String, code: PBErrorCode)
    case final([(String, [String: Double])], round: UInt64)
}

extension NodeWork {
    /// The task outcome this work carries, if any.
    var outcome: TaskOutcome? {
        switch self {
        case let .outcome(o), let .secure(o, _): return o
        default: return nil
        }
    }
}

/// Opens a node's connection to the coordinator; `attempt` counts reconnects from 0.
public typealias NodeConnector = (_ attempt: Int) throws -> MessageChannel

/// A node: devices, the shared global model, and the conversation with the coordinator.
public final class NodeService {
    private let config: FederationConfig
    private let options: NodeOptions
    private var logger: Logger
    private let stop: ShutdownFlag
    private let codec = WireCodec()
    private let arch: Architecture
    private let schema: ModelSchema
    private var devices: [String: VirtualDevice] = [:]
    private var global: Network?
    private var heldVersion: UInt64 = 0
    private let worker = DispatchQueue(label: "sparsefleet.node.train")
    private let lock = NSLock()
    private var finished: [NodeWork] = []
    private var pending = 0
    private var corrupted = false
    /// Tasks being trained, as "device|round|version" (guarded by `lock`).
    private var inFlight: Set<String> = []
    /// Each device's last outcome (guarded by `lock`): a coordinator that restarted from its
    /// checkpoint sends the same task again, and gets this answer instead of a second training
    /// run (which would advance the device's policy and RNG twice). Only the latest round's are
    /// kept (see `receiveTask`).
    private var replay: [String: TaskOutcome] = [:]
    /// Where device state is saved (`options.stateDirectory`), if anywhere.
    private let store: DeviceStateStore?
    /// Each hosted device's index in the configuration (its seeds derive from it).
    private var deviceIndex: [String: Int] = [:]
    /// The highest round a TASK arrived for (message loop only; logs memory once per round).
    private var lastTaskRound: UInt64 = 0
    /// Devices in a secure round, by id (message loop only).
    private var secureRounds: [String: DeviceSecureRound] = [:]
    /// Which devices keep their feature caches (training thread only).
    private var cacheBudget = FeatureCacheBudget(limit: 64)

    /// Loads the data and builds the hosted devices (their shards are computed from the configuration).
    public init(config: FederationConfig, options: NodeOptions, logger: Logger, stop: ShutdownFlag) throws {
        ProcessMemory.configureForLongRuns()
        self.config = config
        self.options = options
        self.logger = logger
        self.stop = stop
        // The partition needs every label; the node reads the images of its own devices' samples only.
        let trainingIndex = try FederatedData.trainingIndex(config)
        arch = DevicePlans.architecture(config, classes: trainingIndex.classes)
        schema = ModelTensors.schema(arch)
        let shards = try FederatedData.shards(config, labels: trainingIndex.labels, classes: trainingIndex.classes)
        let order = config.resolvedDevices.map(\.id)
        for id in options.deviceIDs where config.device(id) == nil || shards[id] == nil {
            throw ConfigError.invalid(path: "devices", reason: "device '\(id)' is not in the configuration; add it to devices or fix --devices")
        }
        let held = Set(options.deviceIDs.flatMap { shards[$0]!.train + shards[$0]!.test })
        let (train, position) = try FederatedData.trainingImages(config, index: trainingIndex, samples: held)
        logger.info("training images read", metadata: ["held": "\(train.count)", "of": "\(trainingIndex.labels.count)",
                                                       "bytes": "\(train.pixels.count)", "imageBytes": "\(train.imageSize)"])
        // int8 devices are deployed (calibrated) from the run's initial model, the same on every
        // process and after every restart (loaded once; copy-on-write shares it).
        let deployment = try DevicePlans.initialModel(config, classes: trainingIndex.classes)
        for id in options.deviceIDs {
            guard let settings = config.device(id), let global = shards[id], let index = order.firstIndex(of: id) else { continue }
            let shard = DeviceShard(train: global.train.map { position[$0]! }, test: global.test.map { position[$0]! })
            devices[id] = try VirtualDevice(settings: settings, index: index, shard: shard, train: train, config: config, arch: arch,
                                            deployment: deployment)
            deviceIndex[id] = index
            logger.info("device ready", metadata: ["device.id": "\(id)", "train": "\(shard.train.count)", "test": "\(shard.test.count)",
                                                   "policy": "\(settings.policy.rawValue)", "budget": "\(settings.budget)"])
        }
        cacheBudget = FeatureCacheBudget(devices: devices.count, sampleFraction: config.rounds.sampleFraction)
        logger.info("devices ready", metadata: ["devices": "\(devices.count)", "rss.bytes": "\(ProcessMemory.residentBytes())",
                                                "rss.peak.bytes": "\(ProcessMemory.peakResidentBytes())",
                                                "heap.bytes": "\(ProcessMemory.heapInUseBytes())"])
        store = try options.stateDirectory.map { try DeviceStateStore(folder: $0) }
        if let store {
            for id in options.deviceIDs.sorted() {
                guard let state = try store.load(id) else { continue }
                try devices[id]!.restore(state)
                if let last = state.lastResult { replay[id] = last.outcome }
                logger.info("device state restored", metadata: ["device.id": "\(id)", "last.round": "\(state.lastResult.map { "\($0.round)" } ?? "-")",
                                                               "trained": "\(state.batch != nil)"])
            }
        }
    }

    /// The JOIN of this node.
    private func join() -> PBJoin {
        var j = PBJoin()
        j.nodeName = options.name
        j.devices = options.deviceIDs.sorted().map { id in
            var d = PBDeviceInfo()
            d.deviceID = id
            d.shardSize = UInt64(devices[id]!.sampleCount)
            d.memoryBudgetBytes = UInt64(devices[id]!.settings.budget)
            return d
        }
        j.heldModelVersion = heldVersion
        j.encodings = [.f32, .f16, .int8]
        j.policies = PolicyKind.allCases.map(\.rawValue)
        j.heartbeatIntervalMs = UInt32(config.heartbeatMs)
        j.capabilities = ["personal-metrics"]
        return j
    }

    /// Connects over ZeroMQ (CURVE when configured) and runs until the coordinator says BYE or a signal arrives.
    public func run() throws {
        let context = try ZmqContext()
        try run(connect: NodeEndpoint.zmq(context: context, config: config, options: options))
    }

    /// Runs over the channels `connect` opens (one per connection attempt) until the coordinator
    /// says BYE or a signal arrives. A JOIN refused because another connection holds a device
    /// (a squatter, or this node's own old connection) is retried with backoff, never fatal.
    public func run(connect: NodeConnector) throws {
        var attempt = 0
        var socket = try connect(attempt)
        var backoff = ReconnectBackoff()
        var heartbeat = HeartbeatSchedule(intervalMilliseconds: Int64(config.heartbeatMs))
        var coordinatorInterval = Int64(config.heartbeatMs)
        func send(_ m: WireMessage) throws {
            try transmit(socket, try codec.encode(m, schema: schema))
            heartbeat.sent(at: MonotonicClock.nowMilliseconds())
        }
        try send(.join(join()))
        var joinedAt = MonotonicClock.nowMilliseconds()
        var admitted = false
        var lastHeard = joinedAt
        var done = false
        var rejoin = false
        var refusedJoin = false
        logger.info("joined", metadata: ["endpoint": "\(options.endpoint)", "devices": "\(options.deviceIDs.joined(separator: ","))"])
        defer { socket.close() }
        while !stop.isSet && !done {
            let now = MonotonicClock.nowMilliseconds()
            if !admitted && now - joinedAt > Int64(options.joinTimeoutMs) && heldVersion == 0 {
                throw NodeError.noAnswer(endpoint: options.endpoint, milliseconds: options.joinTimeoutMs, curve: config.curve != nil)
            }
            if refusedJoin || admitted && now - lastHeard > 3 * coordinatorInterval || !admitted && heldVersion > 0 && now - joinedAt > Int64(options.joinTimeoutMs) {
                let wait = backoff.nextDelayMilliseconds()
                if refusedJoin {
                    logger.warning("JOIN refused; retrying on a new connection", metadata: ["wait.ms": "\(wait)"])
                } else {
                    logger.warning("coordinator silent; reconnecting", metadata: ["silent.ms": "\(now - lastHeard)", "wait.ms": "\(wait)"])
                }
                refusedJoin = false
                socket.close()
                sleep(milliseconds: wait)
                if stop.isSet { break }
                attempt += 1
                socket = try connect(attempt)
                try send(.join(join()))
                joinedAt = MonotonicClock.nowMilliseconds()
                lastHeard = joinedAt
                admitted = false
                continue
            }
            if rejoin {
                // A restarted coordinator does not know this connection: JOIN again on it.
                rejoin = false
                if now - joinedAt > coordinatorInterval {
                    logger.notice("coordinator does not know this node (restarted?); joining again")
                    try send(.join(join()))
                    joinedAt = now
                }
            }
            if heartbeat.isDue(at: now) {
                var h = PBHeartbeat()
                h.intervalMs = UInt32(config.heartbeatMs)
                h.sequence = heartbeat.heartbeatSent(at: now)
                try transmit(socket, try codec.encode(.heartbeat(h)))
            }
            for work in takeFinished() { try deliver(work, send: send, socket: socket) }
            guard try socket.poll(milliseconds: 20) else { continue }
            guard let frames = try socket.receive(timeoutMilliseconds: 0) else { continue }
            lastHeard = MonotonicClock.nowMilliseconds()
            admitted = true
            switch codec.inbound(frames, schema: schema) {
            case let .refused(error, reply):
                logger.warning("refused a message from the coordinator", metadata: ["error": "\(error)"])
                if let reply { try transmit(socket, reply) }
            case let .message(message):
                if case .error = message {} else { backoff.reset() }
                switch message {
                case let .model(m): try receiveModel(m, send: send)
                case let .task(t): try receiveTask(t, send: send)
                case let .heartbeat(h): coordinatorInterval = Int64(max(1, h.intervalMs))
                case let .metrics(m):
                    if m.values[MetricKey.finalEvaluation] != nil { scheduleFinal(round: m.round, membership: m.values[MetricKey.membershipAttack] == 1) }
                case let .bye(b):
                    logger.info("coordinator said bye", metadata: ["reason": "\(b.reason)"])
                    done = true
                case let .error(e):
                    logger.warning("coordinator sent ERROR", metadata: ["code": "\(e.code)", "device.id": "\(e.deviceID)",
                                                                        "round": "\(e.round)", "message": "\(e.message)"])
                    let aboutJoin = e.refusedKind == UInt32(MessageKind.join.rawValue)
                    if aboutJoin && e.code == .unknownDevice {
                        throw NodeError.refused(e.message)  // the configurations differ: retrying cannot help
                    }
                    if aboutJoin {
                        // Another connection holds a device (a squatter, or our own old connection
                        // the coordinator has not reaped), or the key does not fit: report, retry.
                        logger.error("the coordinator refused this node's JOIN", metadata: ["code": "\(e.code)", "message": "\(e.message.prefix(300))"])
                        refusedJoin = true
                    }
                    if e.code == .notJoined { rejoin = true }
                case .join, .update:
                    let reply = ErrorReply.frames(for: .unexpected(kind: message.kind, reason: "only a node sends this"), refusedKind: message.kind)
                    try transmit(socket, reply)
                case let .secAgg(m): try receiveSecAgg(m, send: send)
                }
            }
        }
        // Let running work finish so that nothing half-sent is lost, then say goodbye.
        worker.sync {}
        for work in takeFinished() { try? deliver(work, send: send, socket: socket) }
        var bye = PBBye()
        bye.reason = stop.isSet ? "node stopping (signal)" : "coordinator finished"
        bye.deviceIds = options.deviceIDs.sorted()
        try? send(.bye(bye))
        logger.info("node stopped", metadata: ["model.version": "\(heldVersion)"])
    }

    /// Sends frames; a send that times out or meets a full queue (no connection to the
    /// coordinator) is logged and dropped: liveness then reconnects, and the coordinator counts
    /// the device as failed.
    private func transmit(_ socket: MessageChannel, _ frames: [[UInt8]]) throws {
        do {
            try socket.send(frames)
        } catch let error as ZmqError where error.isTimeout {
            logger.warning("send timed out; the coordinator is unreachable, message dropped", metadata: ["frames": "\(frames.count)"])
        } catch TransportError.queueFull {
            logger.warning("send queue full; the coordinator is not reading, message dropped", metadata: ["frames": "\(frames.count)"])
        }
    }

    /// Sleeps `milliseconds` in slices, waking early on a signal.
    private func sleep(milliseconds: Int64) {
        let until = MonotonicClock.nowMilliseconds() + milliseconds
        while !stop.isSet && MonotonicClock.nowMilliseconds() < until { Thread.sleep(forTimeInterval: 0.02) }
    }

    /// Applies a MODEL (snapshot, or patch against the held version).
    private func receiveModel(_ m: ModelMessage, send: (WireMessage) throws -> Void) throws {
        if case .patch = m.form, m.version <= heldVersion, global != nil {
            // A duplicated or late PATCH for a version this node already passed: nothing to do
            // (answering STALE would only make the coordinator resend the whole model).
            logger.debug("MODEL for a version already held; ignored", metadata: ["model.version": "\(m.version)", "held": "\(heldVersion)"])
            return
        }
        switch m.form {
        case let .snapshot(s):
            guard s == schema else {
                logger.error("snapshot schema differs from this node's model; coordinator and node need the same configuration")
                try send(ErrorReply.message(for: .schemaMismatch(tensor: "-", reason: "the node's configured model has a different schema"), refusedKind: .model))
                return
            }
            let first = global == nil
            global = ModelTensors.network(arch, values: m.tensors.map(\.values), template: global)
            if !first { invalidateCaches(fromUnit: 0) }
        case let .patch(base):
            guard base == heldVersion, var net = global else {
                try send(ErrorReply.message(for: .stale(deviceID: options.name, reason: "PATCH for version \(base), this node holds \(heldVersion)"),
                                            refusedKind: .model))
                return
            }
            var firstUnit = Int.max
            for t in m.tensors {
                guard let i = schema.position(of: t.name) else { continue }
                var values = ModelTensors.tensor(net, i)
                TensorSlicing.scatter(t.values, into: &values, spec: schema.tensors[i], channels: t.channels)
                ModelTensors.setTensor(&net, i, values)
                if let u = ModelTensors.unit(ofTensor: i, arch: arch) { firstUnit = min(firstUnit, u) }
            }
            global = net
            if firstUnit != .max { invalidateCaches(fromUnit: firstUnit) }
        }
        heldVersion = m.version
        if let net = global {
            let all = Array(devices.values)
            // On the training thread, after every task of the previous model: the caches keep
            // what this model's tasks use and let the previous model's arrays go.
            worker.async { for d in all { d.share(net) }; EngineCaches.startGeneration() }
        }
        logger.debug("model", metadata: ["model.version": "\(m.version)", "tensors": "\(m.tensors.count)"])
    }

    /// Drops the caches of devices whose frozen front starts after `unit` (on the training thread).
    private func invalidateCaches(fromUnit unit: Int) {
        let all = Array(devices.values)
        worker.async { for d in all { d.invalidateCaches(ifFrontChangedAt: unit) } }
    }

    /// Checks a TASK and queues it on the training thread.
    private func receiveTask(_ t: PBTask, send: (WireMessage) throws -> Void) throws {
        if t.round > lastTaskRound {  // memory as the previous round left it (what a huge fleet watches)
            lastTaskRound = t.round
            // A coordinator sends round r's tasks only after it checkpointed round r − 1, so only
            // this round's outcomes can be asked for again: the older ones (each a whole UPDATE)
            // would otherwise stay for every device that ever trained.
            lock.withLock { replay = replay.filter { $0.value.update.round >= t.round } }
            ProcessMemory.trim()
            let rss = ProcessMemory.residentBytes()
            logger.info("round's first task", metadata: ["round": "\(t.round)", "rss.bytes": "\(rss)", "devices": "\(devices.count)",
                                                        "rss.per.device.bytes": "\(rss / max(1, devices.count))",
                                                        "heap.bytes": "\(ProcessMemory.heapInUseBytes())"])
        }
        if let r = options.crashAtRound, r == t.round {
            FileHandle.standardError.write(Data("fault injection: node SIGKILL at round \(r)\n".utf8))
            kill(getpid(), SIGKILL)
        }
        guard let device = devices[t.deviceID] else {
            try send(ErrorReply.message(for: .unknownDevice(deviceID: t.deviceID), refusedKind: .task, deviceID: t.deviceID, round: t.round))
            return
        }
        guard let net = global, t.modelVersion == heldVersion else {
            try send(ErrorReply.message(for: .stale(deviceID: t.deviceID, reason: "task for model version \(t.modelVersion), node holds \(heldVersion)"),
                                        refusedKind: .task, deviceID: t.deviceID, round: t.round))
            return
        }
        let version = heldVersion
        let key = "\(t.deviceID)|\(t.round)|\(version)"
        let (training, replayed) = lock.withLock { () -> (Bool, TaskOutcome?) in
            let o = replay[t.deviceID]
            return (inFlight.contains(key), o.flatMap { $0.update.round == t.round && $0.update.baseModelVersion == version ? $0 : nil })
        }
        if training {
            logger.info("task repeated while training it; the update follows", metadata: ["device.id": "\(t.deviceID)", "round": "\(t.round)"])
            return
        }
        if let o = replayed {
            logger.info("task repeated (coordinator resumed?); resending its update", metadata: ["device.id": "\(t.deviceID)", "round": "\(t.round)"])
            let work = completed(o, task: t)
            lock.withLock { finished.append(work) }
            return
        }
        var tagged = logger
        tagged[metadataKey: "device.id"] = "\(t.deviceID)"
        tagged[metadataKey: "round"] = "\(t.round)"
        let log = tagged
        lock.withLock { pending += 1; inFlight.insert(key) }
        let received = MonotonicClock.nowMilliseconds()
        worker.async { [self] in
            let work: NodeWork
            let waited = MonotonicClock.nowMilliseconds() - received
            if t.deadlineMs > 0, waited >= Int64(t.deadlineMs) {
                // The round has closed: training now would only be refused as STALE.
                log.warning("task dropped: its deadline passed while it waited", metadata: ["waited.ms": "\(waited)", "deadline.ms": "\(t.deadlineMs)"])
                lock.withLock {
                    finished.append(.failed(deviceID: t.deviceID, round: t.round, reason: "deadline of \(t.deadlineMs) ms passed before training started", code: .stale))
                    pending -= 1; inFlight.remove(key)
                }
                return
            }
            defer { keepCaches(of: device) }
            do {
                let outcome = try device.run(task: t, global: net, version: version)
                log.info("trained", metadata: ["loss": "\(String(format: "%.4f", outcome.trainLoss))",
                                               "personal.before": "\(String(format: "%.3f", outcome.personalBefore))",
                                               "personal.after": "\(String(format: "%.3f", outcome.personalAfter))",
                                               "values": "\(outcome.update.delta.valueCount)"])
                work = completed(outcome, task: t)
            } catch {
                log.error("task failed", metadata: ["error": "\(error)"])
                work = .failed(deviceID: t.deviceID, round: t.round, reason: "\(error)", code: .internal)
            }
            // Save before the update can leave, so a node killed after sending it restarts past it.
            if let store, let o = work.outcome {
                do { try store.save(device.state(lastResult: o)) } catch { log.error("device state not saved", metadata: ["error": "\(error)"]) }
            }
            if let slow = options.slowAtRound, slow.round == t.round {
                log.notice("fault injection: holding the update", metadata: ["hold.ms": "\(slow.milliseconds)"])
                Thread.sleep(forTimeInterval: Double(slow.milliseconds) / 1000)
            }
            lock.withLock {
                finished.append(work); pending -= 1; inFlight.remove(key)
                if let o = work.outcome { replay[t.deviceID] = o }
            }
        }
    }

    /// Counts `device`'s caches as just used and drops those of the devices past the budget
    /// (training thread only).
    private func keepCaches(of device: VirtualDevice) {
        guard device.holdsCaches else { return }
        for id in cacheBudget.used(device.id) { devices[id]?.dropCaches() }
    }

    /// Queues the after-the-final-round personalised evaluation of every hosted device.
    /// With `membership`, each device also runs the membership attacks: the loss threshold
    /// (VirtualDevice.membershipAttack), sent with the evaluation, then LiRA with its group's
    /// shadow models (liraAttack), sent when the shadows are trained: a slow LiRA never holds back
    /// the other figures.
    private func scheduleFinal(round: UInt64, membership: Bool) {
        guard let net = global else { return }
        let all = devices.values.sorted { $0.id < $1.id }
        worker.async { [self] in
            let results = all.map { d -> (String, [String: Double]) in
                var v: [String: Double] = [:]
                defer { self.keepCaches(of: d) }
                do { v[MetricKey.personalFinal] = try d.evaluateFinal(global: net) } catch {
                    self.logger.error("final evaluation failed", metadata: ["device.id": "\(d.id)", "error": "\(error)"])
                }
                if membership {
                    let (g, p) = d.membershipAttack(global: net)
                    v.merge(Self.values(g) { MetricKey.membership("global", $0) }) { $1 }
                    v.merge(Self.values(p) { MetricKey.membership("personal", $0) }) { $1 }
                }
                return (d.id, v.filter { $0.value.isFinite })
            }
            lock.withLock { finished.append(.final(results, round: round)) }
            guard membership else { return }
            let lira = liraAttack(all, global: net, rounds: round)
            if !lira.isEmpty { lock.withLock { finished.append(.final(lira, round: round)) } }
        }
    }

    /// The METRICS values of one attack's figures, under `key(figure)`.
    private static func values(_ m: MembershipMetrics, key: (String) -> String) -> [String: Double] {
        Dictionary(uniqueKeysWithValues: zip(MetricKey.membershipFigures.map(key), [m.auc, m.advantage, m.tprAtFPR0_1Percent, m.tprAtFPR1Percent]))
    }

    /// LiRA on every device of `devices` against `net` after `rounds` rounds: trains the shadow
    /// models of their groups, attacks, and logs how long each took, once; nothing (logged) when
    /// the shadows cannot be trained. Runs on the training thread.
    private func liraAttack(_ devices: [VirtualDevice], global net: Network, rounds: UInt64) -> [(String, [String: Double])] {
        guard rounds >= 1 else {
            logger.warning("LiRA skipped: no round was completed, so there is no training to replay")
            return []
        }
        let start = Date()
        let shadows: NodeShadows
        do {
            shadows = try NodeShadows(devices: devices, config: config, classes: arch.classes, rounds: Int(rounds))
        } catch {
            logger.error("LiRA skipped: the shadow models could not be trained", metadata: ["error": "\(error)"])
            return []
        }
        let trained = Date()
        let results = devices.compactMap { d -> (String, [String: Double])? in
            guard let s = shadows.byDevice[d.id] else { return nil }
            let (g, p) = d.liraAttack(global: net, shadows: s)
            let v = Self.values(g) { MetricKey.liraMembership("global", $0) }.merging(Self.values(p) { MetricKey.liraMembership("personal", $0) }) { $1 }
            return (d.id, v.filter { $0.value.isFinite })
        }
        logger.info("LiRA: shadow models trained, devices attacked",
                    metadata: ["groups": "\(shadows.groups)", "shadows.per.group": "\(config.attacks.shadowModels)", "local.steps": "\(shadows.steps)",
                               "training.seconds": "\(String(format: "%.2f", trained.timeIntervalSince(start)))",
                               "attack.seconds": "\(String(format: "%.2f", Date().timeIntervalSince(trained)))", "devices": "\(results.count)"])
        return results
    }

    /// What a trained task sends: its UPDATE, or under secure aggregation (the TASK has a setup)
    /// its secure round; a setup the update cannot be encoded under is the device's failure.
    private func completed(_ o: TaskOutcome, task t: PBTask) -> NodeWork {
        guard t.hasSecureAggregation else { return .outcome(o) }
        do {
            let seed = FederatedData.deviceSeed(config, index: deviceIndex[t.deviceID] ?? 0, purpose: 11)
            let r = try DeviceSecureRound(device: t.deviceID, round: t.round, delta: o.update.delta, weight: o.update.sampleCount,
                                          setup: t.secureAggregation, schema: schema,
                                          secretSeed: DeviceSecureRound.secretSeed(deviceSeed: seed, round: t.round, system: config.secureAggregation.randomness == .system),
                                          valueSeed: seed ^ 0x0051_7A1E)
            logger.info("secure round: update encoded", metadata: ["device.id": "\(t.deviceID)", "round": "\(t.round)", "participant": "\(r.index)",
                                                              "masked.length": "\(r.length)", "clipped.coordinates": "\(r.clippedCoordinates)"])
            return .secure(o, r)
        } catch {
            return .failed(deviceID: t.deviceID, round: t.round, reason: "its update cannot be masked under the task's secure setup: \(error)", code: .internal)
        }
    }

    /// The METRICS a trained task reports (personalised accuracy before and after; DP clipping).
    private func taskMetrics(_ o: TaskOutcome) -> PBMetrics {
        var m = PBMetrics()
        m.deviceID = o.update.deviceID
        m.round = o.update.round
        m.modelVersion = o.update.baseModelVersion
        m.values = [MetricKey.personalBefore: o.personalBefore, MetricKey.personalAfter: o.personalAfter].filter { $0.value.isFinite }
        if config.privacy.enabled { m.values[MetricKey.updateClipped] = o.clipped ? 1 : 0 }
        if !config.personalisation.method.sendsUpdates {  // local: no UPDATE follows, so the training figures travel here
            let t = o.update.metrics
            m.values[MetricKey.localDone] = 1
            m.values[MetricKey.peakMemory] = Double(t.peakMemoryBytes)
            m.values[MetricKey.trainSteps] = Double(t.steps)
            if t.lossLast.isFinite { m.values[MetricKey.trainLoss] = Double(max(0, t.lossLast)) }
        }
        return m
    }

    /// A coordinator's SECAGG phase for one of this node's devices: KEYS → DEAL, SHARES → MASKED
    /// (on the training thread: the masks' keystreams are the costly part), UNMASK_REQUEST →
    /// UNMASK. A phase the device cannot answer is its ERROR, and it leaves the round.
    private func receiveSecAgg(_ m: SecAggMessage, send: (WireMessage) throws -> Void) throws {
        let h = m.header
        func refuse(_ e: WireError) throws { try send(ErrorReply.message(for: e, refusedKind: .secAgg, deviceID: h.deviceID, round: h.round)) }
        guard devices[h.deviceID] != nil else { return try refuse(.unknownDevice(deviceID: h.deviceID)) }
        guard let r = secureRounds[h.deviceID], r.round == h.round, r.index == Int(h.participant) else {
            return try refuse(.stale(deviceID: h.deviceID, reason: "no secure round \(h.round) open for this device as participant \(h.participant)"))
        }
        do {
            switch h.phase {
            case .keys: try send(.secAgg(try r.deal(m)))
            case .shares:
                worker.async { [self] in
                    let work: NodeWork
                    do { work = .secAgg(try r.masked(m)) } catch {
                        work = .failed(deviceID: h.deviceID, round: h.round, reason: "secure round: \(error)", code: .internal)
                    }
                    lock.withLock { finished.append(work) }
                }
            case .unmaskRequest:
                secureRounds[h.deviceID] = nil
                try send(.secAgg(try r.unmask(m)))
            default:
                throw SecAggError.wrongPhase("only a device sends \(h.phase)")
            }
        } catch {
            secureRounds[h.deviceID] = nil
            logger.warning("secure round: phase refused; the device leaves the round", metadata: ["device.id": "\(h.deviceID)", "round": "\(h.round)", "error": "\(error)"])
            try refuse(.invalid(field: "SecAgg.\(h.phase)", reason: "\(error)"))
        }
    }

    /// Work finished since the last call.
    private func takeFinished() -> [NodeWork] {
        lock.withLock { defer { finished.removeAll() }; return finished }
    }

    /// Sends finished work: METRICS then UPDATE for a task, ERROR for a failed one.
    private func deliver(_ work: NodeWork, send: (WireMessage) throws -> Void, socket: MessageChannel) throws {
        switch work {
        case let .secure(o, round):
            try send(.metrics(taskMetrics(o)))
            secureRounds[round.device] = round
            try send(.secAgg(round.advertise()))
        case let .secAgg(m):
            guard secureRounds[m.header.deviceID]?.round == m.header.round else { return }  // the round was given up meanwhile
            try send(.secAgg(m))
        case let .outcome(o):
            let m = taskMetrics(o)
            let frames: [[UInt8]]
            do {
                frames = try codec.encode(.update(o.update), schema: schema)
            } catch let error as WireError {
                // This device's fault stays this device's: it reports an ERROR, the node goes on.
                logger.error("update cannot be encoded; reporting the device's failure", metadata: ["device.id": "\(o.update.deviceID)", "error": "\(error)"])
                return try deliver(.failed(deviceID: o.update.deviceID, round: o.update.round, reason: "its update cannot be encoded: \(error)",
                                           code: error.code), send: send, socket: socket)
            }
            try send(.metrics(m))
            guard config.personalisation.method.sendsUpdates else { return }  // local: the METRICS was the device's whole report
            if let r = options.corruptUpdateInRound, r == o.update.round, !corrupted, frames.count > 2 {
                corrupted = true
                var bad = frames
                bad[bad.count - 1][bad[bad.count - 1].count - 1] ^= 0xFF
                logger.notice("fault injection: sending a corrupted UPDATE first", metadata: ["device.id": "\(o.update.deviceID)", "round": "\(r)"])
                try transmit(socket, bad)
            }
            try transmit(socket, frames)
        case let .failed(id, round, reason, code):
            var e = PBError()
            e.code = code
            e.message = String(reason.prefix(4000))
            e.refusedKind = UInt32(MessageKind.task.rawValue)
            e.deviceID = id
            e.round = round
            e.peerVersion = UInt32(ProtocolID.version)
            try send(.error(e))
        case let .final(results, round):
            for (id, values) in results {
                var m = PBMetrics()
                m.deviceID = id
                m.round = round
                m.modelVersion = heldVersion
                m.values = values
                try send(.metrics(m))
            }
        }
    }
}
