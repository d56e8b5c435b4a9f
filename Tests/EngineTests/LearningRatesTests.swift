// Per-group learning rates: each group's step scales with its own rate and no other; one number
// in JSON means every group; the validation search tries every combination of the grids.
@testable import Engine
import Foundation
import XCTest

final class LearningRatesTests: XCTestCase {
    let arch = MobileNetV2.tiny()
    lazy var net = Network(arch: arch, seed: 5).folded()
    lazy var layout = SparseLayout.lastLayers(arch, biasCount: 5, weightCount: 4, ratio: 0.25)

    /// The change one step makes to (classifier, conv biases, conv weights) under `rates`.
    func change(_ rates: LearningRates) throws -> (head: [Float], bias: [Float], weights: [Float]) {
        let data = SyntheticImages.make(count: 8, classes: 10, size: 16, seed: 3)
        let pre = Preprocessing(size: 16, channels: 3, mean: [0.5, 0.5, 0.5], std: [0.25, 0.25, 0.25])
        var p = DGSUPolicy(layout: layout, network: net)
        let plan = p.nextPlan()
        var trained = net
        try Trainer().step(&trained, input: pre.batch(data, indices: Array(0..<4)), labels: data.labels.prefix(4).map { Int32($0) },
                       height: 16, width: 16, plan: plan, learningRates: rates)
        func diff(_ a: [Float], _ b: [Float]) -> [Float] { zip(a, b).map { $0 - $1 } }
        let units = Array(layout.weightChannels.keys).sorted(), biases = layout.biasUnits.sorted()
        return (diff(trained.classifierWeight + trained.classifierBias, net.classifierWeight + net.classifierBias),
                biases.flatMap { diff(trained.units[$0].bias, net.units[$0].bias) },
                units.flatMap { diff(trained.units[$0].weight, net.units[$0].weight) })
    }

    func testEachGroupMovesWithItsOwnRateOnly() throws {
        let base = try change(LearningRates(head: 0.01, bias: 0.01, weights: 0.01))
        let head = try change(LearningRates(head: 0.02, bias: 0.01, weights: 0.01))
        let bias = try change(LearningRates(head: 0.01, bias: 0.02, weights: 0.01))
        let weights = try change(LearningRates(head: 0.01, bias: 0.01, weights: 0.02))
        XCTAssertTrue(base.head.contains { $0 != 0 } && base.bias.contains { $0 != 0 } && base.weights.contains { $0 != 0 }, "every group moved")
        // Doubling a power-of-two-related rate doubles that group's step: w − 2·lr·g.
        for (a, b) in zip(base.head, head.head) { XCTAssertEqual(b, 2 * a, accuracy: 1e-6 * max(1, abs(a))) }
        XCTAssertEqual(head.bias, base.bias, "the head's rate does not move the biases")
        XCTAssertEqual(head.weights, base.weights, "nor the weights")
        for (a, b) in zip(base.bias, bias.bias) { XCTAssertEqual(b, 2 * a, accuracy: 1e-6 * max(1, abs(a))) }
        XCTAssertEqual(bias.head, base.head)
        for (a, b) in zip(base.weights, weights.weights) { XCTAssertEqual(b, 2 * a, accuracy: 1e-6 * max(1, abs(a))) }
        XCTAssertEqual(weights.head, base.head)
        // A uniform rate is the single-rate step.
        XCTAssertTrue(try base == change(0.01))
    }

    func testJSONTakesANumberOrAllThreeGroups() throws {
        let one = try JSONDecoder().decode(LearningRates.self, from: Data("0.05".utf8))
        XCTAssertEqual(one, LearningRates(0.05))
        let three = try JSONDecoder().decode(LearningRates.self, from: Data(#"{"head": 0.1, "bias": 0.01, "weights": 0.003}"#.utf8))
        XCTAssertEqual(three, LearningRates(head: 0.1, bias: 0.01, weights: 0.003))
        XCTAssertEqual(String(decoding: try JSONEncoder().encode(one), as: UTF8.self), "0.05", "uniform rates stay a number")
        XCTAssertEqual(try JSONDecoder().decode(LearningRates.self, from: try JSONEncoder().encode(three)), three)
        XCTAssertThrowsError(try JSONDecoder().decode(LearningRates.self, from: Data(#"{"head": 0.1}"#.utf8)), "all three groups or one number")
        XCTAssertNotNil(LearningRates(head: 0.1, bias: 0, weights: 0.1).problem)
        XCTAssertNil(three.problem)
    }

    func testTheValidationSearchTriesEveryCombinationOfTheGrids() {
        var c = FineTuneConfig()
        c.learningRate = 0.05
        XCTAssertEqual(c.learningRateCandidates, [], "no grid: no search")
        c.learningRateGrid = [0.01, 0.1]
        XCTAssertEqual(c.learningRateCandidates, [LearningRates(0.01), LearningRates(0.1)])
        c.learningRates = LearningRates(head: 0.1, bias: 0.02, weights: 0.003)
        c.headGrid = [0.1, 0.3]
        c.weightsGrid = [0.001, 0.003, 0.01]
        let all = c.learningRateCandidates
        XCTAssertEqual(all.count, 6)
        XCTAssertTrue(all.allSatisfy { $0.bias == 0.02 }, "a group without a grid keeps its rate")
        XCTAssertEqual(Set(all.map(\.head)), [0.1, 0.3])
        XCTAssertEqual(Set(all.map(\.weights)), [0.001, 0.003, 0.01])
    }
}

final class LearningRateScheduleTests: XCTestCase {
    func testSchedulesScaleEveryGroupAsDocumented() {
        XCTAssertEqual(LearningRateSchedule.constant.factor(step: 7, of: 10), 1)
        XCTAssertEqual(LearningRateSchedule.cosine.factor(step: 0, of: 10), 1)
        XCTAssertEqual(LearningRateSchedule.cosine.factor(step: 5, of: 10), 0.5, accuracy: 1e-6)
        XCTAssertEqual(LearningRateSchedule.cosine.factor(step: 10, of: 10), 0, accuracy: 1e-6)
        XCTAssertEqual([0, 4, 5, 7, 8, 9].map { LearningRateSchedule.step.factor(step: $0, of: 10) }, [1, 1, 0.1, 0.1, 0.01, 0.01])
        let r = LearningRateSchedule.cosine.rates(LearningRates(head: 0.2, bias: 0.02, weights: 0.002), step: 5, of: 10)
        XCTAssertEqual(r.head, 0.1, accuracy: 1e-7); XCTAssertEqual(r.bias, 0.01, accuracy: 1e-8); XCTAssertEqual(r.weights, 0.001, accuracy: 1e-9)
    }
}
