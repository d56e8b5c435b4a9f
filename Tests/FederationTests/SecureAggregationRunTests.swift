// Secure aggregation in real rounds: the real coordinator and nodes in process over the in-memory
// transport, plus raw peers that run the protocol by hand (to drop out after any phase, or lie).
// Checks: the unmasked aggregate equals plaintext aggregation within the quantisation error
// (3, 10 and 50 devices); dropouts after key sharing and after the masked input are survived,
// bitwise, while t remain; fewer than t refuse the round and keep the model; a masked vector of
// the wrong length or a share that breaks its commitment is refused with ERROR and the round goes
// on; an honest device's masked vector looks uniform to the coordinator; runs reproduce bitwise.
import Engine
@testable import Federation
import Foundation
@testable import SecureAggregation
import Wire
import XCTest

final class SecureAggregationRunTests: XCTestCase {
    /// `n` devices dev-00…, plain transport, secure aggregation in `mode` (off: plain).
    static func config(devices n: Int, mode: SecureAggregationMode = .candidates, rounds: Int = 1) -> FederationConfig {
        var c = InProcessFleet.config(curve: false, rounds: rounds)
        c.devices = (0..<n).map { DeviceConfig(id: String(format: "dev-%02d", $0)) }
        c.dataset.syntheticCount = max(600, 40 * n)
        c.deviceDefaults.localSteps = 4
        c.secureAggregation.mode = mode
        c.secureAggregation.phaseDeadlineMs = 5_000
        return c
    }

    typealias Answer = (RawPeer, WireMessage) throws -> [WireMessage]

    /// Runs `config` with its devices on two honest nodes, except the `raw` ones (each played by a
    /// raw peer answering as given); returns the fleet after the run and the raw peers.
    @discardableResult
    func run(_ name: String, _ config: FederationConfig, raw: [String: Answer] = [:], observe: ((String, [UInt32]) -> Void)? = nil,
             file: StaticString = #filePath, line: UInt = #line) throws -> (InProcessFleet, [String: RawPeer]) {
        let fleet = try InProcessFleet(name, config: config)
        fleet.service.maskedObserver = observe
        fleet.startCoordinator()
        var peers: [String: RawPeer] = [:], served: [DispatchSemaphore] = []
        for (id, answer) in raw.sorted(by: { $0.key < $1.key }) {
            let p = RawPeer(fleet, identity: "raw-\(id)#0", key: nil)
            try p.join(node: "raw-\(id)", devices: [id])
            peers[id] = p
            served.append(p.serveInBackground(answer: answer))
        }
        let honest = config.devices.map(\.id).filter { raw[$0] == nil }
        let half = (honest.count + 1) / 2
        try fleet.startNode("node-a", devices: Array(honest.prefix(half)), key: .some(nil))
        if honest.count > half { try fleet.startNode("node-b", devices: Array(honest.dropFirst(half)), key: .some(nil)) }
        let summary = try fleet.wait(timeout: 120, file: file, line: line)
        for s in served { _ = s.wait(timeout: .now() + 10) }
        XCTAssertEqual(summary.rounds, config.rounds.count, file: file, line: line)
        XCTAssertEqual(try fleet.writtenSummary().rounds, config.rounds.count, "summary.json is written", file: file, line: line)
        return (fleet, peers)
    }

    func testTheSecureAggregateEqualsPlainAggregationWithinTheQuantisationErrorWith3_10And50Devices() throws {
        for n in [3, 10, 50] {
            let secure = Self.config(devices: n)
            var plain = secure
            plain.secureAggregation.mode = .off
            let (s, _) = try run("plain-vs-secure-\(n)", secure)
            let (p, _) = try run("plain-\(n)", plain)
            let m = try XCTUnwrap(try s.metrics().first?.secureAggregation)
            XCTAssertEqual(m.participants, n); XCTAssertEqual(m.maskedInputs, n); XCTAssertNil(m.failure)
            XCTAssertEqual(try s.metrics().first?.reporting.count, n, "every device reported")
            // Each device's value rounds by less than one unit of 1/scale, so the mean of a
            // coordinate is off by less than n·W / (scale · Σ n_k) ≤ n / scale (every n_k ≥ 1).
            let scale = Double((1 << (m.valueBits - 1)) - 1) / m.clip
            let bound = Double(n) / scale
            var largest = 0.0, moved = 0
            for (a, b) in zip(s.model.flatMap { $0 }, p.model.flatMap { $0 }) {
                largest = max(largest, Double(abs(a - b)))
                if a != b { moved += 1 }
            }
            print("secure vs plain, n = \(n): largest difference \(largest), bound \(bound), \(moved) coordinates differ")
            XCTAssertLessThanOrEqual(largest, bound + 1e-6, "n = \(n)")
            XCTAssertGreaterThan(m.touchedCoordinates, 0)
        }
    }

    /// A raw device that runs the protocol with an all-zero update (it contributes no coordinate:
    /// its counts are 0), leaving at `leave` and lying as `lie` says.
    final class ScriptedDevice {
        enum Leave { case afterAdvertise, afterDeal, afterMasked, never }
        enum Lie { case none, wrongLength, badShare }
        let leave: Leave, lie: Lie
        var round: DeviceSecureRound?
        init(leave: Leave, lie: Lie = .none) { self.leave = leave; self.lie = lie }

        func answer(_ peer: RawPeer, _ m: WireMessage) throws -> [WireMessage] {
            switch m {
            case let .task(t) where t.hasSecureAggregation:
                let r = try DeviceSecureRound(device: t.deviceID, round: t.round, delta: SparseDelta([]), weight: 1, setup: t.secureAggregation,
                                              schema: peer.schema, secretSeed: [UInt8](repeating: 7, count: 32), valueSeed: 1)
                round = r
                return [.secAgg(r.advertise())]
            case let .secAgg(s):
                guard let r = round else { return [] }
                switch s.header.phase {
                case .keys: return leave == .afterAdvertise ? [] : [.secAgg(try r.deal(s))]
                case .shares:
                    if leave == .afterDeal { return [] }
                    var y = try r.masked(s)
                    if lie == .wrongLength { y.masked.removeLast(); y.header.maskedLength -= 1 }
                    return [.secAgg(y)]
                case .unmaskRequest:
                    if leave == .afterMasked { return [] }
                    var u = try r.unmask(s)
                    if lie == .badShare, !u.header.selfMaskShares.isEmpty { u.header.selfMaskShares[0].values[0] = (u.header.selfMaskShares[0].values[0] + 1) % ((1 << 61) - 1) }
                    return [.secAgg(u)]
                default: return []
                }
            default: return []
            }
        }
    }

    func testDropoutsAfterKeySharingAndAfterTheMaskedInputAreSurvivedBitwise() throws {
        // 8 devices, 2 of them raw: dev-06 leaves after dealing its shares (its mask key is
        // rebuilt), dev-07 after its masked input (its self mask is rebuilt; its zero input
        // adds nothing). The control: both decline their tasks.
        var config = Self.config(devices: 8, rounds: 2)
        config.secureAggregation.phaseDeadlineMs = 1_500
        let scripted = ["dev-06": ScriptedDevice(leave: .afterDeal), "dev-07": ScriptedDevice(leave: .afterMasked)]
        let (fleet, _) = try run("dropouts", config, raw: scripted.mapValues { $0.answer })
        let (control, _) = try run("dropouts-control", config, raw: scripted.mapValues { _ in InProcessFleet.decline })
        for m in try fleet.metrics() {
            let s = try XCTUnwrap(m.secureAggregation)
            XCTAssertNil(s.failure, "round \(m.round) unmasked")
            XCTAssertEqual(s.advertised, 8); XCTAssertEqual(s.dealt, 8); XCTAssertEqual(s.maskedInputs, 7)
            XCTAssertTrue(s.dropped["dev-06"]?.contains("MASKED") ?? false, "\(s.dropped)")
            XCTAssertTrue(s.dropped["dev-07"]?.contains("UNMASK") ?? false, "\(s.dropped)")
            XCTAssertTrue(Set(m.reporting).isSuperset(of: (0..<6).map { String(format: "dev-%02d", $0) }))
        }
        XCTAssertTrue(fleet.model == control.model, "the survivors' sum is exact: the model equals the run without the two")
        XCTAssertEqual(try fleet.writtenSummary().secureAggregation?.dropoutsSurvived, 4)
    }

    func testFewerThanThresholdSurvivorsRefuseTheRoundAndKeepThePreviousModel() throws {
        // 3 devices (k = 2, t = 2); two leave after advertising their keys: one dealer is left.
        var config = Self.config(devices: 3, rounds: 2)
        config.secureAggregation.phaseDeadlineMs = 1_000
        let (fleet, _) = try run("below-t", config, raw: ["dev-01": ScriptedDevice(leave: .afterAdvertise).answer,
                                                          "dev-02": ScriptedDevice(leave: .afterAdvertise).answer])
        for m in try fleet.metrics() {
            XCTAssertTrue(m.notApplied?.contains("secure aggregation") ?? false, "\(String(describing: m.notApplied))")
            XCTAssertTrue(m.secureAggregation?.failure?.contains("2") ?? false, "names the threshold: \(String(describing: m.secureAggregation?.failure))")
            XCTAssertEqual(m.modelVersion, 1, "nothing applied")
        }
        let initial = try SafeTensors.read(path: fleet.folder + "/model-initial.safetensors")
        let final = try SafeTensors.read(path: fleet.folder + "/model-final.safetensors")
        XCTAssertEqual(Set(initial.tensors.keys), Set(final.tensors.keys))
        XCTAssertTrue(initial.tensors.allSatisfy { final.tensors[$0.key] == $0.value }, "the previous model is kept")
        let summary = try fleet.writtenSummary()
        XCTAssertEqual(summary.refusedRounds, 2)
        XCTAssertEqual(summary.secureAggregation?.refusedRounds, 2)
    }

    func testAWrongLengthVectorAndABrokenShareAreRefusedWithErrorAndTheRoundGoesOn() throws {
        // dev-06 sends a masked vector one element short (refused: it counts as dropped after
        // dealing); dev-07 answers the unmask request with a share that does not match its
        // dealer's commitment (refused; the other shares suffice). The model equals the run in
        // which both decline.
        var config = Self.config(devices: 8, rounds: 2)
        config.secureAggregation.phaseDeadlineMs = 1_500
        let scripted = ["dev-06": ScriptedDevice(leave: .never, lie: .wrongLength), "dev-07": ScriptedDevice(leave: .never, lie: .badShare)]
        let (fleet, peers) = try run("liars", config, raw: scripted.mapValues { $0.answer })
        let (control, _) = try run("liars-control", config, raw: scripted.mapValues { _ in InProcessFleet.decline })
        XCTAssertEqual(peers["dev-06"]!.errors.filter { $0.code == .malformed && $0.message.contains("masked vector of") }.count, 2, "\(peers["dev-06"]!.errors.map(\.message))")
        XCTAssertEqual(peers["dev-07"]!.errors.filter { $0.code == .malformed && $0.message.contains("does not match") }.count, 2,
                       "\(peers["dev-07"]!.errors.map(\.message))")
        for m in try fleet.metrics() {
            XCTAssertNil(m.secureAggregation?.failure, "round \(m.round) goes on")
            XCTAssertTrue(Set(m.reporting).isSuperset(of: (0..<6).map { String(format: "dev-%02d", $0) }))
            XCTAssertFalse(m.reporting.contains("dev-06"))
        }
        XCTAssertTrue(fleet.model == control.model, "nothing of the liars reached the model")
    }

    func testAnHonestDevicesMaskedVectorLooksUniformToTheCoordinator() throws {
        // What the coordinator receives from dev-00 (a sparse update: most of its vector is 0
        // before masking): chi-square of the top 6 bits over 64 bins (the tiny model's vector has
        // about 1,900 elements: 30 per bin); 63 degrees of freedom, 0.1 % critical value 103.4.
        // Seeded, so the statistic is fixed; it is printed.
        let seen = Locked<[UInt32]>([])
        let config = Self.config(devices: 4)
        let (fleet, _) = try run("uniform", config, observe: { id, v in if id == "dev-00" { seen.withLock { $0 = v } } })
        let v = seen.withLock { $0 }
        let bits = try XCTUnwrap(try fleet.metrics().first?.secureAggregation).ringBits
        XCTAssertGreaterThan(v.count, 1_000)
        var bins = [Int](repeating: 0, count: 64)
        for x in v { bins[Int(x >> UInt32(bits - 6))] += 1 }
        let expected = Double(v.count) / 64
        let chi2 = bins.reduce(0.0) { $0 + (Double($1) - expected) * (Double($1) - expected) / expected }
        print("coordinator's view of dev-00: \(v.count) ring elements of \(bits) bits, chi-square (63 dof) \(chi2)")
        XCTAssertLessThan(chi2, 103.4)
    }

    func testSystemRandomnessRunsTheProtocolWithSecretsNoSeedGives() throws {
        var config = Self.config(devices: 4)
        config.secureAggregation.randomness = .system
        let seen = Locked<[[UInt32]]>([])
        let observe: (String, [UInt32]) -> Void = { id, v in if id == "dev-00" { seen.withLock { $0.append(v) } } }
        let (a, _) = try run("system-a", config, observe: observe)
        let (b, _) = try run("system-b", config, observe: observe)
        XCTAssertNil(try a.metrics().first?.secureAggregation?.failure)
        let vectors = seen.withLock { $0 }
        XCTAssertEqual(vectors.count, 2)
        XCTAssertNotEqual(vectors.first, vectors.last, "the masks came from the system's generator, not the seed")
        // The stochastic rounding is seeded either way, so the unmasked aggregate (and the model)
        // is the same: only the protocol's secrets changed.
        XCTAssertTrue(a.model == b.model)
    }

    func testASecureRunIsBitwiseReproducibleFromItsSeed() throws {
        let config = Self.config(devices: 5, rounds: 2)
        let (a, _) = try run("repro-a", config)
        let (b, _) = try run("repro-b", config)
        XCTAssertTrue(a.model == b.model)
        XCTAssertEqual(try a.metrics().map(\.testAccuracy), try b.metrics().map(\.testAccuracy))
        XCTAssertEqual(try a.metrics().map { $0.secureAggregation?.touchedCoordinates }, try b.metrics().map { $0.secureAggregation?.touchedCoordinates })
    }

    func testDealtModesMaskOnlyTheirPublicBlocksAndUploadLess() throws {
        var bytes: [SecureAggregationMode: Double] = [:]
        for mode in [SecureAggregationMode.candidates, .dealt, .dealtDGSU] {
            var config = Self.config(devices: 6, mode: mode, rounds: 2)
            config.secureAggregation.groupSize = 3
            let (fleet, _) = try run("mode-\(mode.rawValue)", config)
            let metrics = try fleet.metrics()
            for m in metrics {
                let s = try XCTUnwrap(m.secureAggregation)
                XCTAssertNil(s.failure, "\(mode) round \(m.round)")
                XCTAssertEqual(m.reporting.count, 6)
                if mode != .candidates {
                    XCTAssertEqual(s.neighbours, 2, "\(mode): a device masks with the others of its group of 3")
                    XCTAssertLessThan(s.maskedLengthPerDevice, Double(s.sumLength), "\(mode): a block, not every candidate")
                }
            }
            bytes[mode] = try fleet.writtenSummary().secureAggregation?.meanUplinkBytesPerDevice
        }
        print("uplink per device per round: \(bytes)")
        XCTAssertLessThan(bytes[.dealt]!, bytes[.dealtDGSU]!)
        XCTAssertLessThan(bytes[.dealtDGSU]!, bytes[.candidates]!)
    }

    func testDistributedNoiseSharesAddUpToTheFullNoiseOfTheSum() throws {
        try noiseOfTheSum(.distributed)
    }

    func testCentralNoiseIsAddedToTheUnmaskedSum() throws {
        try noiseOfTheSum(.central)
    }

    /// Devices that barely train (lr 1e-9, so their clipped deltas are ~0) under DP with secure
    /// aggregation. Distributed: each adds N(0, z²S²/n) before masking; central: the coordinator
    /// adds N(0, z²S²) to the unmasked sum. Either way the model moves by the noise of the sum
    /// alone, N(0, z²S²) / qN per candidate coordinate (q = 1 here: qN = n), whose empirical
    /// standard deviation over the candidate coordinates must be zS/n within 10 %.
    func noiseOfTheSum(_ mode: PrivacyMode, file: StaticString = #filePath, line: UInt = #line) throws {
        var config = Self.config(devices: 5)
        config.deviceDefaults.learningRate = 1e-9
        config.privacy.mode = mode
        config.privacy.clip = 0.5
        config.privacy.noiseMultiplier = 2
        config.privacy.sampling = .fixed
        let (fleet, _) = try run("noise-\(mode.rawValue)", config)
        let initial = try SafeTensors.read(path: fleet.folder + "/model-initial.safetensors")
        let final = try SafeTensors.read(path: fleet.folder + "/model-final.safetensors")
        var moves: [Double] = []
        for (name, t) in final.tensors.sorted(by: { $0.key < $1.key }) {
            guard let before = initial.tensors[name] else { continue }
            for (a, b) in zip(t.data, before.data) where a != b { moves.append(Double(a - b)) }
        }
        let m = try XCTUnwrap(try fleet.metrics().first?.secureAggregation)
        XCTAssertEqual(m.noiseStddev, mode == .distributed ? 2 * 0.5 / 5.0.squareRoot() : 0, accuracy: 1e-12, "each device's share: zS/√n", file: file, line: line)
        let mean = moves.reduce(0, +) / Double(moves.count)
        let sd = (moves.reduce(0) { $0 + ($1 - mean) * ($1 - mean) } / Double(moves.count - 1)).squareRoot()
        print("\(mode.rawValue) DP under secure aggregation: \(moves.count) coordinates moved, sd \(sd), expected zS/n = \(2 * 0.5 / 5)")
        XCTAssertGreaterThan(moves.count, 1_000, file: file, line: line)
        XCTAssertEqual(sd, 2 * 0.5 / 5, accuracy: 0.1 * 2 * 0.5 / 5, file: file, line: line)
        let privacy = try XCTUnwrap(try fleet.writtenSummary().privacy)
        XCTAssertEqual(privacy.mode, mode.rawValue, file: file, line: line)
        if mode == .distributed { XCTAssertTrue(privacy.guarantee.contains("at least t"), privacy.guarantee, file: file, line: line) }
        // Accounted exactly as central DP with the same z, q and rounds.
        var central = config
        central.privacy.mode = .central
        XCTAssertEqual(privacy.epsilon, PrivacySpend(config: central, noiseMultiplier: 2, rounds: 1).epsilon)
    }

    func testDealtDGSUTrainsOnlyInsideItsBlock() throws {
        // The plan deals each group a block of blockFactor × the per-step channels; a device's
        // DGSU then picks every step inside it, so its update touches only block channels.
        var c = Self.config(devices: 6, mode: .dealtDGSU)
        c.secureAggregation.blockFactor = 2
        c.secureAggregation.groupSize = 3
        let train = try FederatedData.trainingSet(c)
        let arch = DevicePlans.architecture(c, classes: train.classes)
        let schema = ModelTensors.schema(arch)
        var layouts: [String: SparseLayout] = [:], weights: [String: UInt64] = [:]
        let shards = try FederatedData.shards(c, labels: train.labels, classes: train.classes)
        for d in c.resolvedDevices {
            layouts[d.id] = try DevicePlans.layout(d, arch: arch, resolution: c.model.resolution)
            weights[d.id] = UInt64(shards[d.id]!.train.count)
        }
        let plan = try SecureRoundPlan.make(round: 3, sampled: c.devices.map(\.id), config: c, layouts: layouts, weights: weights,
                                            arch: arch, schema: schema, noiseMultiplier: 0)
        XCTAssertEqual(plan.groups.map(\.count), [3, 3])
        XCTAssertTrue(plan.assignments.isEmpty, "dealt+dgsu trains no fixed channels")
        let setup = plan.setups["dev-01"]!
        let layout = layouts["dev-01"]!
        for a in setup.block {
            let u = schema.position(of: a.tensor)! / 2
            XCTAssertEqual(a.channels.count, min(2 * layout.weightChannels[u]!, arch.units[u].inChannels), "\(a.tensor): a block of 2 × k channels")
        }
        let device = try VirtualDevice(settings: c.device("dev-01")!, index: 1, shard: shards["dev-01"]!, train: train, config: c, arch: arch)
        let net = try DevicePlans.initialModel(c, classes: train.classes)
        var task = PBTask()
        task.round = 3; task.deviceID = "dev-01"; task.modelVersion = 1; task.localSteps = 6; task.learningRate = 0.05; task.batchSize = 4
        task.secureAggregation = setup
        let outcome = try device.run(task: task, global: net, version: 1)
        var trainedWeights = 0
        for a in setup.block {
            guard let sent = outcome.update.delta.tensors.first(where: { $0.name == a.tensor }) else { continue }
            trainedWeights += 1
            guard case let .subset(list) = sent.channels else { return XCTFail("\(a.tensor): every channel trained, the block is a subset") }
            XCTAssertTrue(Set(list).isSubset(of: a.channels.map(Int.init)), "\(a.tensor): trained \(list), block \(a.channels)")
        }
        XCTAssertGreaterThan(trainedWeights, 0)
        // The update encodes under its own setup (a channel outside the block would be refused).
        var rng = SystemRandomNumberGenerator()
        XCTAssertNoThrow(try SecureRoundPlan.encoding(setup, schema: schema).encode(outcome.update.delta, weight: 10, using: &rng))
    }

    func testADealtGroupThatLostTooManyIsLeftOutAndTheOtherGroupIsApplied() throws {
        // 6 devices in 2 groups of 3 (t = 2): dev-05 leaves after dealing, so its group's two
        // survivors cannot rebuild each other's self masks. That group is left out whole; the
        // other group's block is applied.
        var config = Self.config(devices: 6, mode: .dealt)
        config.secureAggregation.groupSize = 3
        config.secureAggregation.phaseDeadlineMs = 1_000
        let (fleet, _) = try run("group-left-out", config, raw: ["dev-05": ScriptedDevice(leave: .afterDeal).answer])
        let m = try XCTUnwrap(try fleet.metrics().first)
        let s = try XCTUnwrap(m.secureAggregation)
        XCTAssertNil(s.failure, "the round is applied")
        XCTAssertEqual(m.reporting.count, 3, "the other group: \(m.reporting)")
        XCTAssertEqual(s.dropped.count, 3, "\(s.dropped)")
        XCTAssertEqual(s.dropped.values.filter { $0.contains("left out") }.count, 2)
        XCTAssertEqual(m.modelVersion, 2)
    }
}
