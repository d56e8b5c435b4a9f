// The coordinator's side of a secure round (PROTOCOL.md §4.9): after the TASKs, four phases —
// ADVERTISE (its deadline is the round's: it includes training), DEAL, MASKED, UNMASK (each
// `phaseDeadlineMs`) — relayed through SecAggServer; then the unmasked sum becomes the round's
// one aggregate (MaskedUpdateEncoding) and the configured rule applies it. A participant that
// misses a phase, disconnects or is refused is dropped for the rest of the round. A phase with
// fewer than t participants left, or a secret that cannot be rebuilt, refuses the round: nothing
// is applied and the previous model stays.
import Foundation
import Logging
import SecureAggregation
import Transport
import Wire

/// A secure round in progress.
final class SecureCollection {
    /// The round's plan.
    let plan: SecureRoundPlan
    /// The protocol state.
    let server: SecAggServer
    /// Seconds per phase.
    var phaseSeconds: [String: Double] = [:]
    /// Participants dropped, and why.
    var dropped: [String: String] = [:]
    /// Set while the sum is unmasked off the loop: later messages are stale.
    var closed = false

    init(plan: SecureRoundPlan) {
        self.plan = plan
        server = SecAggServer(parameters: plan.parameters, graph: plan.graph, supports: plan.supports)
    }

    /// The device of participant `i`.
    func device(_ i: Int) -> String { plan.participants[i] }
}

/// How the secure phases ended.
enum SecureCollectionEnd {
    /// The unmasked aggregate, as one result for the rule, and the survivors it sums.
    case aggregate(DeviceResult, survivors: [String], touched: Int)
    /// The sum could not be unmasked.
    case refused(String)
    /// A second signal: abandon the round.
    case abandoned
}

extension CoordinatorService {
    /// Runs the phases of `s` after the TASKs went out; `roundDeadline` closes ADVERTISE.
    func collectSecurely(_ s: SecureCollection, roundDeadline: Int64, log: Logger) throws -> SecureCollectionEnd {
        let all = Set(0..<s.plan.participants.count)
        let phaseMs = Int64(config.secureAggregation.phaseDeadlineMs)
        func live(_ set: Set<Int>) -> Set<Int> { set.filter { open?.failures[s.device($0)] == nil } }
        /// Drops every participant of `expected` missing from `answered`, naming the phase.
        func drop(_ expected: Set<Int>, answered: Set<Int>, phase: String) {
            for i in expected.subtracting(answered).sorted() {
                let id = s.device(i)
                if s.dropped[id] == nil { s.dropped[id] = open?.failures[id].map { "\($0.rawValue) before \(phase)" } ?? "no \(phase) by its deadline" }
                if open?.failures[id] == nil { open?.failures[id] = .deadline }
                open?.pending.remove(id)
            }
        }
        func phase(_ name: String, deadline: Int64, done: @escaping () -> Bool) throws -> Bool {
            let t0 = Date()
            try pump(until: done, deadline: deadline, stopAfterSignals: 2)
            s.phaseSeconds[name] = Date().timeIntervalSince(t0)
            return stop.requests < 2
        }
        func relay(_ i: Int, _ m: SecAggMessage) {
            guard let owner = registry.owner[s.device(i)] else { return }
            send(owner, .secAgg(m))
        }
        let round = s.plan.round
        do {
            // 0: keys (training happens before them).
            guard try phase("advertise", deadline: roundDeadline, done: { live(all).isSubset(of: s.server.advertised) }) else { return .abandoned }
            drop(all, answered: s.server.advertised, phase: "ADVERTISE")
            for (i, list) in try s.server.closeAdvertise() { relay(i, SecAggWire.keys(list, device: s.device(i), round: round, index: i)) }
            // 1: sealed shares.
            let u1 = s.server.advertised
            guard try phase("deal", deadline: MonotonicClock.nowMilliseconds() + phaseMs, done: { live(u1).isSubset(of: s.server.dealers) }) else { return .abandoned }
            drop(u1, answered: s.server.dealers, phase: "DEAL")
            for (i, list) in try s.server.closeDeal() { relay(i, SecAggWire.shares(list, device: s.device(i), round: round, index: i)) }
            // 2: masked inputs.
            let u2 = s.server.dealers
            guard try phase("masked", deadline: MonotonicClock.nowMilliseconds() + phaseMs, done: { live(u2).isSubset(of: s.server.survivors) }) else { return .abandoned }
            drop(u2, answered: s.server.survivors, phase: "MASKED")
            let u3 = try s.server.closeMaskedInput()
            for i in u3 { relay(i, SecAggWire.unmaskRequest(u3, device: s.device(i), round: round, index: i)) }
            // 3: the shares that unmask the survivors' sum.
            guard try phase("unmask", deadline: MonotonicClock.nowMilliseconds() + phaseMs, done: { live(u3).isSubset(of: s.server.unmasked) }) else { return .abandoned }
            for i in u3.subtracting(s.server.unmasked).sorted() where s.dropped[s.device(i)] == nil {
                s.dropped[s.device(i)] = "no UNMASK by its deadline (its input is in the sum)"
            }
            s.closed = true
            let (server, plan, version) = (s.server, s.plan, open?.version ?? model.version)
            let t0 = Date()
            let result = try offLoop { () -> Result<(DeviceResult, Int), Error> in
                Result {
                    let sum = try server.finish()
                    let mean = try plan.sum.aggregate(sum)
                    return (Self.aggregateResult(mean.tensors, version: version), mean.touched)
                }
            }
            s.phaseSeconds["unmasking"] = Date().timeIntervalSince(t0)
            let (aggregate, touched) = try result.get()
            for (i, why) in s.server.leftOut where s.dropped[s.device(i)] == nil {
                s.dropped[s.device(i)] = "its group's sum could not be unmasked, so it was left out: \(why)"
            }
            let survivors = s.server.summed.map(s.device).sorted()
            for id in u3.map(s.device) { open?.pending.remove(id) }
            if !s.server.leftOut.isEmpty {
                log.warning("secure round: groups left out (their secrets could not be rebuilt); the others are applied",
                            metadata: ["devices": "\(s.server.leftOut.keys.map(s.device).sorted().joined(separator: ","))"])
            }
            return .aggregate(aggregate, survivors: survivors, touched: touched)
        } catch {
            s.closed = true
            log.error("secure round refused: the sum cannot be unmasked; the previous model stays", metadata: ["error": "\(error)"])
            return .refused("\(error)")
        }
    }

    /// The unmasked per-coordinate aggregate as one result of weight 1 over the touched channels
    /// (the rule then applies it exactly as it would the mean of plaintext updates).
    static func aggregateResult(_ tensors: [(slot: MaskedSlot, values: [Float], touched: [Bool])], version: UInt64) -> DeviceResult {
        var out: [TensorDelta] = []
        for (slot, values, touched) in tensors {
            let spec = slot.spec
            var dense = [Float](repeating: 0, count: spec.elementCount), mask = [Float](repeating: 0, count: spec.elementCount)
            TensorSlicing.scatter(values, into: &dense, spec: spec, channels: slot.channels)
            TensorSlicing.scatter(touched.map { $0 ? 1 : 0 }, into: &mask, spec: spec, channels: slot.channels)
            let (outer, C, inner) = (spec.outer, spec.channelCount, spec.inner)
            let channels = (0..<C).filter { c in (0..<outer).contains { o in (0..<inner).contains { mask[(o * C + c) * inner + $0] != 0 } } }
            guard !channels.isEmpty else { continue }
            let selection: ChannelSelection = channels.count == C ? .all : .subset(channels)
            out.append(TensorDelta(name: spec.name, channels: selection, values: TensorSlicing.gather(dense, spec: spec, channels: selection)))
        }
        return DeviceResult(deviceID: "secure-sum", sampleCount: 1, baseVersion: version, delta: SparseDelta(out))
    }

    /// One SECAGG message from a node: checked against the open secure round and its phase, then
    /// given to the protocol; a refusal is the protocol's ERROR and, before UNMASK, drops the device.
    func handleSecAgg(_ identity: [UInt8], _ m: SecAggMessage, bytes: Int) {
        let h = m.header
        func no(_ e: WireError) { refuse(identity, e, kind: .secAgg, deviceID: h.deviceID, round: h.round) }
        guard let s = secure, !s.closed, let r = open, h.round == r.round else {
            return no(.stale(deviceID: h.deviceID, reason: "no secure round \(h.round) is open"))
        }
        guard registry.owner[h.deviceID] == identity else { return no(.unknownDevice(deviceID: h.deviceID)) }
        guard let i = s.plan.index[h.deviceID], h.participant == UInt32(i) else {
            return no(.forbidden(reason: "device '\(h.deviceID)' is not participant \(h.participant) of round \(h.round)"))
        }
        guard r.failures[h.deviceID] == nil else { return no(.stale(deviceID: h.deviceID, reason: "dropped from round \(h.round) (\(s.dropped[h.deviceID] ?? "failed"))")) }
        do {
            switch h.phase {
            case .advertise: try s.server.receive(try SecAggWire.advertised(m))
            case .deal: try s.server.receive(try SecAggWire.dealt(m))
            case .masked:
                try s.server.receive(try SecAggWire.maskedInput(m))
                maskedObserver?(h.deviceID, m.masked)
            case .unmask: try s.server.receive(try SecAggWire.unmaskShares(m))
            default: throw SecAggError.wrongPhase("only the coordinator sends \(h.phase)")
            }
            open?.updateBytes[h.deviceID, default: 0] += bytes
        } catch {
            let e = error as? SecAggError
            let wire: WireError
            switch e {
            case .duplicate?: wire = .duplicate(deviceID: h.deviceID, round: h.round)
            case .wrongPhase?: wire = .unexpected(kind: .secAgg, reason: "\(error)")
            default: wire = .invalid(field: "SecAgg.\(h.phase)", reason: "\(error)")
            }
            let dropsDevice: Bool
            switch e {
            case .duplicate?, .wrongPhase?: dropsDevice = false  // a repeat or a stray: its first message stands
            default: dropsDevice = h.phase != .unmask  // an UNMASK survivor's input is in the sum already
            }
            if dropsDevice {
                // A device whose keys, shares or masked vector are refused cannot be masked with any more.
                s.dropped[h.deviceID] = "refused \(h.phase): \(error)"
                open?.failures[h.deviceID] = .refused
                open?.pending.remove(h.deviceID)
            }
            no(wire)
        }
    }

    /// The report of a finished secure round.
    func secureReport(_ s: SecureCollection, end: SecureCollectionEnd) -> SecureRoundReport {
        let p = s.plan
        var failure: String?, touched = 0
        switch end {
        case let .aggregate(_, _, t): touched = t
        case let .refused(why): failure = why
        case .abandoned: failure = "abandoned (second signal)"
        }
        let lengths = p.participants.compactMap { p.length(of: $0) }
        let sees: String
        switch p.mode {
        case .candidates: sees = "\(s.server.survivors.count) masked vectors of \(p.parameters.length) ring elements, then their sum"
        default: sees = "\(p.groups.count) public blocks, \(s.server.survivors.count) masked vectors over them, then each group's sum"
        }
        return SecureRoundReport(
            mode: p.mode.rawValue, participants: p.participants.count, neighbours: p.graph.minimumDegree, threshold: p.parameters.threshold,
            ringBits: p.parameters.ringBits, valueBits: p.sum.quantiser.valueBits, clip: p.sum.quantiser.clip,
            sumLength: p.parameters.length, maskedLengthPerDevice: lengths.isEmpty ? 0 : Double(lengths.reduce(0, +)) / Double(lengths.count),
            advertised: s.server.advertised.count, dealt: s.server.dealers.count, maskedInputs: s.server.survivors.count, unmasked: s.server.unmasked.count,
            dropped: s.dropped, satOut: p.excluded, failure: failure, touchedCoordinates: touched, phaseSeconds: s.phaseSeconds,
            noiseStddev: p.noiseStddev, coordinatorSaw: sees)
    }
}
