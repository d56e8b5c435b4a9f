// A whole federation in this process: the real CoordinatorService and NodeServices over an
// InMemoryNetwork (keys on the dealers stand for CURVE keys that ZAP authenticated), plus raw
// peers that send whatever a test wants. Tiny model, synthetic data, a few devices: a run takes
// about a second.
import Engine
@testable import Federation
import Foundation
import Logging
import Transport
import Wire
import XCTest

/// One in-process run.
final class InProcessFleet {
    /// The honest devices, served by node-a (dev-0, dev-1) and node-b (dev-2).
    static let honestNodes: [(name: String, devices: [String])] = [("node-a", ["dev-0", "dev-1"]), ("node-b", ["dev-2"])]
    /// The device of the rogue node, whose key is on the allow list (a compromised device).
    static let rogueDevice = "dev-9"

    /// A 40-character stand-in for the Z85 public key of `node`.
    static func key(_ node: String) -> String { String((node + String(repeating: "k", count: 40)).prefix(40)) }

    /// The test configuration: 4 devices (the rogue included, so shards never depend on whether
    /// it joins), CURVE allow list unless `curve` is false.
    static func config(curve: Bool = true, rounds: Int = 2, rule: AggregationRuleName = .mean) -> FederationConfig {
        var c = FederationConfig()
        c.seed = 11
        c.model.name = .tiny
        c.model.resolution = 16
        c.dataset.name = .synthetic
        c.dataset.syntheticCount = 600
        c.partition.kind = "dirichlet"
        c.partition.alpha = 1
        c.deviceDefaults.localSteps = 6
        c.deviceDefaults.batch = 4
        c.deviceDefaults.learningRate = 0.05
        c.devices = ["dev-0", "dev-1", "dev-2", rogueDevice].map { DeviceConfig(id: $0) }
        c.rounds.count = rounds
        c.rounds.deadlineMs = 20_000
        c.rounds.joinWaitMs = 20_000  // every configured device joins in these runs: the wait ends at once
        c.rounds.finalWaitMs = 1_500
        c.aggregation.rule = rule
        c.heartbeatMs = 200
        if curve {
            let nodes = honestNodes + [("rogue", [rogueDevice])]
            c.curve = CurveConfig(serverPublicKey: key("coordinator"),
                                  clients: nodes.map { CurveClient(publicKey: key($0.name), node: $0.name, devices: $0.devices) })
        }
        return c
    }

    let network = InMemoryNetwork()
    let config: FederationConfig
    let folder: String
    let service: CoordinatorService
    private let finished = DispatchSemaphore(value: 0)
    private var result: Result<RunSummary, Error>?
    private var nodeThreads: [(name: String, done: DispatchSemaphore, stop: ShutdownFlag, error: () -> Error?)] = []

    /// A fleet for `config`, its run folder under the temporary directory.
    init(_ name: String, config: FederationConfig = InProcessFleet.config()) throws {
        self.config = config
        try config.validate()
        folder = NSTemporaryDirectory() + "sf-inproc-\(name)-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
        service = try CoordinatorService(config: config, options: CoordinatorOptions(endpoint: "in-memory", runFolder: folder),
                                         logger: Self.logger("coordinator"), stop: ShutdownFlag())
    }

    deinit { try? FileManager.default.removeItem(atPath: folder) }

    /// Quiet loggers; SPARSEFLEET_TEST_LOGS=1 prints them.
    static func logger(_ label: String) -> Logger {
        if ProcessInfo.processInfo.environment["SPARSEFLEET_TEST_LOGS"] == "1" {
            var l = Logger(label: label, factory: { StreamLogHandler.standardError(label: $0) })
            l.logLevel = .debug
            return l
        }
        return Logger(label: label, factory: { _ in SwiftLogNoOpLogHandler() })
    }

    /// Starts the coordinator on a thread.
    func startCoordinator() {
        let endpoint = CoordinatorEndpoint(channel: network.router())
        Thread.detachNewThread { [self] in
            result = Result { try service.run(on: endpoint) }
            finished.signal()
        }
    }

    /// Starts an honest node on a thread; it connects as `name#attempt` with key `key(name)`
    /// (nil: unauthenticated).
    func startNode(_ name: String, devices: [String], key: String?? = .none) throws {
        let k = key ?? Self.key(name)
        let stop = ShutdownFlag()
        let node = try NodeService(config: config, options: NodeOptions(endpoint: "in-memory", name: name, deviceIDs: devices),
                                   logger: Self.logger(name), stop: stop)
        let done = DispatchSemaphore(value: 0)
        let box = ErrorBox()
        let net = network
        Thread.detachNewThread {
            do {
                try node.run(connect: { attempt in net.dealer(identity: Array("\(name)#\(attempt)".utf8), key: k) })
            } catch { box.error = error }
            done.signal()
        }
        nodeThreads.append((name, done, stop, { box.error }))
    }

    /// Starts the honest nodes.
    func startHonestNodes() throws {
        for n in Self.honestNodes { try startNode(n.name, devices: n.devices) }
    }

    /// Waits for the run to end; throws what the coordinator threw. Node errors fail the test.
    func wait(timeout: TimeInterval = 60, file: StaticString = #filePath, line: UInt = #line) throws -> RunSummary {
        guard finished.wait(timeout: .now() + timeout) == .success else {
            XCTFail("the coordinator did not finish in \(timeout) s", file: file, line: line)
            throw CocoaError(.userCancelled)
        }
        for n in nodeThreads {
            if n.done.wait(timeout: .now() + 10) != .success {
                XCTFail("node \(n.name) did not stop", file: file, line: line)
                n.stop.request()  // so that it does not linger into the next test
            }
            if let e = n.error() { XCTFail("node \(n.name) failed: \(e)", file: file, line: line) }
        }
        return try result!.get()
    }

    /// The final global model.
    var model: [[Float]] { service.model.values }

    /// The metrics lines of the run.
    func metrics() throws -> [RoundMetrics] {
        let text = try String(contentsOfFile: folder + "/metrics.jsonl", encoding: .utf8)
        return try text.split(separator: "\n").map { try JSONDecoder().decode(RoundMetrics.self, from: Data($0.utf8)) }
    }

    /// summary.json as written.
    func writtenSummary() throws -> RunSummary {
        try JSONDecoder().decode(RunSummary.self, from: Data(contentsOf: URL(fileURLWithPath: folder + "/summary.json")))
    }

    /// The final model of the same configuration without the attacker: the rogue's node joins
    /// and declines every task (so the sample and the join wait are those of the attack runs),
    /// contributing nothing; computed once per configuration.
    static func control(_ config: FederationConfig) throws -> [[Float]] {
        let key = try String(decoding: config.json(), as: UTF8.self)
        if let m = controlCache.withLock({ $0[key] }) { return m }
        let fleet = try InProcessFleet("control", config: config)
        fleet.startCoordinator()
        let rogue = RawPeer(fleet, identity: "rogue#0", key: config.curve == nil ? nil : Self.key("rogue"))
        try rogue.join(node: "rogue", devices: [rogueDevice])
        let served = rogue.serveInBackground(answer: Self.decline)
        try fleet.startHonestNodes()
        _ = try fleet.wait()
        _ = served.wait(timeout: .now() + 10)
        controlCache.withLock { $0[key] = fleet.model }
        return fleet.model
    }

    private static let controlCache = Locked<[String: [[Float]]]>([:])

    /// A raw peer's answer that declines every TASK with an ERROR (so rounds need not wait for the deadline).
    static let decline: (RawPeer, WireMessage) throws -> [WireMessage] = { _, m in
        guard case let .task(t) = m else { return [] }
        return [ErrorReply.message(for: .unexpected(kind: .task, reason: "declined"), refusedKind: .task, deviceID: t.deviceID, round: t.round)]
    }
}

/// A value behind a lock.
final class Locked<T>: @unchecked Sendable {
    private var value: T
    private let lock = NSLock()
    init(_ value: T) { self.value = value }
    func withLock<R>(_ body: (inout T) -> R) -> R { lock.withLock { body(&value) } }
}

/// An error set from another thread.
final class ErrorBox: @unchecked Sendable {
    var error: Error?
}

/// A peer that speaks the protocol by hand, to lie in any field.
final class RawPeer {
    let dealer: InMemoryDealer
    let codec = WireCodec()
    let schema: ModelSchema
    /// The model values of the last SNAPSHOT received.
    private(set) var snapshot: [[Float]] = []
    /// Every ERROR the coordinator sent this peer.
    private(set) var errors: [PBError] = []
    private var sequence: UInt64 = 0
    /// The devices of the last JOIN sent (what its BYE names).
    private(set) var joined: [String] = []

    /// A peer on `fleet`'s network with routing id `identity` and authenticated `key`.
    init(_ fleet: InProcessFleet, identity: String, key: String?) {
        dealer = fleet.network.dealer(identity: Array(identity.utf8), key: key)
        schema = fleet.service.model.schema
    }

    /// Sends `message`.
    func send(_ message: WireMessage) throws { try dealer.send(try codec.encode(message, schema: schema)) }

    /// A JOIN as `node` for `devices`.
    func join(node: String, devices: [String], heartbeatMs: UInt32 = 100) throws {
        var j = PBJoin()
        j.nodeName = node
        j.devices = devices.map { id in
            var d = PBDeviceInfo()
            d.deviceID = id
            d.shardSize = 100
            d.memoryBudgetBytes = 262_144
            return d
        }
        j.heartbeatIntervalMs = heartbeatMs
        joined = devices
        try send(.join(j))
    }

    /// Reads messages for up to `milliseconds`, keeping ERRORs and the snapshot; returns the others.
    @discardableResult
    func read(milliseconds: Int) throws -> [WireMessage] {
        var out: [WireMessage] = []
        let until = MonotonicClock.nowMilliseconds() + Int64(milliseconds)
        while MonotonicClock.nowMilliseconds() < until {
            guard let frames = try dealer.receive(timeoutMilliseconds: 10) else { continue }
            guard case let .message(m) = codec.inbound(frames, schema: schema) else { continue }
            note(m)
            out.append(m)
        }
        return out
    }

    /// Reads until `done` holds for the messages read so far (ERRORs included), or `seconds` pass;
    /// whether it held. Use it instead of a fixed read window: the coordinator may still be
    /// evaluating its initial model.
    @discardableResult
    func read(until done: ([WireMessage]) -> Bool, seconds: Double = 30) throws -> Bool {
        var seen: [WireMessage] = []
        let until = Date().addingTimeInterval(seconds)
        while Date() < until {
            if done(seen) { return true }
            guard let frames = try dealer.receive(timeoutMilliseconds: 10) else { continue }
            guard case let .message(m) = codec.inbound(frames, schema: schema) else { continue }
            note(m)
            seen.append(m)
        }
        return done(seen)
    }

    private func note(_ m: WireMessage) {
        switch m {
        case let .error(e): errors.append(e)
        case let .model(model):
            if case .snapshot = model.form { snapshot = model.tensors.map(\.values) }
        default: break
        }
    }

    /// Serves until BYE (or `timeout`): heartbeats, and `answer` for every message (TASKs,
    /// METRICS requests), whose returned messages are sent as they are. A BYE is answered with
    /// BYE, as a node does, unless `answerBye` is false.
    func serve(timeout: TimeInterval = 60, answerBye: Bool = true, answer: (WireMessage) throws -> [WireMessage]) throws {
        let until = Date().addingTimeInterval(timeout)
        var lastBeat = Int64(0)
        while Date() < until {
            let now = MonotonicClock.nowMilliseconds()
            if now - lastBeat >= 100 {
                var h = PBHeartbeat()
                h.intervalMs = 100
                sequence += 1
                h.sequence = sequence
                try send(.heartbeat(h))
                lastBeat = now
            }
            guard let frames = try dealer.receive(timeoutMilliseconds: 10) else { continue }
            guard case let .message(m) = codec.inbound(frames, schema: schema) else { continue }
            note(m)
            if case .bye = m {
                if answerBye { try sayBye() }
                return
            }
            for reply in try answer(m) { try send(reply) }
        }
    }

    /// A BYE for the devices of the last JOIN.
    func sayBye() throws {
        var bye = PBBye()
        bye.reason = "coordinator finished"
        bye.deviceIds = joined
        try send(.bye(bye))
    }

    /// Serves on a thread; the returned semaphore is signalled when it stops.
    func serveInBackground(answer: @escaping (RawPeer, WireMessage) throws -> [WireMessage]) -> DispatchSemaphore {
        let done = DispatchSemaphore(value: 0)
        Thread.detachNewThread { [self] in
            try? serve { try answer(self, $0) }
            done.signal()
        }
        return done
    }

    /// An UPDATE for `task` whose every trainable value of the classifier is `value` (encoded as `encoding`).
    func update(for task: PBTask, value: Float, encoding: ValueEncoding = .f32, sampleCount: UInt64 = 100,
                values: (([Float], TensorSpec) -> [Float])? = nil) -> WireMessage {
        let i = schema.tensors.count - 2  // the classifier weight, trainable under every layout
        let spec = schema.tensors[i]
        let base = snapshot.isEmpty ? [Float](repeating: 0, count: spec.elementCount) : snapshot[i]
        let v = values?(base, spec) ?? [Float](repeating: value, count: spec.elementCount)
        return .update(UpdateMessage(deviceID: task.deviceID, round: task.round, baseModelVersion: task.modelVersion, sampleCount: sampleCount,
                                     delta: SparseDelta([TensorDelta(name: spec.name, channels: .all, values: v, encoding: encoding)])))
    }
}
