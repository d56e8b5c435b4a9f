import XCTest
@testable import Engine

/// The sparse policies: same budget, different channel choices; DGSU traverses the channels.
final class PolicyTests: XCTestCase {
    let arch = MobileNetV2.tiny()
    lazy var net = Network(arch: arch, seed: 5).folded()
    lazy var layout = SparseLayout.lastLayers(arch, biasCount: 5, weightCount: 4, ratio: 0.25)

    func testEveryPolicyHasTheSameBudgetPerStep() {
        var policies: [any UpdatePolicy] = [
            StaticPolicy(layout: layout, network: net), DGSUPolicy(layout: layout, network: net),
            RandomPolicy(layout: layout, arch: arch, seed: 1),
        ]
        for i in policies.indices {
            for _ in 0..<5 {
                let plan = policies[i].nextPlan()
                XCTAssertEqual(plan.updatedValues(arch), layout.valuesPerStep(arch), policies[i].name)
                XCTAssertNil(plan.problem(for: arch))
            }
        }
    }

    func testStaticNeverChangesAndPicksLargestWeightNorms() {
        var p = StaticPolicy(layout: layout, network: net, rule: .weightNorm)
        let first = p.nextPlan()
        for _ in 0..<10 { XCTAssertEqual(p.nextPlan(), first) }
        for (u, chans) in first.weightChannels {
            let norms = ChannelNorms.inputChannelWeightNorms(net, unit: u)
            let chosenMin = chans.map { norms[Int($0)] }.min()!
            let others = norms.indices.filter { !chans.contains(Int32($0)) }.map { norms[$0] }
            XCTAssertGreaterThanOrEqual(chosenMin, others.max() ?? 0)
        }
        var firstK = StaticPolicy(layout: layout, network: net, rule: .first)
        for (u, chans) in firstK.nextPlan().weightChannels { XCTAssertEqual(chans, (0..<Int32(layout.weightChannels[u]!)).map { $0 }) }
    }

    func testDGSUTraversesEveryChannelWhileStaticDoesNot() {
        var dgsu = DGSUPolicy(layout: layout, network: net)
        var cov = CoverageTracker(layout: layout, arch: arch)
        var staticCov = CoverageTracker(layout: layout, arch: arch)
        var st = StaticPolicy(layout: layout, network: net)
        var rng = SplitMix64(seed: 3)
        for _ in 0..<12 {
            let plan = dgsu.nextPlan()
            // Feedback: random gradient norms for the trained channels.
            let fb = StepFeedback(channelGradientNorms: plan.weightChannels.mapValues { $0.map { _ in rng.nextFloat(in: 0...1) } })
            dgsu.observe(fb, plan: plan)
            cov.record(plan, arch: arch)
            staticCov.record(st.nextPlan(), arch: arch)
        }
        XCTAssertEqual(cov.overall, 1, accuracy: 1e-9, "with k = C/4, every channel is visited within the first 4 steps")
        XCTAssertEqual(staticCov.overall, 0.25, accuracy: 0.05)
    }

    func testDGSUPrefersImportantChannelsButRotates() {
        let small = SparseLayout(biasUnits: [], weightChannels: [9: 2])  // head conv: 12 input channels, 2 per step
        var dgsu = DGSUPolicy(layout: small, network: net, ageHorizon: 8)
        // Visit all 12 channels once (6 steps), giving channel 3 a much larger gradient norm.
        for _ in 0..<6 {
            let plan = dgsu.nextPlan()
            dgsu.observe(StepFeedback(channelGradientNorms: [9: plan.weightChannels[9]!.map { $0 == 3 ? 10 : 1 }]), plan: plan)
        }
        var hits = 0
        var seen = Set<Int32>()
        for _ in 0..<24 {
            let plan = dgsu.nextPlan()
            let chans = plan.weightChannels[9]!
            if chans.contains(3) { hits += 1 }
            seen.formUnion(chans)
            dgsu.observe(StepFeedback(channelGradientNorms: [9: chans.map { $0 == 3 ? 10 : 1 }]), plan: plan)
        }
        XCTAssertGreaterThan(hits, 12, "the important channel trains most steps")
        XCTAssertEqual(seen.count, 12, "aged channels still rotate in")
    }

    func testDGSURanksUnvisitedChannelsByWeightNorm() {
        // Every channel is unvisited at first: the first plan must be the k largest weight norms,
        // not the first k indices (a shift of greatestFiniteMagnitude / 4 once swallowed the norm).
        var dgsu = DGSUPolicy(layout: layout, network: net)
        let plan = dgsu.nextPlan()
        for (u, chans) in plan.weightChannels {
            let norms = ChannelNorms.inputChannelWeightNorms(net, unit: u)
            let expected = TopK.indices(of: norms, k: layout.weightChannels[u]!).sorted()
            XCTAssertEqual(chans, expected, "unit \(u): the largest weight norms first")
            XCTAssertNotEqual(chans, (0..<Int32(chans.count)).map { $0 }, "unit \(u): not index order (the test would be vacuous)")
        }
    }

    func testDGSUWeightMeasureFollowsTheCurrentWeights() {
        // With the weight measure, a channel whose norm grows after a step ranks first next time.
        let small = SparseLayout(biasUnits: [], weightChannels: [9: 2])
        var dgsu = DGSUPolicy(layout: small, network: net, measure: .weight, ageHorizon: 8)
        let first = dgsu.nextPlan().weightChannels[9]!
        let low = ChannelNorms.inputChannelWeightNorms(net, unit: 9).enumerated().min { $0.element < $1.element }!.offset
        XCTAssertFalse(first.contains(Int32(low)))
        // Report the plan's channels as shrunk to 0 and pretend the weakest grew: feedback only
        // carries the trained channels, so grow it through a plan that trained it.
        let plan = UpdatePlan(biasUnits: [], weightChannels: [9: [Int32(low)]], trainClassifier: false)
        dgsu.observe(StepFeedback(channelWeightNorms: [9: [1e6]]), plan: plan)
        XCTAssertTrue(dgsu.nextPlan().weightChannels[9]!.contains(Int32(low)), "the grown channel ranks first")
        // And refreshWeightNorms takes a whole new model (a round's global weights).
        dgsu.refreshWeightNorms(net)
        XCTAssertEqual(dgsu.weightNorms[9]!, ChannelNorms.inputChannelWeightNorms(net, unit: 9))
    }

    func testTheSessionFeedsTheTrainedChannelsNewWeightNormsToDGSU() throws {
        for precision in Precision.allCases { try feedsWeightNorms(precision) }
    }

    func feedsWeightNorms(_ precision: Precision) throws {
        let data = SyntheticImages.make(count: 64, classes: 10, size: 16, seed: 2)
        let pre = Preprocessing(size: 16, channels: 3, mean: [0.5, 0.5, 0.5], std: [0.25, 0.25, 0.25])
        let s = DeviceSession(id: 0, shard: Array(0..<data.count), network: net, policy: DGSUPolicy(layout: layout, network: net, measure: .weight),
                              layout: layout, dynamic: true, seed: 1)
        s.arithmetic = .forPrecision(precision, net: net, data: data, preprocessing: pre)
        try s.train(steps: 3, config: LocalTrainingConfig(batch: 4, learningRate: 0.5, memory: MemoryOptions(precision: precision)),
                    source: .images(data, pre), trainer: Trainer())
        let d = try XCTUnwrap(s.policy as? DGSUPolicy)
        var trained = 0
        for u in layout.weightChannels.keys {
            let now = ChannelNorms.inputChannelWeightNorms(s.network, unit: u)
            let before = ChannelNorms.inputChannelWeightNorms(s.arithmetic.deviceView(net), unit: u)
            for c in now.indices where now[c] != before[c] {
                trained += 1
                XCTAssertEqual(d.weightNorms[u]![c], now[c], accuracy: 1e-6, "unit \(u) channel \(c): the policy holds the current norm")
            }
        }
        XCTAssertGreaterThan(trained, 0, "some weights moved (else the test is vacuous)")
    }

    /// DGSU's partial selection against sorting every key: the same k, in the same order, with
    /// many ties in score and age broken by the channel index.
    func testTopKLargestEqualsTheSortedPrefix() {
        var rng = SplitMix64(seed: 4)
        for trial in 0..<300 {
            let n = 1 + Int(rng.next() % 300), k = Int(rng.next() % UInt64(n + 2))
            var keys = (0..<n).map { c in
                RankKey(unvisited: rng.next() % 5 == 0, score: Float(rng.next() % 17) * 0.25, age: Int(rng.next() % 4), channel: c)
            }
            let want = Array(keys.sorted(by: >).prefix(k)).map(\.channel)
            XCTAssertEqual(TopK.largest(&keys, k: k).map(\.channel), want, "trial \(trial)")
        }
    }

    /// The rank key orders as DGSU's rule reads: unvisited first, then score, then age, then the
    /// lower channel; −0 ties with +0.
    func testRankKeyOrder() {
        XCTAssertGreaterThan(RankKey(unvisited: true, score: 0, age: 0, channel: 9), RankKey(unvisited: false, score: 1e30, age: 99, channel: 0))
        XCTAssertGreaterThan(RankKey(unvisited: false, score: 2, age: 0, channel: 9), RankKey(unvisited: false, score: 1.5, age: 99, channel: 0))
        XCTAssertGreaterThan(RankKey(unvisited: false, score: 1, age: 3, channel: 9), RankKey(unvisited: false, score: 1, age: 2, channel: 0))
        XCTAssertGreaterThan(RankKey(unvisited: false, score: 1, age: 3, channel: 4), RankKey(unvisited: false, score: 1, age: 3, channel: 5))
        XCTAssertGreaterThan(RankKey(unvisited: false, score: -0.0, age: 1, channel: 5), RankKey(unvisited: false, score: 0, age: 0, channel: 4))
        XCTAssertLessThan(RankKey(unvisited: false, score: -1, age: 9, channel: 0), RankKey(unvisited: false, score: 0, age: 0, channel: 9))
    }

    func testRandomIsSeededAndUniform() {
        var a = RandomPolicy(layout: layout, arch: arch, seed: 9), b = RandomPolicy(layout: layout, arch: arch, seed: 9)
        var c = RandomPolicy(layout: layout, arch: arch, seed: 10)
        var counts = [Int](repeating: 0, count: 32)
        let head = arch.units.count - 1
        var differs = false
        for _ in 0..<400 {
            let pa = a.nextPlan()
            XCTAssertEqual(pa, b.nextPlan())
            if pa != c.nextPlan() { differs = true }
            for ch in pa.weightChannels[head] ?? [] { counts[Int(ch)] += 1 }
        }
        XCTAssertTrue(differs)
        let inChannels = arch.units[head].inChannels
        let expected = 400.0 * Double(layout.weightChannels[head]!) / Double(inChannels)
        for c in counts.prefix(inChannels) { XCTAssertEqual(Double(c), expected, accuracy: expected * 0.35) }
    }

    /// For the fp32 and the int8 device.
    func testDeviceSessionEnforcesTheBudgetAndTrainsFromTheCacheIdentically() throws {
        for precision in Precision.allCases { try enforcesBudget(precision) }
    }

    func enforcesBudget(_ precision: Precision) throws {
        let data = SyntheticImages.make(count: 64, classes: 10, size: 16, seed: 1)
        let pre = Preprocessing(size: 16, channels: 3, mean: [0.5, 0.5, 0.5], std: [0.25, 0.25, 0.25])
        let plan = LayoutSearch.representativePlan(layout)
        let arithmetic = DeviceArithmetic.forPrecision(precision, net: net, data: data, preprocessing: pre)
        let cache = FeatureCache(net: net, data: data, preprocessing: pre, block: plan.startBlock(arch), arithmetic: arithmetic)
        func device() -> DeviceSession {
            let d = DeviceSession(id: 1, shard: Array(0..<64), network: net, policy: DGSUPolicy(layout: layout, network: net),
                                  layout: layout, dynamic: true, seed: 4)
            d.arithmetic = arithmetic
            return d
        }
        let memory = MemoryOptions(precision: precision)
        let config = LocalTrainingConfig(batch: 4, learningRate: 0.05, memory: memory)
        let a = device(), b = device()
        let sa = try a.train(steps: 6, config: config, source: .images(data, pre), trainer: Trainer())
        let sb = try b.train(steps: 6, config: config, source: .cache(cache, labels: data.labels, imageSize: 16), trainer: Trainer())
        XCTAssertEqual(sa, sb)
        XCTAssertTrue(a.network == b.network, "cached and uncached training must be bit-identical")
        XCTAssertFalse(a.network == net, "\(precision): the steps trained")
        let tight = LocalTrainingConfig(batch: 4, learningRate: 0.05, memory: memory, budget: sa.peakBytes - 1)
        // Refused before the step runs: the model, the policy, the batch order and the coverage
        // stay exactly as they were, and the error names the buffer and the overflow.
        let refused = device()
        try refused.train(steps: 2, config: config, source: .images(data, pre), trainer: Trainer())
        let (net0, policy0, batch0, coverage0) = (refused.network, refused.policy as? DGSUPolicy, refused.batchPosition, refused.coverage)
        XCTAssertThrowsError(try refused.train(steps: 1, config: tight, source: .images(data, pre), trainer: Trainer())) { error in
            let o = error as? MemoryOverflow
            XCTAssertNotNil(o, "\(error)")
            XCTAssertEqual(o.map { $0.needed - $0.budget }, 1, "over by exactly one byte")
            XCTAssertFalse(o?.at.isEmpty ?? true, "names the buffer")
        }
        XCTAssertTrue(refused.network == net0, "the model is bitwise unchanged")
        XCTAssertEqual(refused.policy as? DGSUPolicy, policy0, "the policy's state did not advance")
        XCTAssertEqual(refused.batchPosition, batch0)
        XCTAssertEqual(refused.coverage, coverage0)
        // At exactly the peak the step runs.
        XCTAssertNoThrow(try device().train(steps: 1, config: LocalTrainingConfig(batch: 4, learningRate: 0.05, memory: memory, budget: sa.peakBytes),
                                            source: .images(data, pre), trainer: Trainer()))
    }
}
