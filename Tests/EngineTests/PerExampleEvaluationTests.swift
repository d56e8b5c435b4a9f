// Evaluator.perExample: each sample's loss and true-class probability agree with the batch
// evaluation and with a softmax of the logits, follow the order of the indices, are the same
// from images and from the feature cache, and leave the network bitwise unchanged.

import Foundation
import XCTest
@testable import Engine

/// Every parameter and BatchNorm statistic of a network as raw bits (Float == would equate 0 and −0).
func parameterBits(_ net: Network) -> [UInt32] {
    var bits: [UInt32] = []
    for unit in net.units {
        bits += unit.weight.map(\.bitPattern) + unit.bias.map(\.bitPattern)
        if let bn = unit.bn {
            bits += (bn.gamma + bn.beta + bn.runningMean + bn.runningVar).map(\.bitPattern)
        }
    }
    return bits + net.classifierWeight.map(\.bitPattern) + net.classifierBias.map(\.bitPattern)
}

final class PerExampleEvaluationTests: XCTestCase {
    let arch = MobileNetV2.tiny()
    let data = SyntheticImages.make(count: 48, classes: 10, size: 16, seed: 8)
    let pre = Preprocessing(size: 16, channels: 3, mean: [0.5, 0.5, 0.5], std: [0.25, 0.25, 0.25])

    func testAgreesWithTheBatchEvaluationAndTheSoftmax() {
        let net = Network(arch: arch, seed: 3).folded()
        let indices = Array(0..<48)
        let each = Evaluator.perExample(net, data: data, indices: indices, preprocessing: pre, batch: 16)
        let whole = Evaluator.evaluate(net, data: data, indices: indices, preprocessing: pre, batch: 16)
        XCTAssertEqual(each.indices, indices)
        XCTAssertEqual(each.losses.reduce(0, +) / 48, whole.loss, accuracy: 1e-6 * whole.loss, "Evaluation's mean is a Float per batch")
        XCTAssertEqual(Double(zip(each.predictions, indices).filter { $0 == Int(data.labels[$1]) }.count) / 48, whole.accuracy)
        // Against a direct softmax of the forward pass's logits.
        let logits = ForwardRunner().logits(net, input: pre.batch(data, indices: Array(0..<16)), batch: 16, height: 16, width: 16)
        for b in 0..<16 {
            let column = (0..<10).map { Double(logits[$0 * 16 + b]) }
            let top = column.max()!
            let sum = column.reduce(0) { $0 + exp($1 - top) }
            let p = exp(column[Int(data.labels[b])] - top) / sum
            XCTAssertEqual(each.trueClassProbabilities[b], p, accuracy: 1e-6 * p, "the engine shifts and exponentiates in Float")
            XCTAssertEqual(each.losses[b], -log(p), accuracy: 1e-6)
            XCTAssertEqual(each.predictions[b], column.firstIndex(of: top)!)
        }
    }

    func testFollowsTheIndicesAndMatchesTheCache() {
        let net = Network(arch: arch, seed: 4).folded()
        let block = 2
        let cache = FeatureCache(net: net, data: data, preprocessing: pre, block: block)
        let order = [7, 3, 40, 0, 22, 22, 15]
        let perSample = order.map { Evaluator.perExample(net, data: data, indices: [$0], preprocessing: pre, batch: 1) }
        let batched = Evaluator.perExample(net, data: data, indices: order, preprocessing: pre, batch: 1)
        XCTAssertEqual(batched.indices, order)
        XCTAssertEqual(batched.losses, perSample.map { $0.losses[0] }, "batch 1: the same sample gives the same bits")
        XCTAssertEqual(batched.losses[4], batched.losses[5])
        let fromCache = Evaluator.perExample(net, cache: cache, labels: data.labels, indices: order, size: 16, batch: 3)
        for (a, b) in zip(fromCache.losses, batched.losses) { XCTAssertEqual(a, b, accuracy: 1e-5 * max(1, b)) }
        XCTAssertTrue(Evaluator.perExample(net, data: data, indices: [], preprocessing: pre).losses.isEmpty)
    }

    func testScoringNeverChangesTheNetwork() throws {
        // Folded (device) and unfolded (BatchNorm with running statistics) networks.
        var trained = Network(arch: arch, seed: 5)
        try Trainer().step(&trained, input: pre.batch(data, indices: Array(0..<8)), labels: (0..<8).map { Int32(data.labels[$0]) },
                       height: 16, width: 16, plan: .denseAll(arch), learningRate: 0.05)
        for net in [trained, trained.folded()] {
            let before = parameterBits(net)
            let runner = ForwardRunner()
            _ = Evaluator.perExample(net, data: data, indices: Array(0..<48), preprocessing: pre, runner: runner)
            let cache = FeatureCache(net: net, data: data, preprocessing: pre, block: 1)
            _ = Evaluator.perExample(net, cache: cache, labels: data.labels, indices: Array(0..<48), size: 16, runner: runner)
            XCTAssertEqual(parameterBits(net), before)
        }
    }
}
