// The shadow models a node trains for LiRA: one set of K per device group among the devices it
// hosts (devices of one group share the training procedure, so they share their OUT models).
//
// Choices (ShadowModels.swift says what a shadow replays):
// - Start: the run's initial global model (version 1, rebuilt from the configuration exactly as
//   the coordinator builds it), not the released final model. The final model was trained on the
//   members; a shadow trained on from it would inherit the memorisation the attack measures, and
//   the members would not be OUT for it. Carlini et al.'s shadows start where the target started.
//   Personal parameters thus start where a new device's do: at the initial model's values.
// - Length: rounds completed × the group's localSteps: the local steps of a device sampled in
//   every round (the node does not learn how often each device was sampled; the global model
//   moved in every round).
// - Data: shadow j's is a seeded subset of the global test set (disjoint from every shard and
//   private split) the size of the group's median training shard on this node; the whole test
//   set when that is smaller (the shadows then differ by batch order and policy seed only).
// - Seeds: from the configuration seed, the group's index among the configuration's distinct
//   procedures (the same on every node) and j, so a group's shadows do not depend on which node
//   trains them.
import Engine

/// The shadow models of the groups of a node's devices.
struct NodeShadows {
    /// Device id → its group's shadows.
    let byDevice: [String: ShadowModels]
    /// Groups trained for.
    let groups: Int
    /// Local steps trained, over every shadow.
    let steps: Int

    /// `FederatedData.deviceSeed` purposes of a shadow's sample and of its training.
    static let samplePurpose: UInt64 = 13, trainingPurpose: UInt64 = 14

    /// A device's training procedure: its settings without its id.
    static func procedure(_ d: ResolvedDevice) -> ResolvedDevice {
        var p = d
        p.id = ""
        return p
    }

    /// The distinct procedures of the configured devices, in the id order of their first device.
    static func procedures(_ config: FederationConfig) -> [ResolvedDevice] {
        var out: [ResolvedDevice] = []
        for d in config.resolvedDevices.map(procedure) where !out.contains(d) { out.append(d) }
        return out
    }

    /// Trains `config.attacks.shadowModels` shadows for each group of `devices`, for `rounds`
    /// rounds' worth of local steps (at least 1 round).
    init(devices: [VirtualDevice], config: FederationConfig, classes: Int, rounds: Int) throws {
        precondition(rounds >= 1, "NodeShadows: no round was completed, so there is no procedure to replay")
        let all = Self.procedures(config)
        var members: [Int: [VirtualDevice]] = [:]
        for d in devices { members[all.firstIndex(of: Self.procedure(d.settings))!, default: []].append(d) }
        let initial = try DevicePlans.initialModel(config, classes: classes)
        let test = try FederatedData.testSet(config)
        let pre = Preprocessing.imageNet(size: config.model.resolution)
        let k = config.attacks.shadowModels, stride = AttacksConfig.shadowModelRange.upperBound
        var byDevice: [String: ShadowModels] = [:], steps = 0
        for (group, hosted) in members.sorted(by: { $0.key < $1.key }) {
            let first = hosted[0], settings = all[group]
            let sizes = hosted.map(\.sampleCount).sorted()
            let size = sizes[sizes.count / 2]
            let index = (0..<k).map { group * stride + $0 }
            let samples = index.map {
                ShadowModels.sample(size, of: test.count, seed: FederatedData.deviceSeed(config, index: $0, purpose: Self.samplePurpose))
            }
            let shadows = try ShadowModels(start: initial, settings: settings, layout: first.layout, block: first.cacheBlock, aux: test,
                                           samples: samples, seeds: index.map { FederatedData.deviceSeed(config, index: $0, purpose: Self.trainingPurpose) },
                                           steps: rounds * settings.localSteps, rounds: config.rounds, preprocessing: pre)
            for d in hosted { byDevice[d.id] = shadows }
            steps += k * rounds * settings.localSteps
        }
        self.byDevice = byDevice
        groups = members.count
        self.steps = steps
    }
}
