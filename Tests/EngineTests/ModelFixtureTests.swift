import Foundation
import XCTest
@testable import Engine

/// Whole networks against PyTorch: five SGD steps of the tiny net (folded and dense BatchNorm),
/// a random MobileNetV2-w0.35 forward, and EfficientNet-Lite0 with the real ImageNet weights.
final class ModelFixtureTests: XCTestCase {
    /// Tensors under `prefix.` with the prefix removed.
    func strip(_ file: SafeTensors, _ prefix: String) -> SafeTensors {
        var out = SafeTensors()
        for (k, v) in file.tensors where k.hasPrefix(prefix + ".") { out.tensors[String(k.dropFirst(prefix.count + 1))] = v }
        return out
    }

    func tinyBatch(_ file: SafeTensors) -> ([Float], [Int32]) {
        let x = file.tensors["tiny.x"]!
        return (Layout.nchwToCnhw(x.data, batch: x.shape[0], channels: 3, plane: 256), file.tensors["tiny.labels"]!.data.map { Int32($0) })
    }

    func testTinyNetFiveFoldedSGDSteps() throws {
        let file = try Fixtures.load("tiny_sgd.safetensors")
        let arch = MobileNetV2.tiny()
        let net0 = try Network.load(arch, from: strip(file, "folded.init"), path: "tiny_sgd:folded.init")
        var net = net0.folded()
        // The fold on its own.
        let foldRef = strip(file, "folded.init_folded")
        for u in arch.units {
            assertClose(net.stateDict().tensors[u.weightKey]!.data, foldRef.tensors[u.weightKey]!.data, "fold \(u.weightKey)")
            assertClose(net.stateDict().tensors[u.biasKey]!.data, foldRef.tensors[u.biasKey]!.data, "fold \(u.biasKey)")
        }
        let (x, labels) = tinyBatch(file)
        let all = 0..<arch.units.count
        let plan = UpdatePlan(biasUnits: Set(all), weightChannels: Dictionary(uniqueKeysWithValues: all.map { u in
            (u, (0..<Int32(arch.units[u].inChannels)).map { $0 })
        }), trainClassifier: true)
        let trainer = Trainer()
        let losses = file.tensors["folded.losses"]!.data
        for i in 0..<5 {
            let r = try trainer.step(&net, input: x, labels: labels, height: 16, width: 16, plan: plan, learningRate: 0.05)
            XCTAssertEqual(r.loss, losses[i], accuracy: 1e-5 + 1e-4 * losses[i], "loss of step \(i)")
        }
        let final = strip(file, "folded.final")
        let mine = net.stateDict()
        XCTAssertEqual(Set(final.tensors.keys), Set(mine.tensors.keys).subtracting(["__metadata__"]))
        for (k, v) in final.tensors { assertClose(mine.tensors[k]!.data, v.data, abs: 2e-5, rel: 2e-4, "final \(k)") }
    }

    func testTinyNetFiveDenseSGDStepsWithBatchNormTraining() throws {
        let file = try Fixtures.load("tiny_sgd.safetensors")
        let arch = MobileNetV2.tiny()
        var net = try Network.load(arch, from: strip(file, "dense.init"), path: "tiny_sgd:dense.init")
        XCTAssertFalse(net.isFolded)
        let (x, labels) = tinyBatch(file)
        let trainer = Trainer()
        let losses = file.tensors["dense.losses"]!.data
        for i in 0..<5 {
            let r = try trainer.step(&net, input: x, labels: labels, height: 16, width: 16, plan: .denseAll(arch), learningRate: 0.05)
            XCTAssertEqual(r.loss, losses[i], accuracy: 1e-5 + 1e-4 * losses[i], "loss of step \(i)")
        }
        let final = strip(file, "dense.final")
        let mine = net.stateDict()
        for (k, v) in final.tensors { assertClose(mine.tensors[k]!.data, v.data, abs: 5e-5, rel: 5e-4, "final \(k)") }
    }

    func testMobileNetV2Width035Forward() throws {
        let file = try Fixtures.load("mobilenetv2_forward.safetensors")
        let arch = MobileNetV2.architecture(classes: 10, width: 0.35)
        let net = try Network.load(arch, from: strip(file, "mnv2").filtered { !$0.hasPrefix("input") && !$0.hasPrefix("logits") },
                                   path: "mobilenetv2_forward")
        let input = file.tensors["mnv2.input"]!
        let x = Layout.nchwToCnhw(input.data, batch: 1, channels: 3, plane: 64 * 64)
        let expected = file.tensors["mnv2.logits"]!.data
        let runner = ForwardRunner()
        assertClose(runner.logits(net, input: x, batch: 1, height: 64, width: 64), expected, abs: 1e-4, rel: 1e-4, "unfolded logits")
        assertClose(runner.logits(net.folded(), input: x, batch: 1, height: 64, width: 64), expected, abs: 1e-4, rel: 1e-4, "folded logits")
    }

    func testEfficientNetLite0PretrainedForward() throws {
        let weights = PretrainedWeights.efficientNetLite0Path
        try XCTSkipUnless(FileManager.default.fileExists(atPath: weights),
                          "EfficientNet-Lite0 weights not found at \(weights); `make weights` fetches them (make test does)")
        let file = try Fixtures.load("efficientnet_lite0_forward.safetensors")
        let net = try Network.load(EfficientNetLite.lite0(), path: weights)
        let input = file.tensors["lite0.input"]!
        let x = Layout.nchwToCnhw(input.data, batch: 2, channels: 3, plane: 224 * 224)
        let expected = file.tensors["lite0.logits"]!.data
        let logits = Layout.cnhwToNchw(ForwardRunner().logits(net.folded(), input: x, batch: 2, height: 224, width: 224),
                                       batch: 2, channels: 1000, plane: 1)
        // Within 1e-4 relative to the largest logit of each image.
        for b in 0..<2 {
            let row = Array(expected[b * 1000..<(b + 1) * 1000]), mine = Array(logits[b * 1000..<(b + 1) * 1000])
            let scale = row.map { abs($0) }.max()!
            let worst = zip(mine, row).map { abs($0 - $1) }.max()!
            XCTAssertLessThanOrEqual(worst / scale, 1e-4, "image \(b): worst logit error \(worst) vs max |logit| \(scale)")
        }
        XCTAssertEqual(SoftmaxCrossEntropy.argmax(logits: Layout.nchwToCnhw(logits, batch: 2, channels: 1000, plane: 1), classes: 1000, batch: 2),
                       [285, 967], "Egyptian cat and espresso")
    }
}

extension SafeTensors {
    /// The tensors whose names pass `keep`.
    func filtered(_ keep: (String) -> Bool) -> SafeTensors {
        SafeTensors(tensors: tensors.filter { keep($0.key) }, metadata: metadata)
    }
}
