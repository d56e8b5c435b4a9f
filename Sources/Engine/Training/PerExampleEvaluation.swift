// Each sample's cross-entropy and true-class probability under a network, for membership
// inference (Sources/Privacy/MembershipInference scores them). Inference only: the network is
// taken by value and only read, so no weight, bias or BatchNorm statistic changes (tested
// bitwise). Runs on Evaluator's batching and the forward pass `Evaluator.evaluate` uses.
//
// References: S. Yeom et al., CSF 2018 (the loss attack reads per-example losses); N. Carlini et
// al., IEEE S&P 2022 (LiRA reads the true-class confidence).
//
// A sample's values depend on the batch it ran in only in the last bits (OpenBLAS sums depend on
// the number of GEMM columns; see ForwardRunner.featuresPerSample); pass the same `batch` to
// compare runs bit for bit.

import Foundation

/// Per-sample loss and confidence, in the order of the indices asked for.
public struct PerExampleEvaluation: Equatable, Sendable {
    /// The sample indices, as given.
    public var indices: [Int]
    /// Cross-entropy −log p(label) of each sample, in Double.
    public var losses: [Double]
    /// The softmax probability of each sample's label, exp(−loss), in 0...1.
    public var trueClassProbabilities: [Double]
    /// The arg-max class of each sample.
    public var predictions: [Int]
}

extension Evaluator {
    /// Per-sample values of `net` on the samples `indices` of a cache (features at the cache's block).
    public static func perExample(_ net: Network, cache: FeatureCache, labels: [UInt8], indices: [Int], size: Int,
                                  batch: Int = 64, runner: ForwardRunner = ForwardRunner()) -> PerExampleEvaluation {
        perExample(classes: net.arch.classes, labels: labels, indices: indices, batch: batch,
                        logits: cache.logits(net, size: size, runner: runner))
    }

    /// Per-sample values of `net` on images (no cache).
    public static func perExample(_ net: Network, data: ImageDataset, indices: [Int], preprocessing: Preprocessing,
                                  batch: Int = 64, runner: ForwardRunner = ForwardRunner()) -> PerExampleEvaluation {
        let size = preprocessing.size
        return perExample(classes: net.arch.classes, labels: data.labels, indices: indices, batch: batch) { idx in
            runner.logits(net, input: preprocessing.batch(data, indices: idx), batch: idx.count, height: size, width: size)
        }
    }

    /// Per-sample values of `logits(batchIndices)` ([classes][n]) against `labels` over `indices`.
    static func perExample(classes: Int, labels: [UInt8], indices: [Int], batch: Int,
                           logits: ([Int]) -> [Float]) -> PerExampleEvaluation {
        var losses: [Double] = [], predictions: [Int] = []
        losses.reserveCapacity(indices.count)
        predictions.reserveCapacity(indices.count)
        forEachBatch(labels: labels, indices: indices, batch: batch, logits: logits) { out, y in
            losses += SoftmaxCrossEntropy.perSampleLoss(logits: out, labels: y, classes: classes)
            predictions += SoftmaxCrossEntropy.argmax(logits: out, classes: classes, batch: y.count)
        }
        // −log p ≥ 0 up to rounding (the shifted log-sum-exp is ≥ the label's logit); clamp p to 1.
        return PerExampleEvaluation(indices: indices, losses: losses,
                                    trueClassProbabilities: losses.map { Swift.min(1, exp(-$0)) }, predictions: predictions)
    }
}
