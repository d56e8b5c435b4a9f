import XCTest
@testable import Engine

/// The analytic planner against the arena the trainer charges while it really runs.
final class MemoryTests: XCTestCase {
    func runStep(_ net: Network, plan: UpdatePlan, options: MemoryOptions, size: Int, candidates: [Int: Int] = [:]) -> MemoryArena {
        var model = plan.dense ? net : net.folded()
        var rng = SplitMix64(seed: 4)
        let x = (0..<3 * options.batch * size * size).map { _ in rng.nextFloat(in: -1...1) }
        let labels = (0..<options.batch).map { Int32($0 % model.arch.classes) }
        let arena = MemoryArena(budget: .max)
        Trainer().step(&model, input: x, labels: labels, height: size, width: size, plan: plan, learningRate: 0.01,
                       memory: StepMemory(arena: arena, options: options, candidateChannels: candidates))
        XCTAssertEqual(arena.live, 0, "every buffer charged in a step is released by its end")
        return arena
    }

    func testPlannerEqualsMeasuredPeakByteForByte() {
        let arch = MobileNetV2.tiny()
        let net = Network(arch: arch, seed: 2)
        let n = arch.units.count
        let plans: [(String, UpdatePlan)] = [
            ("head", UpdatePlan(trainClassifier: true)),
            ("bias", UpdatePlan(biasUnits: Set((n - 5)..<n))),
            ("sparse", UpdatePlan(biasUnits: Set((n - 6)..<n), weightChannels: [n - 1: [0, 3, 5], n - 2: [1, 2, 3, 4], n - 4: [7]])),
            ("depthwise", UpdatePlan(biasUnits: [n - 3], weightChannels: [n - 3: [0, 5, 9, 11]])),
            ("stem", UpdatePlan(biasUnits: [0, 1], weightChannels: [0: [0, 2]])),
            ("dense", .denseAll(arch)),
        ]
        for (name, plan) in plans {
            for options in [MemoryOptions(), MemoryOptions(precision: .fp32, placement: .flash, fused: false, batch: 3),
                            MemoryOptions(precision: .int8, placement: .flash, fused: true, batch: 2)] {
                let candidates = plan.weightChannels.mapValues { _ in 6 }
                let planned = MemoryPlanner.plan(arch, plan: plan, height: 16, width: 16, options: options, candidateChannels: candidates)
                let measured = runStep(net, plan: plan, options: options, size: 16, candidates: candidates)
                XCTAssertEqual(measured.peak, planned.peak, "\(name) \(options): measured vs planned peak")
                XCTAssertEqual(measured.peakAt, planned.peakAt, "\(name): where the peak happens")
            }
        }
    }

    func testEfficientNetLite0DGSULayoutFits256KBAndMatchesTheArena() throws {
        let arch = EfficientNetLite.lite0(classes: 10)
        let budget = 256 * 1024
        let layout = try LayoutSearch.fit(arch, budget: budget, height: 64, width: 64)
        XCTAssertFalse(layout.weightChannels.isEmpty, "a 256 KB budget must leave room for weight updates")
        let report = LayoutSearch.report(layout, arch: arch, height: 64, width: 64, memory: MemoryOptions(), dynamic: true)
        XCTAssertLessThanOrEqual(report.peak, budget)
        let net = Network(arch: arch, seed: 1)
        let measured = runStep(net, plan: LayoutSearch.representativePlan(layout), options: MemoryOptions(), size: 64)
        XCTAssertEqual(measured.peak, report.peak)
        // Dense training of the same model needs far more feature memory.
        let dense = MemoryPlanner.plan(arch, plan: .denseAll(arch), height: 64, width: 64)
        XCTAssertLessThan(Double(report.featurePeak), 0.5 * Double(dense.featurePeak))
    }

    func testBudgetExactlyAtThePeakFitsAndOneByteLessDoesNot() throws {
        let arch = MobileNetV2.tiny()
        let layout = SparseLayout(biasUnits: [8, 9], weightChannels: [9: 4])
        let peak = LayoutSearch.report(layout, arch: arch, height: 16, width: 16, memory: MemoryOptions(), dynamic: true).peak
        let atLimit = MemoryArena(budget: peak)
        var net = Network(arch: arch, seed: 1).folded()
        let x = [Float](repeating: 0.5, count: 3 * 16 * 16)
        Trainer().step(&net, input: x, labels: [1], height: 16, width: 16, plan: LayoutSearch.representativePlan(layout), learningRate: 0.1,
                       memory: StepMemory(arena: atLimit, options: MemoryOptions()))
        XCTAssertNil(atLimit.overflow, "a budget exactly at the peak fits")
        let under = MemoryArena(budget: peak - 1)
        Trainer().step(&net, input: x, labels: [1], height: 16, width: 16, plan: LayoutSearch.representativePlan(layout), learningRate: 0.1,
                       memory: StepMemory(arena: under, options: MemoryOptions()))
        let overflow = try XCTUnwrap(under.overflow)
        XCTAssertEqual(overflow.needed - overflow.budget, 1)
        XCTAssertTrue(overflow.description.contains("over by 1 B"), overflow.description)
    }

    func testTinyBudgetIsRefusedWithTheReason() {
        XCTAssertThrowsError(try LayoutSearch.fit(EfficientNetLite.lite0(classes: 10), budget: 8 * 1024, height: 64, width: 64)) { error in
            let text = "\(error)"
            XCTAssertTrue(text.contains("8192-byte budget"), text)
            XCTAssertTrue(text.contains("Raise the budget"), text)
        }
    }

    func testFlashPlacementCostsMoreForDynamicPolicies() {
        let arch = EfficientNetLite.lite0(classes: 10)
        let layout = SparseLayout.lastLayers(arch, biasCount: 6, weightCount: 4, ratio: 0.125)
        let flash = MemoryOptions(placement: .flash)
        let staticPeak = LayoutSearch.report(layout, arch: arch, height: 64, width: 64, memory: flash, dynamic: false).peak
        let dynamicPeak = LayoutSearch.report(layout, arch: arch, height: 64, width: 64, memory: flash, dynamic: true).peak
        let external = LayoutSearch.report(layout, arch: arch, height: 64, width: 64, memory: MemoryOptions(), dynamic: true).peak
        XCTAssertGreaterThan(dynamicPeak, staticPeak)
        XCTAssertGreaterThan(staticPeak, external)
    }
}

/// The int8 device's step against the planner: its real 1-byte activations and 4-byte gradients.
final class QuantizedMemoryTests: XCTestCase {
    func testPlannerEqualsTheInt8StepByteForByte() {
        let arch = MobileNetV2.tiny()
        let net = Network(arch: arch, seed: 2).folded()
        let n = arch.units.count
        let size = 16
        var rng = SplitMix64(seed: 4)
        let plans: [(String, UpdatePlan)] = [
            ("head", UpdatePlan(trainClassifier: true)),
            ("bias", UpdatePlan(biasUnits: Set((n - 5)..<n))),
            ("sparse", UpdatePlan(biasUnits: Set((n - 6)..<n), weightChannels: [n - 1: [0, 3, 5], n - 2: [1, 2, 3, 4], n - 4: [7]], trainClassifier: true)),
            ("depthwise", UpdatePlan(biasUnits: [n - 3], weightChannels: [n - 3: [0, 5, 9, 11]])),
            ("stem", UpdatePlan(biasUnits: [0, 1], weightChannels: [0: [0, 2]])),
        ]
        for (name, plan) in plans {
            for options in [MemoryOptions(), MemoryOptions(precision: .int8, placement: .flash, fused: false, batch: 3),
                            MemoryOptions(precision: .int8, placement: .external, fused: true, batch: 2, masterWeights: true)] {
                let x = (0..<3 * options.batch * size * size).map { _ in rng.nextFloat(in: -1...1) }
                let scales = ActivationScales.calibrate(net, images: x, batch: options.batch, height: size, width: size)
                var q = QuantizedNetwork(net, scales: scales)
                let candidates = plan.weightChannels.mapValues { _ in 6 }
                let planned = MemoryPlanner.plan(arch, plan: plan, height: size, width: size, options: options, candidateChannels: candidates)
                let arena = MemoryArena(budget: .max)
                QuantizedTrainer().step(&q, input: q.quantiseInput(x, block: 0), labels: (0..<options.batch).map { Int32($0 % arch.classes) },
                                        height: size, width: size, plan: plan, learningRates: LearningRates(0.01), rounding: QASRounding(seed: 1),
                                        memory: StepMemory(arena: arena, options: options, candidateChannels: candidates))
                XCTAssertEqual(arena.live, 0, "\(name): every buffer is released")
                XCTAssertEqual(arena.peak, planned.peak, "\(name) \(options): measured vs planned peak")
                XCTAssertEqual(arena.peakAt, planned.peakAt, "\(name): where the peak happens")
            }
        }
    }

    /// Master weights cost 4 bytes per candidate weight and classifier weight, and only on int8.
    func testMasterWeightsAreCharged() {
        let arch = MobileNetV2.tiny()
        let n = arch.units.count
        let plan = UpdatePlan(biasUnits: [n - 1], weightChannels: [n - 1: [0, 1]], trainClassifier: true)
        let without = MemoryPlanner.plan(arch, plan: plan, height: 16, width: 16, options: MemoryOptions())
        let with = MemoryPlanner.plan(arch, plan: plan, height: 16, width: 16, options: MemoryOptions(masterWeights: true))
        let spec = arch.units[n - 1]
        XCTAssertEqual(with.peak - without.peak, 4 * (spec.outChannels * 2 + arch.classes * arch.features))
        let fp32 = MemoryPlanner.plan(arch, plan: plan, height: 16, width: 16, options: MemoryOptions(precision: .fp32, masterWeights: true))
        XCTAssertEqual(fp32.peak, MemoryPlanner.plan(arch, plan: plan, height: 16, width: 16, options: MemoryOptions(precision: .fp32)).peak)
    }
}
