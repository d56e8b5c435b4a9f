// Wraps a device's policy for one task and records every plan it hands out, so the device knows
// exactly which channels it touched (a channel trained with a zero gradient is still "touched").
import Engine

/// A policy that delegates to `inner` and remembers the union of its plans.
struct RecordingPolicy: UpdatePolicy {
    /// The device's real policy (its state advances as usual).
    var inner: any UpdatePolicy
    /// Unit → one flag per input channel, set once a step trained it (a bitmap: every step adds
    /// its channels, and hashing them into sets cost as much as DGSU's choice).
    private var touched: [Int: [Bool]] = [:]
    /// Units whose bias trained.
    var biasUnits: Set<Int> = []
    /// Whether the classifier trained.
    var trainedClassifier = false

    /// Wraps `inner`.
    init(inner: any UpdatePolicy) { self.inner = inner }

    /// The wrapped policy's name.
    var name: String { inner.name }

    /// Unit → input channels trained by at least one step, in increasing order.
    var weightChannels: [Int: [Int]] {
        touched.mapValues { flags in flags.indices.filter { flags[$0] } }
    }

    /// The next plan of `inner`, recorded.
    mutating func nextPlan() -> UpdatePlan {
        let plan = inner.nextPlan()
        for (u, chans) in plan.weightChannels {
            guard let top = chans.max() else { continue }
            var flags = touched.removeValue(forKey: u) ?? []
            if flags.count <= Int(top) { flags += [Bool](repeating: false, count: Int(top) + 1 - flags.count) }
            for c in chans { flags[Int(c)] = true }
            touched[u] = flags
        }
        if !plan.biasUnits.isSubset(of: biasUnits) { biasUnits.formUnion(plan.biasUnits) }
        if plan.trainClassifier { trainedClassifier = true }
        return plan
    }

    /// Whether `inner` reads the trained channels' weight norms.
    var wantsWeightNorms: Bool { inner.wantsWeightNorms }

    /// Passes the feedback to `inner`.
    mutating func observe(_ feedback: StepFeedback, plan: UpdatePlan) {
        inner.observe(feedback, plan: plan)
    }
}
