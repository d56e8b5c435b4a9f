// The coordinator's message loop and handlers: pump (read, tick, reap), send, refuse, and one
// handler per message kind. Decisions live in pure parts — JoinAdmission for JOIN,
// UpdateAdmission for UPDATE, MetricKey for METRICS values — so that what a peer can make the
// coordinator do is tested without sockets. Nothing a peer sends can stop the loop: a refusal is
// an ERROR reply, and a reply that cannot be sent is logged and dropped.
import Engine
import Foundation
import Logging
import Transport
import Wire

extension CoordinatorService {
    /// Handles messages until `done()` holds, the deadline passes, or a signal arrives. Messages
    /// already queued are always read first, so that a coordinator that was busy (descheduled)
    /// hears its peers before it judges them dead.
    /// `stopAfterSignals`: how many SIGINT/SIGTERMs end the wait early.
    func pump(until done: () -> Bool, deadline: Int64, stopAfterSignals: Int = 1) throws {
        while true {
            try drain()
            tick()
            if stop.requests >= stopAfterSignals || done() || MonotonicClock.nowMilliseconds() >= deadline { return }
            guard let channel = endpoint?.channel, let m = try channel.receiveAuthenticated(timeoutMilliseconds: 20) else { continue }
            handle(m)
        }
    }

    /// Handles every message that is already waiting; a long backlog (a thousand devices
    /// reporting at once) does not silence the heartbeats.
    func drain() throws {
        guard let channel = endpoint?.channel else { return }
        var beat = MonotonicClock.nowMilliseconds()
        while let m = try channel.receiveAuthenticated(timeoutMilliseconds: 0) {
            handle(m)
            let now = MonotonicClock.nowMilliseconds()
            if now - beat >= 50 { sendHeartbeats(now: now); beat = now }
        }
    }

    /// Heartbeats to idle peers, dead-peer reaping, and ZAP refusals in the log.
    func tick() {
        sendHeartbeats(now: MonotonicClock.nowMilliseconds())
        reapDead()
        if let zap = endpoint?.zap, zap.refusedCount != zapRefusedSeen {
            zapRefusedSeen = zap.refusedCount
            logger.warning("refused a CURVE client: its public key is not on the allow list",
                           metadata: ["keys": "\(zap.refusedKeysSeen.joined(separator: ","))"])
        }
    }

    /// A HEARTBEAT to every peer that has heard nothing from us for an interval.
    func sendHeartbeats(now: Int64) {
        for (identity, p) in registry.peers where now - p.lastSent >= Int64(config.heartbeatMs) {
            sendHeartbeat(identity, now: now)
        }
    }

    /// A HEARTBEAT to `identity`.
    func sendHeartbeat(_ identity: [UInt8], now: Int64) {
        var h = PBHeartbeat()
        h.intervalMs = UInt32(config.heartbeatMs)
        h.sequence = UInt64(now)
        send(identity, .heartbeat(h))
    }

    /// Forgets dead peers; their devices' open tasks fail.
    func reapDead() {
        for identity in registry.liveness.reapDead(at: MonotonicClock.nowMilliseconds()) {
            let name = registry.peers[identity]?.name ?? "?"
            let devices = registry.remove(identity)
            let now = MonotonicClock.nowMilliseconds()
            for d in devices { lostAt[d] = now }
            logger.warning("node dead (3 heartbeat intervals silent)", metadata: ["node": "\(name)", "devices": "\(devices.joined(separator: ","))"])
            fail(devices, .disconnected)
        }
    }

    /// Marks the open tasks of `devices` as failed.
    func fail(_ devices: [String], _ reason: FailureReason) {
        guard var r = open else { return }
        for d in devices where r.pending.contains(d) {
            r.pending.remove(d)
            r.failures[d] = reason
        }
        open = r
    }

    /// Encodes and sends `message` to `identity`, counting the bytes. A message that cannot be
    /// encoded or sent is logged and dropped: it never stops the coordinator.
    func send(_ identity: [UInt8], _ message: WireMessage) {
        do {
            let frames = try codec.encode(message, schema: model.schema)
            sendFrames(identity, frames, model: { if case .model = message { return true } else { return false } }())
        } catch {
            logger.error("message not sent: it cannot be encoded", metadata: ["kind": "\(message.kind)", "error": "\(error)"])
        }
    }

    /// Sends ready-made frames to `identity`, counting the bytes.
    func sendFrames(_ identity: [UInt8], _ frames: [[UInt8]], model: Bool = false) {
        guard let channel = endpoint?.channel else { return }
        do {
            try channel.send([identity] + frames)
        } catch {
            logger.warning("send failed; message dropped", metadata: ["peer": "\(peerName(identity))", "error": "\(error)"])
            return
        }
        ledger.sent(frames.reduce(0) { $0 + $1.count }, model: model)
        registry.update(identity) { $0.lastSent = MonotonicClock.nowMilliseconds() }
    }

    /// Sends the MODEL a node needs to reach the current version, if any.
    func sendModelIfNeeded(_ identity: [UInt8]) {
        guard let held = registry.peers[identity]?.heldVersion, let m = model.message(from: held) else { return }
        send(identity, .model(m))
        registry.update(identity) { $0.heldVersion = self.model.version }
    }

    /// A routing identity for logs.
    func peerName(_ identity: [UInt8]) -> String { String(decoding: identity.prefix(64), as: UTF8.self) }

    /// Refuses a message with an ERROR reply (up to `limits.maxRepliesPerPeer` per round) and counts it.
    func refuse(_ identity: [UInt8], _ error: WireError, kind: MessageKind?, deviceID: String = "", round: UInt64 = 0, reply: [[UInt8]]? = nil) {
        ledger.refusedMessage()
        let n = refusalsByPeer[identity, default: 0] + 1
        refusalsByPeer[identity] = n
        guard n <= limits.maxRepliesPerPeer else { return }
        logger.warning("refused message", metadata: ["peer": "\(peerName(identity))", "device.id": "\(deviceID)", "round": "\(round)", "error": "\(error)"])
        if n == limits.maxRepliesPerPeer {
            logger.warning("peer keeps sending refused messages; its messages are ignored until the next round", metadata: ["peer": "\(peerName(identity))"])
        }
        sendFrames(identity, reply ?? ErrorReply.frames(for: error, refusedKind: kind, deviceID: deviceID, round: round))
    }

    /// Dispatches one inbound message (`frames[0]` is the routing identity).
    func handle(_ inbound: InboundMessage) {
        let all = inbound.frames
        guard all.count >= 2 else { return }
        let identity = registry.resolve(all[0])
        let frames = Array(all.dropFirst())
        let size = frames.reduce(0) { $0 + $1.count }
        ledger.received(size)
        let now = MonotonicClock.nowMilliseconds()
        // A connection's key must stay the key it joined with (ZAP authenticates per connection).
        let known = registry.peers[identity].map { !joins.authenticated || $0.key == inbound.peerKey } ?? false
        if known { registry.liveness.heard(from: identity, at: now) }
        // A connection past its refusal limit this round is ignored without decoding, so a flood
        // costs nothing; only an unjoined connection's JOIN still gets through.
        if refusalsByPeer[identity, default: 0] >= limits.maxRepliesPerPeer, known || !Self.isJoin(frames) {
            ledger.refusedMessage()
            return
        }
        if Self.isJoin(frames), frames[1].count > joins.maxHeaderBytes(key: inbound.peerKey) {
            let limit = joins.maxHeaderBytes(key: inbound.peerKey)
            return refuse(identity, .tooLarge(field: "Join header (devices this key may serve)", size: frames[1].count, limit: limit), kind: .join)
        }
        switch codec.inbound(frames, schema: model.schema) {
        case let .refused(error, reply):
            if let reply { refuse(identity, error, kind: nil, reply: reply) } else { ledger.refusedMessage() }
        case let .message(message):
            if farewell != nil { return handleAtFarewell(identity, message) }
            if case let .join(j) = message { return handleJoin(identity, j, key: inbound.peerKey, now: now) }
            guard known else {
                if case .error = message { return }
                return refuse(identity, .notJoined(kind: message.kind), kind: message.kind)
            }
            switch message {
            case let .update(u): handleUpdate(identity, u, bytes: size)
            case let .metrics(m): handleMetrics(identity, m)
            case let .heartbeat(h): registry.liveness.heard(from: identity, at: now, interval: Int64(max(1, h.intervalMs)))
            case let .bye(b):
                let devices = registry.remove(identity)
                logger.info("node left", metadata: ["reason": "\(b.reason)", "devices": "\(devices.joined(separator: ","))"])
                fail(devices, .disconnected)
            case let .error(e): handleError(identity, e)
            case .model, .task, .join:
                refuse(identity, .unexpected(kind: message.kind, reason: "only the coordinator sends this"), kind: message.kind)
            case let .secAgg(m): handleSecAgg(identity, m, bytes: size)
            }
        }
    }

    /// Whether `frames` carry a JOIN envelope (read without decoding anything else).
    static func isJoin(_ frames: [[UInt8]]) -> Bool {
        frames.count >= 2 && frames[0].count == 8 && frames[0][6] == UInt8(MessageKind.join.rawValue)
    }

    /// Admits a node as JoinAdmission decides, then brings it the model.
    func handleJoin(_ identity: [UInt8], _ j: PBJoin, key: String?, now: Int64) {
        switch joins.decide(j, identity: identity, key: key, peers: registry.peers, owner: registry.owner) {
        case let .refuse(error, deviceID):
            refuse(identity, error, kind: .join, deviceID: deviceID)
        case let .admit(ids, retire):
            for old in retire {
                logger.info("node reconnected; its old connection's messages count as its own", metadata: ["node": "\(j.nodeName)"])
                registry.retire(old, replacedBy: identity)
            }
            registry.register(identity, info: PeerInfo(name: j.nodeName, key: key, devices: ids, heldVersion: j.heldModelVersion,
                                                        interval: Int64(j.heartbeatIntervalMs), lastSent: 0))
            registry.liveness.heard(from: identity, at: now, interval: Int64(max(1, j.heartbeatIntervalMs)))
            logger.info("node joined", metadata: ["node": "\(j.nodeName)", "devices": "\(ids.joined(separator: ","))",
                                                  "held.version": "\(j.heldModelVersion)", "authenticated": "\(key != nil)"])
            if model.message(from: j.heldModelVersion) != nil {
                sendModelIfNeeded(identity)
            } else {
                sendHeartbeat(identity, now: now)
            }
        }
    }

    /// Accepts an UPDATE that UpdateAdmission admits; refuses it otherwise.
    func handleUpdate(_ identity: [UInt8], _ u: UpdateMessage, bytes: Int) {
        guard config.personalisation.method.sendsUpdates else {  // local: nothing leaves a device
            refuse(identity, .invalid(field: "UPDATE", reason: "personalisation.method is local: devices send no updates (same configuration on coordinator and node?)"),
                   kind: .update, deviceID: u.deviceID, round: u.round)
            if registry.owner[u.deviceID] == identity { fail([u.deviceID], .refused) }
            return
        }
        switch admission.admit(u, owned: registry.owner[u.deviceID] == identity, round: open) {
        case let .failure(refusal):
            refuse(identity, refusal.error, kind: .update, deviceID: u.deviceID, round: u.round)
            if refusal.failsTask { fail([u.deviceID], .refused) }
        case let .success(result):
            guard var r = open else { return }
            let id = u.deviceID
            if u.sampleCount != result.sampleCount {
                logger.debug("claimed sample_count ignored; the shard size weighs", metadata: ["device.id": "\(id)", "claimed": "\(u.sampleCount)", "weight": "\(result.sampleCount)"])
            }
            r.results[id] = result
            r.updateBytes[id] = bytes
            r.training[id] = u.metrics
            r.norms[id] = UpdateAdmission.norm(u.delta)
            r.pending.remove(id)
            open = r
            ledger.recordPeak(id, bytes: Int(min(u.metrics.peakMemoryBytes, 1 << 40)))
            options.crashAt?.fire(round: r.round, phase: .collecting)
            logger.debug("update accepted", metadata: ["device.id": "\(id)", "round": "\(u.round)", "bytes": "\(bytes)", "values": "\(u.delta.valueCount)"])
        }
    }

    /// Records personalised accuracies reported by devices; a value out of range gets ERROR and
    /// nothing of the message is recorded.
    func handleMetrics(_ identity: [UInt8], _ m: PBMetrics) {
        guard !m.deviceID.isEmpty, registry.owner[m.deviceID] == identity else {
            if !m.deviceID.isEmpty { refuse(identity, .unknownDevice(deviceID: m.deviceID), kind: .metrics, deviceID: m.deviceID, round: m.round) }
            return
        }
        for (k, v) in m.values.sorted(by: { $0.key < $1.key }) {
            if let problem = MetricKey.problem(key: k, value: v) {
                return refuse(identity, problem, kind: .metrics, deviceID: m.deviceID, round: m.round)
            }
        }
        let local = !config.personalisation.method.sendsUpdates
        if m.values[MetricKey.localDone] != nil, !local {
            return refuse(identity, .invalid(field: "METRICS 'local_done'", reason: "personalisation.method is \(config.personalisation.method.rawValue): a device reports its task with an UPDATE"),
                          kind: .metrics, deviceID: m.deviceID, round: m.round)
        }
        // A local device's training figures, held to the bounds an UPDATE's are (steps within the TASK's).
        var localTraining: PBTrainingMetrics?
        if local, m.values[MetricKey.localDone] != nil {
            var t = PBTrainingMetrics()
            t.steps = UInt32(m.values[MetricKey.trainSteps] ?? 0)
            t.lossLast = m.values[MetricKey.trainLoss] ?? 0
            t.peakMemoryBytes = UInt64(m.values[MetricKey.peakMemory] ?? 0)
            if let problem = admission.trainingProblem(t, device: m.deviceID) {
                return refuse(identity, problem, kind: .metrics, deviceID: m.deviceID, round: m.round)
            }
            localTraining = t
        }
        for (k, v) in m.values where MetricKey.membershipKeys.contains(k) { ledger.recordMembership(m.deviceID, key: k, value: v) }
        if let v = m.values[MetricKey.personalFinal] { ledger.recordFinal(m.deviceID, accuracy: v) }
        guard var r = open, m.round == r.round else { return }
        if let v = m.values[MetricKey.personalBefore] { r.before[m.deviceID] = v; ledger.recordBefore(m.deviceID, accuracy: v) }
        if let v = m.values[MetricKey.personalAfter] { r.after[m.deviceID] = v }
        if let v = m.values[MetricKey.updateClipped] { r.clipped[m.deviceID] = v == 1 }
        if let t = localTraining, r.pending.contains(m.deviceID) {  // its task is done; no UPDATE follows
            r.training[m.deviceID] = t
            r.localDone.insert(m.deviceID)
            r.pending.remove(m.deviceID)
            ledger.recordPeak(m.deviceID, bytes: Int(t.peakMemoryBytes))
        }
        open = r
    }

    /// Reacts to a node's ERROR: a refused PATCH gets a SNAPSHOT; a failed task is a device failure.
    func handleError(_ identity: [UInt8], _ e: PBError) {
        logger.warning("node sent ERROR", metadata: ["code": "\(e.code)", "device.id": "\(e.deviceID)", "round": "\(e.round)", "message": "\(e.message.prefix(300))"])
        if e.refusedKind == UInt32(MessageKind.model.rawValue) && e.code == .stale {
            registry.update(identity) { $0.heldVersion = 0 }
            sendModelIfNeeded(identity)
            return
        }
        if !e.deviceID.isEmpty, registry.owner[e.deviceID] == identity, let r = open, e.round == r.round {
            fail([e.deviceID], e.code == .stale ? .refused : .deviceError)
        }
    }
}
