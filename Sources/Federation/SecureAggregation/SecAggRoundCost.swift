// What one SecAgg+ round costs, measured: every phase's messages encoded and decoded by the real
// codec (their bytes per direction), the clients' and the coordinator's compute per phase, and the
// unmasked sum checked against the plaintext sum. The clients run one after another in this
// process, so client time is per device; dropouts leave after dealing their shares.
import Foundation
import SecureAggregation
import Wire

/// The figures of one measured round.
public struct SecAggRoundCost: Sendable {
    /// Devices n, neighbours k, threshold t, vector length L, ring width b.
    public var devices: Int, degree: Int, threshold: Int, length: Int, ringBits: Int
    /// Devices that dropped after dealing.
    public var dropped: Int
    /// Bytes each device sent over the round, mean (all four phases, envelopes and headers included).
    public var uplinkPerDevice: Double
    /// Of which the masked vector's message.
    public var maskedPerDevice: Double
    /// Bytes the coordinator sent each device (KEYS, SHARES, UNMASK_REQUEST), mean.
    public var downlinkPerDevice: Double
    /// What one plain f32 UPDATE of as many dense values as a device masks would be: 4·L + its header.
    public var plainUpdateBytes: Int
    /// Client seconds per device per phase (advertise, deal, masked input, unmask), mean.
    public var clientSeconds: [Double]
    /// Coordinator seconds: relaying and checking every phase, then unmasking the sum.
    public var serverSeconds: Double
    /// Survivors left out with their group (dealt modes: a group that lost too many to dropouts).
    public var leftOut = 0
    /// Whether the unmasked sum equalled the sum of the summed survivors' inputs, exactly.
    public var exact: Bool

    /// Runs one round of `devices` with `degree`, `threshold`, vectors of `length` elements of
    /// Z_{2^ringBits}, `dropped` devices leaving after dealing.
    public static func measure(devices n: Int, degree: Int, threshold: Int, length: Int, ringBits: Int = 24, dropped: Int = 0, seed: UInt64 = 1) throws -> SecAggRoundCost {
        let p = try SecAggParameters(round: 1, participants: n, degree: degree, threshold: threshold, length: length, ringBits: ringBits)
        var graphRNG = ChaChaGenerator(seed: seedBytes(1_000_000, seed))
        let graph = NeighbourGraph(count: n, degree: degree, using: &graphRNG)
        return try measure(parameters: p, graph: graph, supports: nil, dropped: dropped, seed: seed)
    }

    /// Runs the round a coordinator's `plan` describes (its graph, lengths and supports), with
    /// random ring inputs, `dropped` devices leaving after dealing.
    public static func measure(plan: SecureRoundPlan, dropped: Int = 0, seed: UInt64 = 1) throws -> SecAggRoundCost {
        try measure(parameters: plan.parameters, graph: plan.graph, supports: plan.supports, dropped: dropped, seed: seed)
    }

    static func seedBytes(_ i: Int, _ seed: UInt64) -> [UInt8] {
        var g = ChaChaGenerator(seed: [UInt8](repeating: UInt8(truncatingIfNeeded: seed), count: 32))
        for _ in 0...i { _ = g.next() }
        return g.bytes(32)
    }

    static func measure(parameters p: SecAggParameters, graph: NeighbourGraph, supports: [[Int32]]?, dropped: Int, seed: UInt64) throws -> SecAggRoundCost {
        let (round, n, length, ringBits) = (p.round, p.participants, p.length, p.ringBits)
        let codec = WireCodec()
        let server = SecAggServer(parameters: p, graph: graph, supports: supports)
        let lengths = (0..<n).map { server.length(of: $0) }
        let clients = try (0..<n).map { i in
            SecAggClient(index: i, parameters: try SecAggParameters(round: round, participants: n, degree: graph.neighbours[i].count, threshold: p.threshold,
                                                                    length: lengths[i], ringBits: ringBits, harary: false),
                         neighbours: graph.neighbours[i], seed: seedBytes(i, seed))
        }
        let ids = (0..<n).map { "dev-\($0)" }
        let mask: UInt32 = ringBits == 32 ? .max : (1 << UInt32(ringBits)) - 1
        var inputRNG = ChaChaGenerator(seed: seedBytes(2_000_000, seed))
        let inputs = (0..<n).map { i in (0..<lengths[i]).map { _ in UInt32(truncatingIfNeeded: inputRNG.next()) & mask } }
        // Dropouts spread over the cohort (so that, in the dealt modes, no group loses them all).
        let leaving = Set((0..<dropped).map { $0 * n / max(dropped, 1) })
        var up = 0, masked = 0, down = 0
        var client = [Double](repeating: 0, count: 4)
        var serverTime = 0.0
        func timed<T>(_ body: () throws -> T) rethrows -> (T, Double) {
            let t0 = DispatchTime.now().uptimeNanoseconds
            let r = try body()
            return (r, Double(DispatchTime.now().uptimeNanoseconds - t0) / 1e9)
        }
        /// Sends `m` through the codec; returns what the receiver decodes.
        func wire(_ m: SecAggMessage, count: inout Int) throws -> SecAggMessage {
            let frames = try codec.encode(.secAgg(m))
            count += frames.reduce(0) { $0 + $1.count }
            guard case let .secAgg(back) = try codec.decode(frames) else { throw SecAggError.wrongPhase("not a SECAGG message") }
            return back
        }

        for c in clients {
            let (k, t) = timed { c.advertise() }
            client[0] += t
            let m = try wire(SecAggWire.advertise(k, device: ids[c.index], round: round), count: &up)
            serverTime += try timed { try server.receive(try SecAggWire.advertised(m)) }.1
        }
        let (relay, t0) = try timed { try server.closeAdvertise() }
        serverTime += t0
        for c in clients {
            let keys = try SecAggWire.neighbourKeys(try wire(SecAggWire.keys(relay[c.index]!, device: ids[c.index], round: round, index: c.index), count: &down))
            let (d, t) = try timed { try c.deal(neighbours: keys) }
            client[1] += t
            let m = try wire(SecAggWire.deal(d, device: ids[c.index], round: round), count: &up)
            serverTime += try timed { try server.receive(try SecAggWire.dealt(m)) }.1
        }
        let (sealed, t1) = try timed { try server.closeDeal() }
        serverTime += t1
        for c in clients where !leaving.contains(c.index) {
            let shares = try SecAggWire.sealed(try wire(SecAggWire.shares(sealed[c.index]!, device: ids[c.index], round: round, index: c.index), count: &down))
            let (y, t) = try timed { try c.maskedInput(received: shares, input: inputs[c.index]) }
            client[2] += t
            var bytes = 0
            let m = try wire(SecAggWire.masked(y, device: ids[c.index], round: round), count: &bytes)
            up += bytes; masked += bytes
            serverTime += try timed { try server.receive(try SecAggWire.maskedInput(m)) }.1
        }
        let (survivors, t2) = try timed { try server.closeMaskedInput() }
        serverTime += t2
        for c in clients where survivors.contains(c.index) {
            let s = try SecAggWire.survivors(try wire(SecAggWire.unmaskRequest(survivors, device: ids[c.index], round: round, index: c.index), count: &down))
            let (u, t) = try timed { try c.unmask(survivors: s) }
            client[3] += t
            let m = try wire(SecAggWire.unmask(u, device: ids[c.index], round: round), count: &up)
            serverTime += try timed { try server.receive(try SecAggWire.unmaskShares(m)) }.1
        }
        let (sum, t3) = try timed { try server.finish() }
        serverTime += t3
        var expected = [UInt32](repeating: 0, count: length)
        for i in server.summed.sorted() {
            if let s = supports?[i] {
                for (at, c) in s.enumerated() { expected[Int(c)] = (expected[Int(c)] &+ inputs[i][at]) & mask }
            } else {
                Ring.add(&expected, inputs[i], bits: ringBits)
            }
        }
        let mean = lengths.reduce(0, +) / n
        let plain = UpdateMessage(deviceID: ids[0], round: round, baseModelVersion: 1, sampleCount: 1,
                                  delta: SparseDelta([TensorDelta(name: "x", channels: .all, values: [Float](repeating: 0.5, count: mean))]))
        let schema = ModelSchema([TensorSpec(name: "x", shape: [mean])])
        let plainBytes = try codec.encode(.update(plain), schema: schema).reduce(0) { $0 + $1.count }
        let live = Double(n - dropped)
        return SecAggRoundCost(devices: n, degree: graph.minimumDegree, threshold: p.threshold, length: length, ringBits: ringBits, dropped: dropped,
                               uplinkPerDevice: Double(up) / Double(n), maskedPerDevice: Double(masked) / live, downlinkPerDevice: Double(down) / Double(n),
                               plainUpdateBytes: plainBytes,
                               clientSeconds: [client[0] / Double(n), client[1] / Double(n), client[2] / live, client[3] / Double(survivors.count)],
                               serverSeconds: serverTime, leftOut: server.leftOut.count, exact: sum == expected)
    }
}
