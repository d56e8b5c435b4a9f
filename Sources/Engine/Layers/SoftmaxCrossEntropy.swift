// Fused softmax + cross-entropy, mean over the batch.
import Foundation
// Layout: logits and dlogits [C][N] (feature-major), labels [N].

/// The training loss.
public enum SoftmaxCrossEntropy {
    /// Returns the mean loss and writes `dlogits = (softmax − onehot)/N`.
    /// Labels must lie in 0..<classes.
    @discardableResult
    public static func forwardBackward(dlogits: UnsafeMutablePointer<Float>?, logits: UnsafePointer<Float>,
                                       labels: [Int32], classes c: Int) -> Float {
        let n = labels.count
        var total: Double = 0
        for b in 0..<n {
            let label = Int(labels[b])
            precondition(label >= 0 && label < c, "SoftmaxCrossEntropy: label \(label) not in 0..<\(c)")
            let logSum = logSumExp(logits, sample: b, batch: n, classes: c)
            total += logSum - Double(logits[label * n + b])
            if let dlogits {
                for k in 0..<c {
                    let p = Float(exp(Double(logits[k * n + b]) - logSum))
                    dlogits[k * n + b] = (p - (k == label ? 1 : 0)) / Float(n)
                }
            }
        }
        return n == 0 ? 0 : Float(total / Double(n))
    }

    /// Each sample's cross-entropy −log softmax(logits)[label], in Double: the terms whose mean
    /// `forwardBackward` returns, computed the same way.
    public static func perSampleLoss(logits: UnsafePointer<Float>, labels: [Int32], classes c: Int) -> [Double] {
        let n = labels.count
        return (0..<n).map { b in
            let label = Int(labels[b])
            precondition(label >= 0 && label < c, "SoftmaxCrossEntropy: label \(label) not in 0..<\(c)")
            return logSumExp(logits, sample: b, batch: n, classes: c) - Double(logits[label * n + b])
        }
    }

    /// log Σₖ exp(logits[k][b]) for sample `b` of a [C][N] batch, shifted by the largest logit.
    @inline(__always)
    static func logSumExp(_ logits: UnsafePointer<Float>, sample b: Int, batch n: Int, classes c: Int) -> Double {
        var mx = -Float.infinity
        for k in 0..<c { mx = max(mx, logits[k * n + b]) }
        var sum: Double = 0
        for k in 0..<c { sum += Double((logits[k * n + b] - mx).exp) }
        return Double(mx) + log(sum)
    }

    /// Index of the largest logit for each sample.
    public static func argmax(logits: UnsafePointer<Float>, classes c: Int, batch n: Int) -> [Int] {
        (0..<n).map { b in
            var best = 0
            for k in 1..<c where logits[k * n + b] > logits[best * n + b] { best = k }
            return best
        }
    }
}

extension Float {
    @usableFromInline var exp: Float { Foundation.exp(self) }
}
