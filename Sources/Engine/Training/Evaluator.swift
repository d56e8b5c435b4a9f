// Accuracy and loss of a network on a labelled set, from images or from a feature cache.
// (Per-sample values for membership inference: PerExampleEvaluation.swift, on the same batching.)

/// Test metrics.
public struct Evaluation: Equatable, Sendable, Codable {
    /// Fraction correct, 0...1.
    public var accuracy: Double
    /// Mean cross-entropy.
    public var loss: Double
    /// Samples evaluated.
    public var count: Int
}

/// Evaluates networks in batches.
public enum Evaluator {
    /// Evaluates `net` on the samples `indices` of a cache (features at the cache's block).
    public static func evaluate(_ net: Network, cache: FeatureCache, labels: [UInt8], indices: [Int], size: Int,
                                batch: Int = 64, runner: ForwardRunner = ForwardRunner()) -> Evaluation {
        evaluate(classes: net.arch.classes, labels: labels, indices: indices, batch: batch,
                        logits: cache.logits(net, size: size, runner: runner))
    }

    /// Evaluates `net` on images (no cache).
    public static func evaluate(_ net: Network, data: ImageDataset, indices: [Int], preprocessing: Preprocessing,
                                batch: Int = 64, runner: ForwardRunner = ForwardRunner()) -> Evaluation {
        let size = preprocessing.size
        return evaluate(classes: net.arch.classes, labels: data.labels, indices: indices, batch: batch) { idx in
            runner.logits(net, input: preprocessing.batch(data, indices: idx), batch: idx.count, height: size, width: size)
        }
    }

    /// Scores `logits(batchIndices)` ([classes][n]) against `labels` over `indices`, `batch` at a time.
    static func evaluate(classes: Int, labels: [UInt8], indices: [Int], batch: Int, logits: ([Int]) -> [Float]) -> Evaluation {
        guard !indices.isEmpty else { return Evaluation(accuracy: 0, loss: 0, count: 0) }
        var correct = 0, loss = 0.0
        forEachBatch(labels: labels, indices: indices, batch: batch, logits: logits) { out, y in
            loss += Double(SoftmaxCrossEntropy.forwardBackward(dlogits: nil, logits: out, labels: y, classes: classes)) * Double(y.count)
            correct += zip(SoftmaxCrossEntropy.argmax(logits: out, classes: classes, batch: y.count), y).filter { $0 == Int($1) }.count
        }
        return Evaluation(accuracy: Double(correct) / Double(indices.count), loss: loss / Double(indices.count), count: indices.count)
    }

    /// Runs `logits` on `indices`, `batch` at a time in order, and hands each batch's logits
    /// ([classes][n]) and labels to `body`.
    static func forEachBatch(labels: [UInt8], indices: [Int], batch: Int, logits: ([Int]) -> [Float],
                             body: ([Float], [Int32]) -> Void) {
        precondition(batch > 0, "Evaluator: batch must be positive (got \(batch))")
        var start = 0
        while start < indices.count {
            let idx = Array(indices[start..<min(start + batch, indices.count)])
            body(logits(idx), idx.map { Int32(labels[$0]) })
            start += idx.count
        }
    }
}
