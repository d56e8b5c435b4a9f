// Ditto's personal model (Li et al., ICML 2021) on one device: v, trained on the device's shard
// towards the round's global model w, min F_k(v) + λ/2‖v − w‖². Each local step is the device's
// own sparse step on v (its policy, its memory plan, its budget), then the proximal pull of the
// regulariser (`DeviceSession.pull`). v differs from w only where the device can update: the
// personal copy holds its update layers, trained biases and classifier (the planner charges it,
// `MemoryOptions.personalCopy`); everywhere else v is w, so a frozen layer is never personal.
import Engine

/// One device's Ditto personal model.
final class DittoPersonalModel {
    /// λ.
    let lambda: Float
    /// The schema positions the copy holds (every trainable tensor of the layout).
    let tensors: Set<Int>
    /// v on `tensors`; empty until the first task (v starts at the first global model it sees).
    private(set) var values: [Int: [Float]] = [:]
    private let layout: SparseLayout
    private let seed: UInt64
    private var session: DeviceSession?

    /// The personal model of a device with `layout`.
    init(lambda: Double, layout: SparseLayout, arch: Architecture, seed: UInt64) {
        self.lambda = Float(lambda)
        self.layout = layout
        self.seed = seed
        tensors = ModelTensors.trainableTensors(layout, arch: arch)
    }

    /// `global` with v laid over it (`global` itself before the first task).
    func model(over global: Network) -> Network {
        var net = global
        for (i, v) in values { ModelTensors.setTensor(&net, i, v) }
        return net
    }

    /// Takes up a saved v; false (nothing taken) when it holds other tensors than this layout's copy.
    func restore(_ saved: [Int: [Float]]) -> Bool {
        guard Set(saved.keys).isSubset(of: tensors) else { return false }
        values = saved
        return true
    }

    /// `steps` local steps of v from its value over `global`, each followed by the pull towards
    /// `global` at the step's rates; returns the steps run and their peak SRAM bytes. v is kept;
    /// the session drops its copy.
    func train(global: Network, policy: PolicyKind, dynamic: Bool, shardCount: Int, steps: Int, schedule: LearningRateSchedule,
               config: LocalTrainingConfig, source: TrainingSource, round: UInt64) throws -> (steps: Int, peakBytes: Int) {
        let start = model(over: global)
        let s = session ?? DeviceSession(id: 1, shard: Array(0..<shardCount), network: start,
                                         policy: PolicyFactory.make(policy, layout: layout, network: start, seed: seed), layout: layout,
                                         dynamic: dynamic, seed: seed)
        session = s
        s.network = start
        defer { s.network = global }
        if var d = s.policy as? DGSUPolicy { d.refreshWeightNorms(start); s.policy = d }
        let weightUnits = Set(layout.weightChannels.keys), biasUnits = Set(layout.biasUnits)
        let trainer = Trainer()
        var peak = 0
        for t in 0..<steps {
            var c = config
            c.learningRates = schedule.rates(config.learningRates, step: t, of: steps)
            let one = try s.train(steps: 1, config: c, source: source, trainer: trainer)
            s.pull(towards: global, lambda: lambda, rates: c.learningRates, weightUnits: weightUnits, biasUnits: biasUnits,
                   classifier: layout.trainClassifier, seed: seed ^ (round &* 0x9E37_79B9_7F4A_7C15) ^ UInt64(t))
            peak = max(peak, one.peakBytes)
        }
        let trained = s.network
        for i in tensors { values[i] = ModelTensors.tensor(trained, i) }
        return (steps, peak)
    }
}
