// `engine-bench int8`: the int8 device against fp32 on ImageNet-pretrained EfficientNet-Lite0 →
// Fashion-MNIST: a classifier trained in fp32 on the frozen features, then test accuracy of the
// fp32 forward and of the int8 forward (post-training quantisation, calibrated on training
// images), and the time of each forward per image.
//   engine-bench int8 [--train-samples 4000] [--test-samples 2000] [--size 64] [--calibration 64]
import Engine
import Foundation

enum Int8Check {
    static func run(arguments args: [String]) throws {
        let trainCount = Int(ResultsTable.value(args, "--train-samples") ?? "4000") ?? 4000
        let testCount = Int(ResultsTable.value(args, "--test-samples") ?? "2000") ?? 2000
        let size = Int(ResultsTable.value(args, "--size") ?? "64") ?? 64
        let calibration = Int(ResultsTable.value(args, "--calibration") ?? "64") ?? 64
        let percentiles = (ResultsTable.value(args, "--percentiles") ?? "1").split(separator: ",").compactMap { Double(String($0)) }
        let train = try DatasetZoo.load(.fashionMNIST, split: .train, directory: nil).subset(Array(0..<trainCount))
        let test = try DatasetZoo.load(.fashionMNIST, split: .test, directory: nil).subset(Array(0..<testCount))
        let pre = Preprocessing.imageNet(size: size)
        var net = try ModelZoo.network(.efficientNetLite0, classes: 10, seed: 1).folded()
        let arch = net.arch
        let head = arch.blocks.count
        let t0 = Date()
        let features = FeatureCache(net: net, data: train, preprocessing: pre, block: head)
        print(String(format: "fp32 features of %d training images in %.1f s", trainCount, Date().timeIntervalSince(t0)))
        // The classifier, in fp32 on the pooled features (8 epochs of SGD, cosine decay).
        let schedule = LearningRateSchedule(rawValue: ResultsTable.value(args, "--schedule") ?? "cosine") ?? .cosine
        try ClassifierFit.train(&net, features: features, labels: train.labels, epochs: 8, learningRate: 0.05, schedule: schedule, size: size)
        let calib = pre.batch(train, indices: Array(0..<calibration))
        let fp32 = Evaluator.evaluate(net, data: test, indices: Array(0..<testCount), preprocessing: pre)
        let grey = net.withGreyStem(pre)
        let greyFp32 = Evaluator.evaluate(grey, data: test, indices: Array(0..<testCount), preprocessing: pre)
        print(String(format: "fp32 with the grey stem: %.2f %%", 100 * greyFp32.accuracy))
        var q: QuantizedNetwork!
        var int8Seconds = 0.0
        for p in percentiles {
            q = QuantizedNetwork(grey, scales: ActivationScales.calibrate(grey, images: calib, batch: calibration, height: size, width: size, percentile: p))
            let t1 = Date()
            let int8 = Evaluator.evaluate(q, data: test, indices: Array(0..<testCount), preprocessing: pre)
            int8Seconds = Date().timeIntervalSince(t1)
            let weightsOnly = Evaluator.evaluate(q.dequantized(), data: test, indices: Array(0..<testCount), preprocessing: pre)
            print(String(format: "  int8 weights with fp32 activations: %.2f %%", 100 * weightsOnly.accuracy))
            var convsOnly = q.dequantized(); convsOnly.classifierWeight = net.classifierWeight; convsOnly.classifierBias = net.classifierBias
            print(String(format: "  int8 conv weights only: %.2f %%", 100 * Evaluator.evaluate(convsOnly, data: test, indices: Array(0..<testCount), preprocessing: pre).accuracy))
            for stage in [0] where stage < arch.blocks.count {
                var partial = net
                for u in arch.blocks[stage].units { partial.units[u] = q.dequantized().units[u] }
                print(String(format: "  int8 weights of block %d only: %.2f %%", stage, 100 * Evaluator.evaluate(partial, data: test, indices: Array(0..<testCount), preprocessing: pre).accuracy))
            }
            print(String(format: "test accuracy on %d images at %dx%d: fp32 %.2f %%, int8 %.2f %% (%+.2f points; activation scales at the %g quantile of %d images)",
                         testCount, size, size, 100 * fp32.accuracy, 100 * int8.accuracy, 100 * (int8.accuracy - fp32.accuracy), p, calibration))
        }
        let x = pre.batch(test, indices: [0])
        let runner = ForwardRunner(), qrunner = QuantizedForward()
        let qx = q.quantiseInput(x, block: 0)
        let fpMs = medianMs(runs: 20) { _ = runner.logits(net, input: x, batch: 1, height: size, width: size) }
        let qMs = medianMs(runs: 20) { _ = qrunner.logits(q, input: qx, batch: 1, height: size, width: size) }
        print(String(format: "forward per image: fp32 (OpenBLAS) %.2f ms, int8 %.2f ms (%.1f s for the test set)", fpMs, qMs, int8Seconds))
    }
}
