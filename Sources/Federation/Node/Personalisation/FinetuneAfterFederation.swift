// The finetune baseline: after the last round, each device trains a copy of the final global
// model for k local steps on its own shard (its policy, its memory plan and budget, its rates
// under its local schedule) and is measured on that copy. Nothing is sent and the global model
// is not changed: a Network is a value, and the session is built for this one use.
import Engine

/// Fine-tuning of the final global model on one device.
enum FinetuneAfterFederation {
    /// `global` after `steps` local steps of a fresh session of `settings`' policy over the
    /// device's `layout`, fed from `source` (`shardCount` samples).
    static func model(from global: Network, steps: Int, settings: ResolvedDevice, layout: SparseLayout, source: TrainingSource,
                      shardCount: Int, seed: UInt64) throws -> Network {
        let s = DeviceSession(id: 2, shard: Array(0..<shardCount), network: global,
                              policy: PolicyFactory.make(settings.policy, layout: layout, network: global, seed: seed), layout: layout,
                              dynamic: settings.search.dynamic, seed: seed)
        let config = LocalTrainingConfig(batch: settings.batch, learningRates: settings.learningRate, memory: settings.memory, budget: settings.budget)
        try s.train(steps: steps, from: 0, of: steps, schedule: settings.localSchedule, config: config, source: source, trainer: Trainer())
        return s.network
    }
}
