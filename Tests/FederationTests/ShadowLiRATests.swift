// LiRA with shadow models trained by the node's own path (ShadowModels, NodeShadows): a known
// leak is found, a target that never saw the members is chance, the shadows are deterministic and
// do not depend on the node, and the attack changes neither the model nor any device's state.
//
// References: N. Carlini et al., IEEE S&P 2022 (LiRA offline); H. B. Mann, D. R. Whitney 1947
// (the AUC's null variance, RankAUC.nullStandardError).
import Engine
@testable import Federation
import Foundation
import Privacy
import Wire
import XCTest

final class ShadowLiRATests: XCTestCase {
    let arch = MobileNetV2.tiny()
    /// One synthetic distribution: 0..<16 members, 16..<216 held out, 216..<616 two unseen sets of
    /// 200, 616..<696 the 16-sample training sets of other models (the target of the null case,
    /// then the shadows').
    let data = SyntheticImages.make(count: 696, classes: 10, channels: 3, size: 16, seed: 31)
    let pre = Preprocessing.imageNet(size: 16)
    let members = Array(0..<16), heldOut = Array(16..<216), unseenA = Array(216..<416), unseenB = Array(416..<616)
    let others = Array(616..<632), shadowPool = Array(632..<696)

    /// A group that trains a lot of the tiny net: full-batch (16) SGD under a 1 MB budget.
    var settings: ResolvedDevice {
        var d = DeviceDefaults()
        d.budget = 1 << 20
        d.policy = .static
        d.batch = 16
        d.learningRate = 0.05
        d.search.ratio = 1
        d.search.maxWeightLayers = 12
        return ResolvedDevice(DeviceConfig(id: "g"), defaults: d)
    }

    func confidences(_ net: Network, _ cache: FeatureCache, _ indices: [Int]) -> [Double] {
        Evaluator.perExample(net, cache: cache, labels: data.labels, indices: indices, size: 16).trueClassProbabilities
    }

    func testAnOverfittedTargetLeaksAndOneThatNeverSawTheMembersDoesNot() throws {
        let s = settings
        let layout = try DevicePlans.layout(s, arch: arch, resolution: 16)
        let block = DevicePlans.startBlock(layout, arch: arch)
        let start = Network(arch: arch, seed: 2).folded()
        let cache = FeatureCache(net: start, data: data, preprocessing: pre, block: block,
                                 arithmetic: .forPrecision(s.memory.precision, net: start, data: data, preprocessing: pre))
        let steps = 300
        let target = try ShadowModels.train(from: start, settings: s, layout: layout, cache: cache, labels: data.labels,
                                            samples: members, steps: steps, seed: 5, size: 16)
        let unseen = try ShadowModels.train(from: start, settings: s, layout: layout, cache: cache, labels: data.labels,
                                            samples: others, steps: steps, seed: 6, size: 16)
        // 4 shadows on 16 samples each of a pool no target trained on.
        let shadows = try ShadowModels(start: start, settings: s, layout: layout, block: block, aux: data,
                                       samples: (0..<4).map { j in ShadowModels.sample(16, of: shadowPool.count, seed: UInt64(40 + j)).map { shadowPool[$0] } },
                                       seeds: [41, 42, 43, 44], steps: steps, preprocessing: pre)
        let out = shadows.confidences(data)
        let lira = LiRAOffline(variance: .global)
        func attack(_ net: Network, _ m: [Int], _ n: [Int]) -> MembershipMetrics {
            lira.metrics(members: confidences(net, cache, m), memberOut: m.map { out[$0] }, nonMembers: confidences(net, cache, n), nonMemberOut: n.map { out[$0] })
        }
        let leak = attack(target, members, heldOut)
        let null = attack(unseen, unseenA, unseenB)
        let loss = LossThresholdAttack.metrics(memberLosses: confidences(target, cache, members).map { -log($0) },
                                               nonMemberLosses: confidences(target, cache, heldOut).map { -log($0) })
        print(String(format: "shadow LiRA: overfitted AUC %.4f, TPR@1%%FPR %.3f (loss attack %.4f, %.3f); never-seen AUC %.4f (null SE %.4f)",
                     leak.auc, leak.tprAtFPR1Percent, loss.auc, loss.tprAtFPR1Percent, null.auc, null.aucNullStandardError))
        // 16 + 200: null SE √(217/(12·16·200)) = 0.075, so 0.75 is 3.3 of them above chance (0.80
        // measured). LiRA's AUC stays below the loss attack's (0.95) here: these synthetic samples
        // hardly differ in difficulty, so per-example calibration has little to remove, while
        // shadows fitted to 16 samples disagree widely on unseen ones (pooled σ_out ≈ 5 in φ).
        XCTAssertGreaterThan(leak.auc, 0.75, "a model fitted to 16 samples for 300 full-batch steps leaks them")
        // 200 + 200: null SE √(401/(12·200·200)) = 0.0289; 4 SE = 0.116 (two-sided p ≈ 6e-5 under no leak).
        XCTAssertEqual(null.auc, 0.5, accuracy: 4 * null.aucNullStandardError, "neither set was trained on")
    }

    /// Three devices, one per group (dgsu, random, static), with personal heads and biases.
    func fleetConfig() throws -> FederationConfig {
        try FederationConfig.parse(Data(#"""
        {"seed": 11, "model": {"name": "tiny", "resolution": 16}, "dataset": {"name": "synthetic", "syntheticCount": 600},
         "partition": {"kind": "dirichlet", "alpha": 1.0, "minShard": 20},
         "deviceDefaults": {"localSteps": 5, "batch": 4, "learningRate": 0.05},
         "devices": [{"id": "dev-0", "policy": "dgsu"}, {"id": "dev-1", "policy": "random"}, {"id": "dev-2", "policy": "static"}],
         "personalisation": {"personal": "head+biases"}, "attacks": {"membership": true, "shadowModels": 3},
         "rounds": {"count": 2}}
        """#.utf8))
    }

    func testTheAttackChangesNeitherTheModelNorAnyDeviceAndShadowsDoNotDependOnTheNode() throws {
        let c = try fleetConfig()
        try c.validate()
        let train = try FederatedData.trainingSet(c)
        let arch = DevicePlans.architecture(c, classes: train.classes)
        let shards = try FederatedData.shards(c, labels: train.labels, classes: train.classes)
        let net = try DevicePlans.initialModel(c, classes: train.classes)
        func devices() throws -> [VirtualDevice] {
            try c.resolvedDevices.enumerated().map { i, d in
                try VirtualDevice(settings: d, index: i, shard: shards[d.id]!, train: train, config: c, arch: arch)
            }
        }
        func task(_ round: UInt64, _ id: String) -> PBTask {
            var t = PBTask()
            t.round = round; t.deviceID = id; t.modelVersion = round; t.localSteps = 5; t.learningRate = 0.05; t.batchSize = 4
            return t
        }
        let attacked = try devices(), twins = try devices()
        for d in attacked + twins { _ = try d.run(task: task(1, d.id), global: net, version: 1) }
        func encoded(_ d: VirtualDevice) throws -> Data {
            let e = JSONEncoder()
            e.outputFormatting = .sortedKeys
            return try e.encode(d.state(lastResult: nil))
        }
        let modelBefore = ModelTensors.values(net)
        let statesBefore = try attacked.map(encoded)
        let personalisedBefore = attacked.map { ModelTensors.values($0.personalised(net)) }

        let shadows = try NodeShadows(devices: attacked, config: c, classes: train.classes, rounds: 1)
        XCTAssertEqual(shadows.groups, 3)
        XCTAssertEqual(shadows.steps, 3 * 3 * 5, "3 groups × 3 shadows × 1 round × 5 local steps")
        for d in attacked {
            let s = try XCTUnwrap(shadows.byDevice[d.id])
            XCTAssertEqual(s.networks.count, 3)
            XCTAssertNotEqual(s.networks[0], s.networks[1], "\(d.id): shadows differ in data and seed")
            XCTAssertNotEqual(s.networks[0], net, "\(d.id): a shadow trains")
            // The device's own caches stand in for the shadows' when the fronts agree (bitwise the same OUT values).
            XCTAssertTrue(s.sharesFront(with: net, arithmetic: s.arithmetic))
            let cached = FeatureCache(net: net, data: d.trainData, preprocessing: .imageNet(size: 16), block: s.block, arithmetic: s.arithmetic)
            XCTAssertEqual(s.confidences(d.trainData, cached: cached), s.confidences(d.trainData))
            var moved = net
            moved.units[0].weight[0] += 1
            XCTAssertEqual(s.sharesFront(with: moved, arithmetic: s.arithmetic), s.block == 0, "a changed front is not shared (block \(s.block))")
            let (g, p) = d.liraAttack(global: net, shadows: s)
            for m in [g, p] {
                for x in [m.auc, m.advantage, m.tprAtFPR0_1Percent, m.tprAtFPR1Percent] { XCTAssertTrue((0...1).contains(x), "\(d.id): \(x)") }
                XCTAssertEqual(m.members, d.trainData.count)
                XCTAssertEqual(m.nonMembers, d.testData.count)
            }
        }
        // Read-only: the model, every device's saved state and personalised model are bitwise the
        // same, and each trains the same next round as its twin that was never attacked.
        XCTAssertEqual(ModelTensors.values(net), modelBefore)
        XCTAssertEqual(try attacked.map(encoded), statesBefore)
        XCTAssertEqual(attacked.map { ModelTensors.values($0.personalised(net)) }, personalisedBefore)
        for (a, b) in zip(attacked, twins) {
            let x = try a.run(task: task(2, a.id), global: net, version: 2), y = try b.run(task: task(2, b.id), global: net, version: 2)
            XCTAssertEqual(x.update.delta, y.update.delta, "\(a.id)")
            XCTAssertEqual(x.personalAfter, y.personalAfter, "\(a.id)")
        }
        // A group's shadows are the same whichever node trains them, and on every run.
        let alone = try NodeShadows(devices: [attacked[1]], config: c, classes: train.classes, rounds: 1)
        XCTAssertEqual(alone.groups, 1)
        XCTAssertEqual(alone.byDevice["dev-1"]?.networks, shadows.byDevice["dev-1"]?.networks)
    }

    func testShadowSamplesAreSeededSubsetsOfTheRightSize() {
        let a = ShadowModels.sample(30, of: 100, seed: 7)
        XCTAssertEqual(a, ShadowModels.sample(30, of: 100, seed: 7))
        XCTAssertNotEqual(a, ShadowModels.sample(30, of: 100, seed: 8))
        XCTAssertEqual(a.count, 30)
        XCTAssertEqual(Set(a).count, 30)
        XCTAssertTrue(a.allSatisfy { (0..<100).contains($0) })
        XCTAssertEqual(a, a.sorted())
        XCTAssertEqual(ShadowModels.sample(500, of: 100, seed: 7), Array(0..<100), "a test set smaller than a shard is taken whole")
    }
}
