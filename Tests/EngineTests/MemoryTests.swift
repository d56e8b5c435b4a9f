import XCTest
@testable import Engine

/// The planner against the slab the trainers really compute in.
final class MemoryTests: XCTestCase {
    /// Runs one fp32 step of `plan` twice, over two canary fills of the slab; returns the step's
    /// measured peak and the end of the highest byte either run wrote.
    func runStep(_ net: Network, plan: UpdatePlan, options: MemoryOptions, size: Int, candidates: [Int: Int] = [:]) throws -> (peak: Int, written: Int) {
        var rng = SplitMix64(seed: 4)
        let x = (0..<3 * options.batch * size * size).map { _ in rng.nextFloat(in: -1...1) }
        let labels = (0..<options.batch).map { Int32($0 % net.arch.classes) }
        let trainer = Trainer()
        var written = 0, peak = 0
        for canary: UInt8 in [0xA5, 0x5A] {
            var model = plan.dense ? net : net.folded()
            let memory = StepMemory(options: options, candidateChannels: candidates)
            try trainer.step(&model, input: x, labels: labels, height: size, width: size, plan: plan, learningRate: 0.01, memory: memory)  // sizes the slab
            trainer.slab.fill(canary)
            model = plan.dense ? net : net.folded()
            peak = try trainer.step(&model, input: x, labels: labels, height: size, width: size, plan: plan, learningRate: 0.01, memory: memory).peak
            written = max(written, trainer.slab.writtenEnd(unlike: canary))
        }
        return (peak, written)
    }

    static let tinyPlans: [(String, UpdatePlan)] = {
        let n = MobileNetV2.tiny().units.count
        return [
            ("head", UpdatePlan(trainClassifier: true)),
            ("bias", UpdatePlan(biasUnits: Set((n - 5)..<n))),
            ("sparse", UpdatePlan(biasUnits: Set((n - 6)..<n), weightChannels: [n - 1: [0, 3, 5], n - 2: [1, 2, 3, 4], n - 4: [7]], trainClassifier: true)),
            ("depthwise", UpdatePlan(biasUnits: [n - 3], weightChannels: [n - 3: [0, 5, 9, 11]])),
            ("stem", UpdatePlan(biasUnits: [0, 1], weightChannels: [0: [0, 2]])),
        ]
    }()

    /// The step asks the slab for each buffer with the size it computes with: the highest of
    /// those requests is the planner's peak, and nothing past it is written.
    func testThePlannersPeakIsTheFP32StepsMeasuredPeak() throws {
        let arch = MobileNetV2.tiny()
        let net = Network(arch: arch, seed: 2)
        for (name, plan) in Self.tinyPlans + [("dense", .denseAll(arch))] {
            for options in [MemoryOptions(precision: .fp32), MemoryOptions(precision: .fp32, placement: .flash, fused: false, batch: 3),
                            MemoryOptions(precision: .fp32, placement: .flash, fused: true, batch: 2)] {
                let candidates = plan.weightChannels.mapValues { _ in 6 }
                let planned = MemoryPlanner.plan(arch, plan: plan, height: 16, width: 16, options: options, candidateChannels: candidates)
                let measured = try runStep(net, plan: plan, options: options, size: 16, candidates: candidates)
                XCTAssertEqual(measured.peak, planned.peak, "\(name) \(options): measured vs planned peak")
                XCTAssertLessThanOrEqual(measured.written, planned.peak, "\(name): the step writes nothing past its peak")
                XCTAssertGreaterThan(measured.written, 0, "\(name): the step computes in the slab")
            }
        }
    }

    func testEfficientNetLite0DGSULayoutFits256KBAndTheInt8StepMeasuresTheSamePeak() throws {
        let arch = EfficientNetLite.lite0(classes: 10)
        let budget = 256 * 1024
        let layout = try LayoutSearch.fit(arch, budget: budget, height: 64, width: 64)
        XCTAssertFalse(layout.weightChannels.isEmpty, "a 256 KB budget must leave room for weight updates")
        let report = LayoutSearch.report(layout, arch: arch, height: 64, width: 64, memory: MemoryOptions(), dynamic: true)
        XCTAssertLessThanOrEqual(report.peak, budget)
        let net = Network(arch: arch, seed: 1).folded()
        var rng = SplitMix64(seed: 3)
        let x = (0..<3 * 64 * 64).map { _ in rng.nextFloat(in: -1...1) }
        var q = QuantizedNetwork(net, scales: ActivationScales.calibrate(net, images: x, batch: 1, height: 64, width: 64))
        let plan = LayoutSearch.representativePlan(layout)
        let candidates = Dictionary(uniqueKeysWithValues: layout.weightChannels.keys.map { ($0, arch.units[$0].inChannels) })
        let result = try QuantizedTrainer().step(&q, input: q.quantiseInput(x, block: 0), labels: [3], height: 64, width: 64, plan: plan,
                                                 learningRates: LearningRates(0.01), rounding: QASRounding(seed: 1),
                                                 memory: StepMemory(options: MemoryOptions(), candidateChannels: candidates, budget: budget))
        XCTAssertEqual(result.peak, report.peak, "the int8 step in a slab of exactly 256 KB")
        // Dense training of the same model needs far more feature memory.
        let dense = MemoryPlanner.plan(arch, plan: .denseAll(arch), height: 64, width: 64)
        XCTAssertLessThan(Double(report.featurePeak), 0.5 * Double(dense.featurePeak))
    }

    /// A budget exactly at the peak fits; one byte less is refused by the trainer itself before
    /// anything changes, naming the buffer and the overflow.
    func testBudgetExactlyAtThePeakFitsAndOneByteLessIsRefusedBeforeAnythingChanges() throws {
        let arch = MobileNetV2.tiny()
        let layout = SparseLayout(biasUnits: [8, 9], weightChannels: [9: 4])
        let options = MemoryOptions(precision: .fp32)
        let report = LayoutSearch.report(layout, arch: arch, height: 16, width: 16, memory: options, dynamic: true)
        let plan = LayoutSearch.representativePlan(layout)
        let x = [Float](repeating: 0.5, count: 3 * 16 * 16)
        var net = Network(arch: arch, seed: 1).folded()
        let trainer = Trainer()
        let fits = try trainer.step(&net, input: x, labels: [1], height: 16, width: 16, plan: plan, learningRate: 0.1,
                                    memory: StepMemory(options: options, budget: report.peak))
        XCTAssertEqual(fits.peak, report.peak, "a budget exactly at the peak fits")
        XCTAssertEqual(trainer.slab.capacity, report.peak, "the slab is exactly the budget")
        let before = net
        XCTAssertThrowsError(try trainer.step(&net, input: x, labels: [1], height: 16, width: 16, plan: plan, learningRate: 0.1,
                                              memory: StepMemory(options: options, budget: report.peak - 1))) { error in
            guard let overflow = error as? MemoryOverflow else { return XCTFail("\(error)") }
            XCTAssertEqual(overflow.needed - overflow.budget, 1)
            XCTAssertEqual(overflow.at, report.peakAt, "names the buffer that does not fit")
            XCTAssertTrue(overflow.description.contains("over by 1 B"), overflow.description)
        }
        XCTAssertTrue(net == before, "the refused step changed nothing: the model is bitwise the same")
    }

    /// First fit: live buffers never overlap, the peak is the high-water mark (a hole left by a
    /// freed buffer that a larger one cannot use counts), and freed neighbours merge.
    /// A budget lifted out of the way (a reference run's `Int.max / 2`) still refuses nothing it
    /// should, and its slab is the step's peak, not the budget.
    func testAHugeBudgetGrowsTheSlabToThePeakInsteadOfAllocatingTheBudget() throws {
        let arch = MobileNetV2.tiny()
        var net = Network(arch: arch, seed: 2).folded()
        let plan = Self.tinyPlans[2].1
        let memory = StepMemory(options: MemoryOptions(precision: .fp32), candidateChannels: [:], budget: Int.max / 2)
        let x = [Float](repeating: 0.1, count: 3 * 16 * 16)
        let trainer = Trainer()
        let peak = try trainer.step(&net, input: x, labels: [1], height: 16, width: 16, plan: plan, learningRate: 0.01, memory: memory).peak
        XCTAssertEqual(trainer.slab.budget, Int.max / 2)
        XCTAssertEqual(trainer.slab.capacity, peak, "grown to the step's peak")
        XCTAssertEqual(DeviceSlab(budget: DeviceSlab.eagerLimit).capacity, DeviceSlab.eagerLimit, "a device-sized budget is allocated whole")
    }

    func testTheSlabAllocatorNeverOverlapsLiveBuffersAndCountsFragmentation() {
        let arch = MobileNetV2.tiny()
        var s = StepBuffers(dense: false)
        s.allocate(.logits, 100, .working)      // [0, 100)
        s.allocate(.dlogits, 40, .working)      // [100, 140)
        s.free(.logits)                         // hole [0, 100)
        s.allocate(.pooled, 120, .working)      // too large for the hole: [140, 260)
        s.free(.dlogits)                        // merges with the hole: [0, 140)
        s.allocate(.dpooled, 128, .working)     // first fit in the merged hole: [0, 128)
        let l = SlabAllocator.layout(s, arch: arch)
        XCTAssertEqual(l.offsets, [0, 100, 140, 0])
        XCTAssertEqual(l.peak, 260, "at most 248 B are live, but the slab needs 260 B")
        XCTAssertEqual(l.livePeak, 248)
        XCTAssertEqual(l.placement, .firstFit, "greedy by size would need 288 B here")
        XCTAssertEqual(SlabAllocator.greedyBySize(SlabAllocator.lifetimes(s), sizes: l.sizes).enumerated().map { $0.element + l.sizes[$0.offset] }.max(), 288)
        XCTAssertEqual(l.peakAt, "pooled features")

        var rng = SplitMix64(seed: 9)
        let big = EfficientNetLite.lite0(classes: 10)  // a unit (and so a label) per allocation
        for trial in 0..<50 {
            var r = StepBuffers(dense: false)
            var live: [BufferRole] = []
            for i in 0..<big.units.count {
                if !live.isEmpty && rng.nextFloat(in: 0...1) < 0.45 {
                    r.free(live.remove(at: Int(rng.next() % UInt64(live.count))))
                } else {
                    let role = BufferRole.output(unit: i)
                    r.allocate(role, Int(rng.next() % 500), .working)
                    live.append(role)
                }
            }
            let layout = SlabAllocator.layout(r, arch: big)
            XCTAssertGreaterThanOrEqual(layout.peak, layout.livePeak)
            for offsets in [SlabAllocator.firstFit(r, sizes: layout.sizes), SlabAllocator.greedyBySize(SlabAllocator.lifetimes(r), sizes: layout.sizes)] {
                var open: [Int: Range<Int>] = [:]
                for e in r.events {
                    switch e {
                    case let .allocate(i):
                        let range = offsets[i]..<(offsets[i] + layout.sizes[i])
                        for (j, o) in open where o.overlaps(range) { XCTFail("trial \(trial): buffers \(i) and \(j) overlap") }
                        open[i] = range
                    case let .free(i): open[i] = nil
                    }
                }
            }
            XCTAssertEqual(layout.peak, zip(layout.offsets, layout.sizes).map { $0 + $1 }.max() ?? 0)
        }
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
    func testPlannerEqualsTheInt8StepsMeasuredPeak() throws {
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
                let result = try QuantizedTrainer().step(&q, input: q.quantiseInput(x, block: 0), labels: (0..<options.batch).map { Int32($0 % arch.classes) },
                                                         height: size, width: size, plan: plan, learningRates: LearningRates(0.01), rounding: QASRounding(seed: 1),
                                                         memory: StepMemory(options: options, candidateChannels: candidates))
                XCTAssertEqual(result.peak, planned.peak, "\(name) \(options): measured vs planned peak")
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
