import Foundation
import XCTest
@testable import Engine

/// The int8 device on the real model and data: ImageNet-pretrained EfficientNet-Lite0 with a
/// classifier trained in fp32 on Fashion-MNIST at 64×64, then the same network deployed in int8
/// (calibrated on 64 training images) must classify the test images within 1 point of fp32.
/// `engine-bench int8` runs the same comparison on the whole test set (BENCHMARKS.md).
final class PretrainedInt8Tests: XCTestCase {
    func testInt8ForwardOfThePretrainedModelIsWithinOnePointOfFP32() throws {
        try XCTSkipUnless(FileManager.default.fileExists(atPath: PretrainedWeights.efficientNetLite0Path), PretrainedWeights.hint)
        try XCTSkipUnless(FileManager.default.fileExists(atPath: FashionMNIST.defaultDirectory), "dataset-fashion-mnist is not installed; `make test` installs it")
        let size = 64, trainCount = 1500, testCount = 1000
        let train = try DatasetZoo.load(.fashionMNIST, split: .train, directory: nil).subset(Array(0..<trainCount))
        let test = try DatasetZoo.load(.fashionMNIST, split: .test, directory: nil).subset(Array(0..<testCount))
        let pre = Preprocessing.imageNet(size: size)
        var net = try ModelZoo.network(.efficientNetLite0, classes: 10, seed: 1).folded()
        let head = net.arch.blocks.count
        let features = FeatureCache(net: net, data: train, preprocessing: pre, block: head)
        try ClassifierFit.train(&net, features: features, labels: train.labels, epochs: 6, learningRate: 0.05, schedule: .cosine, size: size)
        let fp32 = Evaluator.evaluate(net, data: test, indices: Array(0..<testCount), preprocessing: pre).accuracy
        let arithmetic = DeviceArithmetic.int8(calibrating: net, data: train, preprocessing: pre)
        XCTAssertNotNil(arithmetic.greyStem, "grey Fashion-MNIST deploys with the grey stem")
        let int8 = Evaluator.evaluate(arithmetic.quantise(net), data: test, indices: Array(0..<testCount), preprocessing: pre).accuracy
        print(String(format: "pretrained Lite0 on %d Fashion-MNIST test images: fp32 %.2f %%, int8 %.2f %%", testCount, 100 * fp32, 100 * int8))
        XCTAssertGreaterThan(fp32, 0.7, "the fp32 classifier learned (else the comparison says nothing)")
        // Issue 14: within 1 point. With a constant rate the classifier's last iterate wandered and
        // the gap with it (−0.2 to −1.5 points between OpenBLAS kernel families); fitted with cosine
        // decay it settles (`engine-bench int8`, 4000 images, 2026-12-02: −0.22 with the SkylakeX
        // kernels, −0.62 with Haswell's).
        XCTAssertEqual(int8, fp32, accuracy: 0.01)
        // The int8 cache path computes the same as the int8 forward from images.
        let cache = FeatureCache(net: net, data: test.subset(Array(0..<64)), preprocessing: pre, block: 10, arithmetic: arithmetic)
        let fromCache = Evaluator.evaluate(net, cache: cache, labels: test.subset(Array(0..<64)).labels, indices: Array(0..<64), size: size)
        let fromImages = Evaluator.evaluate(arithmetic.quantise(net), data: test, indices: Array(0..<64), preprocessing: pre)
        XCTAssertEqual(fromCache, fromImages, "int8 is exact: cached features give the same logits")
    }

    /// The grey-stem re-parametrisation computes the same function on grey images.
    func testGreyStemKeepsTheFP32Function() throws {
        let arch = EfficientNetLite.lite0(classes: 10)
        let net = Network(arch: arch, seed: 3).folded()
        let data = SyntheticImages.make(count: 4, classes: 10, channels: 1, size: 32, seed: 1)
        let pre = Preprocessing.imageNet(size: 32)
        let x = pre.batch(data, indices: [0, 1, 2, 3])
        let a = ForwardRunner().logits(net, input: x, batch: 4, height: 32, width: 32)
        let grey = net.withGreyStem(pre)
        XCTAssertNotEqual(grey.units[0].weight, net.units[0].weight)
        let b = ForwardRunner().logits(grey, input: x, batch: 4, height: 32, width: 32)
        for (u, v) in zip(a, b) { XCTAssertEqual(u, v, accuracy: 1e-3 * max(1, abs(u))) }
        let norm = { (w: [Float]) in w.reduce(0) { $0 + $1 * $1 } }
        XCTAssertLessThanOrEqual(norm(grey.units[0].weight), norm(net.units[0].weight), "minimum-norm weights")
    }
}
