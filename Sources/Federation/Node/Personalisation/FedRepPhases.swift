// FedRep's two phases of a task (Collins et al., ICML 2021): first the personal head with the body
// frozen, then the shared body with the head frozen. Under DGSU the body phase is DGSU's own
// sparse channel steps; the head phase leaves the policy's state alone.
import Engine

/// The head phase: every step trains the classifier alone.
struct FedRepHeadPhase: UpdatePolicy {
    var name: String { "fedrep-head" }
    mutating func nextPlan() -> UpdatePlan { UpdatePlan(trainClassifier: true) }
}

/// The body phase: the device's policy, with the classifier frozen.
struct FedRepBodyPhase: UpdatePolicy {
    /// The device's policy (its state advances as usual).
    var inner: any UpdatePolicy
    var name: String { inner.name }

    mutating func nextPlan() -> UpdatePlan {
        var plan = inner.nextPlan()
        plan.trainClassifier = false
        return plan
    }

    var wantsWeightNorms: Bool { inner.wantsWeightNorms }

    mutating func observe(_ feedback: StepFeedback, plan: UpdatePlan) {
        inner.observe(feedback, plan: plan)
    }
}

/// One FedRep task on a device's session.
enum FedRepTask {
    /// `headSteps` steps of the head alone, then `bodySteps` steps of `s`'s own policy (which must
    /// freeze the head: `FedRepBodyPhase`, inside the recording policy), each phase under
    /// `schedule` from its first step. `afterHead` sees the model between the phases. Returns
    /// the head's step count and the body's stats.
    static func train(_ s: DeviceSession, headSteps: Int, bodySteps: Int, schedule: LearningRateSchedule, config: LocalTrainingConfig,
                      source: TrainingSource, trainer: Trainer, afterHead: ((Network) -> Void)? = nil) throws -> (headSteps: Int, body: LocalStats) {
        let body = s.policy
        s.policy = FedRepHeadPhase()
        let head: LocalStats
        do {
            head = try s.train(steps: headSteps, from: 0, of: headSteps, schedule: schedule, config: config, source: source, trainer: trainer)
        } catch {
            s.policy = body
            throw error
        }
        s.policy = body
        afterHead?(s.network)
        let stats = try s.train(steps: bodySteps, from: 0, of: bodySteps, schedule: schedule, config: config, source: source, trainer: trainer)
        return (head.steps, stats)
    }
}
