// A fresh classifier fitted on a frozen network's pooled features: minibatch SGD over cached
// features, with a schedule. The int8-against-fp32 comparison (`engine-bench int8` and its test)
// deploys the result; with a constant rate the last iterate still wanders, and how far the int8
// forward falls behind fp32 then depends on where it stopped (−0.2 to −1.5 points between
// OpenBLAS kernel families, whose rounding alone sets a different path). Cosine decay to 0 ends
// each run at a settled classifier.
import Foundation

public enum ClassifierFit {
    /// Trains `net`'s classifier on `features` (cached at the head, so the classifier alone runs)
    /// for `epochs` passes in shuffled batches of `batch` (a last partial batch is dropped).
    public static func train(_ net: inout Network, features: FeatureCache, labels: [UInt8], epochs: Int, batch: Int = 32,
                             learningRate: Float, schedule: LearningRateSchedule = .cosine, seed: UInt64 = 7,
                             size: Int) throws {
        let head = net.arch.blocks.count
        let trainer = Trainer()
        var rng = SplitMix64(seed: seed)
        var order = Array(0..<labels.count)
        let perEpoch = labels.count / batch, total = perEpoch * epochs
        var t = 0
        for _ in 0..<epochs {
            order.shuffle(using: &rng)
            for s in stride(from: 0, to: perEpoch * batch, by: batch) {
                let idx = Array(order[s..<s + batch])
                try trainer.step(&net, input: features.batch(idx), inputBlock: head, labels: idx.map { Int32(labels[$0]) },
                                 height: size, width: size, plan: UpdatePlan(trainClassifier: true),
                                 learningRate: learningRate * schedule.factor(step: t, of: total))
                t += 1
            }
        }
    }
}
