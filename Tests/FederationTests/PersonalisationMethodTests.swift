// personalisation.method: local, finetune, fedper, fedrep and ditto, each on the real services
// (the in-process fleet) or on the device itself, against what the method promises.
import Engine
@testable import Federation
import Foundation
import Wire
import XCTest

final class PersonalisationMethodTests: XCTestCase {
    /// The in-process fleet's configuration under `method`, without CURVE.
    func config(_ method: PersonalisationMethod, rounds: Int = 2) -> FederationConfig {
        var c = InProcessFleet.config(curve: false, rounds: rounds)
        c.personalisation.method = method
        return c
    }

    /// Runs every configured device (the rogue's id served by an honest node too, so that the
    /// join wait ends at once) against the coordinator.
    func run(_ name: String, _ c: FederationConfig) throws -> (InProcessFleet, RunSummary) {
        let fleet = try InProcessFleet(name, config: c)
        fleet.startCoordinator()
        try fleet.startHonestNodes()
        try fleet.startNode("node-c", devices: [InProcessFleet.rogueDevice])
        return (fleet, try fleet.wait())
    }

    /// Every device id of the in-process configuration.
    let everyDevice: Set<String> = ["dev-0", "dev-1", "dev-2", InProcessFleet.rogueDevice]

    /// One device of `c` with its data.
    func device(_ c: FederationConfig, _ id: String = "dev-0") throws -> (VirtualDevice, Network) {
        let train = try FederatedData.trainingSet(c)
        let arch = DevicePlans.architecture(c, classes: train.classes)
        let shards = try FederatedData.shards(c, labels: train.labels, classes: train.classes)
        let index = c.resolvedDevices.firstIndex { $0.id == id }!
        let d = try VirtualDevice(settings: c.device(id)!, index: index, shard: shards[id]!, train: train, config: c, arch: arch)
        return (d, try DevicePlans.initialModel(c, classes: train.classes))
    }

    func task(_ round: UInt64, _ id: String, steps: UInt32 = 6) -> PBTask {
        var t = PBTask()
        t.round = round; t.deviceID = id; t.modelVersion = 1; t.localSteps = steps; t.learningRate = 0.05; t.batchSize = 4
        return t
    }

    func testLocalNeverSendsAnUpdateAndTheModelStays() throws {
        let c = config(.local)
        let initial = try DevicePlans.initialModel(c, classes: FederatedData.trainingSet(c).classes)
        let (fleet, summary) = try run("local", c)
        let metrics = try fleet.metrics()
        XCTAssertEqual(metrics.count, 2)
        for m in metrics {
            XCTAssertTrue(m.updateBytes.isEmpty, "round \(m.round): a local device sent an UPDATE")
            XCTAssertEqual(m.refusedMessages, 0, "round \(m.round): the coordinator refused something (an UPDATE would be)")
            XCTAssertEqual(Set(m.reporting), everyDevice, "round \(m.round): every live device reports its local steps")
            XCTAssertTrue(m.failed.isEmpty, "round \(m.round): \(m.failed)")
            XCTAssertFalse(m.skipped)
        }
        XCTAssertEqual(fleet.model, ModelTensors.values(initial), "local: the global model must stay the initial one")
        XCTAssertEqual(summary.modelVersion, 1)
        XCTAssertEqual(summary.personalisationMethod, "local")
        XCTAssertEqual(Set(summary.personalFinal.keys), everyDevice)
        XCTAssertEqual(Set((summary.personalInitial ?? [:]).keys), everyDevice)
        for (id, peak) in summary.peakMemory ?? [:] { XCTAssertGreaterThan(peak, 0, id) }
        // The devices trained: their own models moved away from where they started.
        let moved = summary.personalFinal.filter { summary.personalInitial?[$0.key] != $0.value }
        XCTAssertFalse(moved.isEmpty, "local training changed no device's accuracy: did it train?")
    }

    func testLocalDevicesKeepTheirOwnModelAcrossRounds() throws {
        let c = config(.local)
        let (d, net) = try device(c)
        let first = try d.run(task: task(1, "dev-0"), global: net, version: 1)
        XCTAssertTrue(first.update.delta.tensors.isEmpty, "a local device has nothing to send")
        let second = try d.run(task: task(2, "dev-0"), global: net, version: 1)
        XCTAssertEqual(second.personalBefore, first.personalAfter, "round 2 must start from the device's own model, not the global one")
    }

    func testACoordinatorOfALocalRunRefusesUpdatesAndAFederatedOneRefusesLocalReports() throws {
        for method in [PersonalisationMethod.local, .fedper] {
            var c = config(method, rounds: 1)
            c.rounds.deadlineMs = 4_000  // the lying device's task stays open until then under fedper
            let fleet = try InProcessFleet("refuse-\(method.rawValue)", config: c)
            fleet.startCoordinator()
            let peer = RawPeer(fleet, identity: "node-b#0", key: nil)
            try peer.join(node: "node-b", devices: ["dev-2"])
            try fleet.startNode("node-a", devices: ["dev-0", "dev-1"])
            try fleet.startNode("node-c", devices: [InProcessFleet.rogueDevice])
            let lie: (RawPeer, WireMessage) throws -> [WireMessage] = { p, m in
                guard case let .task(t) = m else { return [] }
                var metrics = PBMetrics()
                metrics.deviceID = t.deviceID; metrics.round = t.round; metrics.modelVersion = t.modelVersion
                metrics.values = [MetricKey.localDone: 1, MetricKey.personalAfter: 0.5]
                var tooMany = metrics
                tooMany.values[MetricKey.trainSteps] = 1_000  // the TASK asked for 6
                let update = UpdateMessage(deviceID: t.deviceID, round: t.round, baseModelVersion: t.modelVersion, sampleCount: 10,
                                           metrics: PBTrainingMetrics(), delta: SparseDelta([]))
                return method == .local ? [.metrics(tooMany), .update(update)] : [.metrics(metrics)]
            }
            let served = peer.serveInBackground(answer: lie)
            let summary = try fleet.wait()
            _ = served.wait(timeout: .now() + 10)
            XCTAssertEqual(summary.rounds, 1)
            let m = try XCTUnwrap(fleet.metrics().first)
            XCTAssertGreaterThanOrEqual(m.refusedMessages, method == .local ? 2 : 1, "\(method): every lie must be refused")
            XCTAssertFalse(m.reporting.contains("dev-2"), "\(method): a refused report must not count")
            XCTAssertEqual(Set(m.reporting), everyDevice.subtracting(["dev-2"]), "\(method): the honest devices' work must stand")
        }
    }

    func testEveryFederatedMethodsUpdatesAreAdmittedByTheCoordinator() throws {
        for method in [PersonalisationMethod.finetune, .fedper, .fedrep, .ditto] {
            var c = config(method)
            c.deviceDefaults.budget = 4 << 20  // room for Ditto's copy
            let (fleet, summary) = try run("admitted-\(method.rawValue)", c)
            for m in try fleet.metrics() {
                XCTAssertEqual(m.refusedMessages, 0, "\(method) round \(m.round): the coordinator refused a message")
                XCTAssertEqual(Set(m.updateBytes.keys), everyDevice, "\(method) round \(m.round): every device's UPDATE must be aggregated")
            }
            XCTAssertEqual(summary.modelVersion, 3, "\(method): two rounds applied")
            XCTAssertEqual(Set(summary.personalFinal.keys), everyDevice)
        }
    }

    func testMethodsThatCannotWorkAreRefusedWithTheFix() {
        var fedrep = config(.fedrep)
        fedrep.deviceDefaults.policy = .head
        XCTAssertThrowsError(try fedrep.validate()) { XCTAssertTrue("\($0)".contains("no body to share"), "\($0)") }
        var local = config(.local)
        local.privacy.mode = .central
        XCTAssertThrowsError(try local.validate()) { XCTAssertTrue("\($0)".contains("nothing to protect"), "\($0)") }
        var attacked = config(.ditto)
        attacked.attacks.membership = true
        XCTAssertThrowsError(try attacked.validate()) { XCTAssertTrue("\($0)".contains("not replayed yet"), "\($0)") }
        var personal = config(.finetune)
        personal.personalisation.personal = .head
        XCTAssertThrowsError(try personal.validate()) { XCTAssertTrue("\($0)".contains("FedPer's setting"), "\($0)") }
    }

    func testFinetuneLeavesTheGlobalModelUnchanged() throws {
        var tuned = config(.finetune)
        tuned.personalisation.finetuneSteps = 10
        let (fa, sa) = try run("finetune", tuned)
        let (fb, sb) = try run("fedavg", config(.fedper))
        XCTAssertEqual(fa.model, fb.model, "fine-tuning after the last round must not reach the global model")
        XCTAssertEqual(sa.testAccuracy, sb.testAccuracy)
        XCTAssertEqual(Set(sa.personalFinal.keys), Set(sb.personalFinal.keys))
        XCTAssertNotEqual(sa.personalFinal, sb.personalFinal, "the fine-tuned copies must be what is measured")

        // On the device: measuring twice gives the same answer, and the model passed in is intact.
        let (d, net) = try device(tuned)
        let before = ModelTensors.values(net)
        let a = try d.evaluateFinal(global: net), b = try d.evaluateFinal(global: net)
        XCTAssertEqual(a, b, "a final fine-tune must start from the global model every time")
        XCTAssertEqual(ModelTensors.values(net), before)
    }

    func testFedRepTrainsTheHeadAloneThenTheBodyWithTheHeadFrozen() throws {
        let c = config(.fedrep)
        let (d, net) = try device(c)
        let arch = net.arch
        let n = arch.units.count
        let classifier: Set<Int> = [2 * n, 2 * n + 1]
        let body = ModelTensors.trainableTensors(d.layout, arch: arch).subtracting(classifier)
        XCTAssertFalse(body.isEmpty, "the test layout must have a body to train")
        let s = DeviceSession(id: 0, shard: Array(0..<d.trainData.count), network: net,
                              policy: FedRepBodyPhase(inner: PolicyFactory.make(.dgsu, layout: d.layout, network: net, seed: 1)),
                              layout: d.layout, dynamic: true, seed: 1)
        let cfg = LocalTrainingConfig(batch: 4, learningRate: 0.05, memory: MemoryOptions(precision: .fp32))
        var between: Network?
        let r = try FedRepTask.train(s, headSteps: 3, bodySteps: 4, schedule: .constant, config: cfg,
                                     source: .images(d.trainData, Preprocessing.imageNet(size: 16)), trainer: Trainer()) { between = $0 }
        XCTAssertEqual(r.headSteps, 3)
        XCTAssertEqual(r.body.steps, 4)
        let mid = try XCTUnwrap(between), end = s.network
        for i in body { XCTAssertEqual(ModelTensors.tensor(mid, i), ModelTensors.tensor(net, i), "head phase touched body tensor \(i)") }
        for i in classifier { XCTAssertNotEqual(ModelTensors.tensor(mid, i), ModelTensors.tensor(net, i), "head phase left the head \(i) alone") }
        for i in classifier { XCTAssertEqual(ModelTensors.tensor(end, i), ModelTensors.tensor(mid, i), "body phase touched the head \(i)") }
        XCTAssertTrue(body.contains { ModelTensors.tensor(end, $0) != ModelTensors.tensor(mid, $0) }, "body phase trained nothing")

        // On the device: the head stays personal, the UPDATE carries the body only.
        let o = try d.run(task: task(1, "dev-0"), global: net, version: 1)
        let names = Set(o.update.delta.tensors.map(\.name))
        let schema = ModelTensors.schema(arch)
        XCTAssertTrue(classifier.allSatisfy { !names.contains(schema.tensors[$0].name) }, "the personal head must not leave the device")
        XCTAssertFalse(names.isEmpty)
        XCTAssertEqual(o.update.metrics.steps, 6, "the UPDATE counts the steps behind the shared delta (the coordinator bounds them by the TASK's)")
    }

    /// Ditto's personal model v after `rounds` tasks at `lambda`, and the global model.
    func dittoModel(lambda: Double, rounds: UInt64 = 2) throws -> (VirtualDevice, Network, Network) {
        var c = config(.ditto)
        c.personalisation.lambda = lambda
        c.deviceDefaults.memory.precision = .fp32
        c.deviceDefaults.budget = 64 << 20
        let (d, net) = try device(c)
        for r in 1...rounds { _ = try d.run(task: task(r, "dev-0"), global: net, version: 1) }
        return (d, net, d.personalModel(net))
    }

    func testDittoMovesTowardsTheGlobalModelAsLambdaGrows() throws {
        var distances: [Double] = []
        for lambda in [0.0, 1, 10, 100, 1e6] {
            let (d, global, v) = try dittoModel(lambda: lambda)
            var sq = 0.0
            for i in ModelTensors.trainableTensors(d.layout, arch: global.arch) {
                for (a, b) in zip(ModelTensors.tensor(v, i), ModelTensors.tensor(global, i)) { sq += Double(a - b) * Double(a - b) }
            }
            distances.append(sq.squareRoot())
        }
        XCTAssertGreaterThan(distances[0], 1e-3, "λ = 0 must train v away from w, or this test proves nothing")
        for k in 1..<distances.count { XCTAssertLessThan(distances[k], distances[k - 1], "‖v − w‖ must shrink as λ grows: \(distances)") }
        // λ → ∞: v is w, within 1e-4 of ‖v − w‖ at λ = 0 (c = ηλ = 5·10⁴ per step).
        XCTAssertLessThan(distances.last!, 1e-4 * distances[0], "\(distances)")
    }

    func testDittoSharesTheFedAvgUpdateAndReportsItsPersonalModel() throws {
        func fp32(_ m: PersonalisationMethod) -> FederationConfig {
            var c = config(m)
            c.deviceDefaults.memory.precision = .fp32
            c.deviceDefaults.budget = 64 << 20
            return c
        }
        let (plain, net) = try device(fp32(.fedper))
        let (ditto, _) = try device(fp32(.ditto))
        var last: TaskOutcome?
        for r: UInt64 in 1...2 {
            let a = try plain.run(task: task(r, "dev-0"), global: net, version: 1)
            let b = try ditto.run(task: task(r, "dev-0"), global: net, version: 1)
            XCTAssertEqual(a.update.delta, b.update.delta, "round \(r): Ditto's UPDATE must be FedAvg's; its personal model is a separate copy")
            // Ditto measures v, which carries over the rounds: it starts where it ended.
            if let last { XCTAssertEqual(b.personalBefore, last.personalAfter, "round \(r): Ditto reports its personal model, not the shared one") }
            last = b
            XCTAssertEqual(b.update.metrics.steps, a.update.metrics.steps, "the UPDATE counts the shared steps only")
            XCTAssertGreaterThan(b.update.metrics.peakMemoryBytes, a.update.metrics.peakMemoryBytes, "the personal copy is charged")
        }
        XCTAssertNotEqual(ModelTensors.values(ditto.personalModel(net)), ModelTensors.values(net), "v must have trained")
    }

    func testAnInt8DittoDeviceRoundsItsPullToItsGrid() throws {
        var c = config(.ditto)
        c.personalisation.lambda = 1e6
        let (d, net) = try device(c)
        _ = try d.run(task: task(1, "dev-0"), global: net, version: 1)
        let v = d.personalModel(net)
        var c0 = c
        c0.personalisation.lambda = 0
        let (d0, _) = try device(c0)
        _ = try d0.run(task: task(1, "dev-0"), global: net, version: 1)
        let v0 = d0.personalModel(net)
        func distance(_ a: Network) -> Double {
            var sq = 0.0
            for i in ModelTensors.trainableTensors(d.layout, arch: net.arch) {
                for (x, y) in zip(ModelTensors.tensor(a, i), ModelTensors.tensor(net, i)) { sq += Double(x - y) * Double(x - y) }
            }
            return sq.squareRoot()
        }
        XCTAssertGreaterThan(distance(v0), 0)
        // The int8 grid of the global weights: a pulled weight lands on w's grid point or a neighbour.
        XCTAssertLessThan(distance(v), 0.2 * distance(v0), "int8 λ → ∞: \(distance(v)) against \(distance(v0)) at λ = 0")
    }
}
