// Wraps a device's policy for one task and records every plan it hands out, so the device knows
// exactly which channels it touched (a channel trained with a zero gradient is still "touched").
import Engine

/// A policy that delegates to `inner` and remembers the union of its plans.
struct RecordingPolicy: UpdatePolicy {
    /// The device's real policy (its state advances as usual).
    var inner: any UpdatePolicy
    /// Unit → input channels trained by at least one step.
    var weightChannels: [Int: Set<Int32>] = [:]
    /// Units whose bias trained.
    var biasUnits: Set<Int> = []
    /// Whether the classifier trained.
    var trainedClassifier = false

    /// The wrapped policy's name.
    var name: String { inner.name }

    /// The next plan of `inner`, recorded.
    mutating func nextPlan() -> UpdatePlan {
        let plan = inner.nextPlan()
        for (u, c) in plan.weightChannels { weightChannels[u, default: []].formUnion(c) }
        biasUnits.formUnion(plan.biasUnits)
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
