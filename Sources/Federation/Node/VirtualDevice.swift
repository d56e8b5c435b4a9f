// One simulated device hosted by a node: its private data, budget, layout, policy state, RNG and
// personal parameters. Between rounds it holds no model copy: training starts from the node's
// shared global model (copy-on-write, so only the tensors it writes are copied) and the trained
// network is dropped once the delta has been taken.
import Engine
import Foundation
import Privacy
import Wire

/// What one task produced.
public struct TaskOutcome: Sendable {
    /// The UPDATE to send.
    public var update: UpdateMessage
    /// Personalised accuracy on the private test split before and after local training.
    public var personalBefore: Double
    /// After local training.
    public var personalAfter: Double
    /// Mean training loss.
    public var trainLoss: Double
    /// Whether DP clipping scaled the update down (reported; its norm is not).
    public var clipped = false
}

/// A TASK's channel assignment that does not fit the device.
public struct AssignmentError: Error, CustomStringConvertible {
    /// The device.
    public var device: String
    /// What is wrong.
    public var reason: String
    /// The problem.
    public var description: String { "device '\(device)': channel assignment refused: \(reason)" }
}

/// A device: data, budget, layout, policy state, RNG and personal parameters.
public final class VirtualDevice: @unchecked Sendable {
    /// Device id.
    public let id: String
    /// Resolved settings.
    public let settings: ResolvedDevice
    /// Its sparse layout.
    public let layout: SparseLayout
    /// The block whose input the caches hold (everything before is frozen).
    public let cacheBlock: Int
    /// Training samples (private).
    public let trainData: ImageDataset
    /// Private test split (same label distribution).
    public let testData: ImageDataset
    /// Schema positions that never leave the device.
    public let personalTensors: Set<Int>
    /// The DP clip norm S of the whole shared update, when differential privacy is on.
    let clip: Double?
    /// Local DP: the noise multiplier z this device noises its own update with.
    let localNoise: Double?
    /// Seeds this device's local noise (with the round).
    let noiseSeed: UInt64
    /// Personal values of `personalTensors` (set at the first task).
    public private(set) var personal: [Int: [Float]] = [:]
    /// How this device personalises, with the method's settings.
    let personalisation: PersonalisationConfig
    /// Ditto: the personal model (nil for other methods).
    let ditto: DittoPersonalModel?
    private let arch: Architecture
    private let schema: ModelSchema
    private let resolution: Int
    private let seed: UInt64
    private var session: DeviceSession?
    private var trainCache: FeatureCache?
    private var testCache: FeatureCache?
    /// How this device computes: fp32, or int8 deployed from `deployment` and calibrated on its
    /// own first training images (then fixed, as a deployed device's activation ranges are).
    private lazy var arithmetic: DeviceArithmetic = {
        guard settings.memory.precision == .int8 else { return .fp32 }
        let calibration = trainData.count > 0 ? trainData : testData
        precondition(calibration.count > 0, "VirtualDevice: device \(id) has no images to calibrate on")
        return DeviceArithmetic.int8(calibrating: deployment, data: calibration, preprocessing: pre)
    }()
    /// The model int8 devices are deployed from: the run's initial model.
    private let deployment: Network
    private let pre: Preprocessing
    /// Saved state waiting for the session it restores (built at the first task).
    private var restored: DeviceState?

    /// A device over its shard of `train`.
    public init(settings: ResolvedDevice, index: Int, shard: DeviceShard, train: ImageDataset, config: FederationConfig,
                arch: Architecture, deployment: Network? = nil) throws {
        id = settings.id
        self.deployment = try deployment ?? DevicePlans.initialModel(config, classes: arch.classes)
        self.settings = settings
        clip = config.privacy.enabled ? config.privacy.clip : nil
        localNoise = config.privacy.mode == .local ? (try config.privacy.resolvedNoiseMultiplier(config)) : nil
        noiseSeed = FederatedData.deviceSeed(config, index: index, purpose: 7)
        self.arch = arch
        schema = ModelTensors.schema(arch)
        resolution = config.model.resolution
        layout = try DevicePlans.layout(settings, arch: arch, resolution: resolution)
        cacheBlock = DevicePlans.startBlock(layout, arch: arch)
        trainData = train.subset(shard.train)
        testData = train.subset(shard.test)
        seed = FederatedData.deviceSeed(config, index: index, purpose: 1)
        pre = Preprocessing.imageNet(size: resolution)
        personalisation = config.personalisation
        personalTensors = config.personalisation.personalTensors(layout, arch: arch)
        ditto = config.personalisation.method == .ditto
            ? DittoPersonalModel(lambda: config.personalisation.lambda, layout: layout, arch: arch, seed: FederatedData.deviceSeed(config, index: index, purpose: 13))
            : nil
        // A policy whose state does not depend on the model it starts from (DGSU refreshes its
        // weight norms at every task; random draws from its seed) is built with the device, so
        // that a node's memory is known once its devices are ready rather than growing as they
        // are first sampled. Static picks its channels from the model of its first task: built then.
        if settings.policy == .dgsu || settings.policy == .random { session = makeSession(self.deployment) }
    }

    /// The device's session over `network`, with the restored policy, batch order and coverage
    /// if a saved state is waiting.
    private func makeSession(_ network: Network) -> DeviceSession {
        let policy = restored?.policy?.policy ?? PolicyFactory.make(settings.policy, layout: layout, network: network, seed: seed)
        let s = DeviceSession(id: 0, shard: Array(0..<trainData.count), network: network, policy: policy, layout: layout,
                              dynamic: settings.search.dynamic, seed: seed)
        if let batch = restored?.batch { s.batchPosition = batch }
        if let coverage = restored?.coverage { s.coverage = coverage }
        return s
    }

    /// Whether the device holds feature caches now.
    public var holdsCaches: Bool { trainCache != nil || testCache != nil }

    /// Drops the feature caches (rebuilt from the global model's front when next needed): a node
    /// keeps them only for its recently sampled devices (`FeatureCacheBudget`).
    public func dropCaches() { trainCache = nil; testCache = nil }

    /// Samples the device trains on (n_k).
    public var sampleCount: Int { trainData.count }

    /// Drops the frozen-front caches (the global model changed before `cacheBlock`).
    public func invalidateCaches(ifFrontChangedAt unit: Int) {
        let startUnit = cacheBlock < arch.blocks.count ? arch.blocks[cacheBlock].units.lowerBound : arch.units.count
        if unit < startUnit { trainCache = nil; testCache = nil }
    }

    /// Points the device's idle session at the node's current global model, so that no device
    /// pins an old version between rounds (every device shares one copy-on-write model).
    public func share(_ global: Network) {
        session?.network = global
    }

    /// `global` with this device's personal parameters laid over it: the model it trains from.
    func personalised(_ global: Network) -> Network {
        var net = global
        for (i, v) in personal { ModelTensors.setTensor(&net, i, v) }
        return net
    }

    /// The model this device calls its own: Ditto's personal model, or `personalised(global)`.
    func personalModel(_ global: Network) -> Network {
        ditto?.model(over: global) ?? personalised(global)
    }

    /// Builds the caches from `global`'s frozen front if needed.
    private func caches(_ global: Network) -> (FeatureCache, FeatureCache) {
        let test = testFeatures(global)
        if trainCache == nil { trainCache = FeatureCache(net: global, data: trainData, preprocessing: pre, block: cacheBlock, arithmetic: arithmetic) }
        return (trainCache!, test)
    }

    /// Builds only the private test split's cache if needed (a final evaluation of a device that
    /// never trained needs no more: in a huge fleet that is most of them).
    private func testFeatures(_ global: Network) -> FeatureCache {
        if testCache == nil { testCache = FeatureCache(net: global, data: testData, preprocessing: pre, block: cacheBlock, arithmetic: arithmetic) }
        return testCache!
    }

    /// Accuracy of `net` on the private test split.
    func evaluate(_ net: Network, testCache: FeatureCache) -> Double {
        Evaluator.evaluate(net, cache: testCache, labels: testData.labels, indices: Array(0..<testData.count), size: resolution).accuracy
    }

    /// Personalised accuracy of the current global model (the after-the-final-round figure). With
    /// method finetune it is the accuracy after `finetuneSteps` local steps on a copy of `global`
    /// (`FinetuneAfterFederation`); `global` and this device's state are not changed.
    public func evaluateFinal(global: Network) throws -> Double {
        let test = testFeatures(global)
        guard personalisation.method == .finetune, personalisation.finetuneSteps > 0, trainData.count > 0 else {
            return evaluate(personalModel(global), testCache: test)
        }
        let (train, _) = caches(global)
        let tuned = try FinetuneAfterFederation.model(from: global, steps: personalisation.finetuneSteps, settings: settings, layout: layout,
                                                      source: .cache(train, labels: trainData.labels, imageSize: resolution), shardCount: trainData.count,
                                                      seed: seed ^ 0xF1_7E7E)
        return evaluate(tuned, testCache: test)
    }

    /// The loss-threshold membership attack (Yeom et al. 2018) on this device's data, against the
    /// released global model and against its personalised model: members are its training shard,
    /// non-members its private test split (same distribution, never trained on by anyone).
    /// Read-only: no model or policy state changes.
    public func membershipAttack(global: Network) -> (global: MembershipMetrics, personal: MembershipMetrics) {
        let (train, test) = caches(global)
        func attack(_ net: Network) -> MembershipMetrics {
            let m = Evaluator.perExample(net, cache: train, labels: trainData.labels, indices: Array(0..<trainData.count), size: resolution)
            let n = Evaluator.perExample(net, cache: test, labels: testData.labels, indices: Array(0..<testData.count), size: resolution)
            return MembershipMetrics(members: LossThresholdAttack.scores(losses: m.losses), nonMembers: LossThresholdAttack.scores(losses: n.losses))
        }
        return (attack(global), attack(personalised(global)))
    }

    /// LiRA offline (Carlini et al. 2022) on the same members and non-members, against the
    /// released global model and the personalised model, with `shadows`, the OUT models of this
    /// device's group. Both targets are tested against the same shadows: a shadow replays the
    /// whole procedure (shared and personal parameters) without the members, the OUT counterpart
    /// of either model. σ_out is always the global (pooled) one, Carlini et al.'s choice for few
    /// shadow models (`attacks.shadowModels` allows 2 to 64): a per-example σ from 4 shadows has 3
    /// degrees of freedom, and its small draws make non-members look like members at the low-FPR
    /// end (on a tiny-net leak like ShadowLiRATests', 16 members and 4 shadows: per-example AUC
    /// 0.86 but TPR at 1 % FPR 0.06; global 0.81 and 0.19). Read-only: no model or policy state changes.
    func liraAttack(global: Network, shadows: ShadowModels) -> (global: MembershipMetrics, personal: MembershipMetrics) {
        let (train, test) = caches(global)
        let shared = shadows.block == cacheBlock && shadows.sharesFront(with: global, arithmetic: train.arithmetic)
        let memberOut = shadows.confidences(trainData, cached: shared ? train : nil)
        let nonMemberOut = shadows.confidences(testData, cached: shared ? test : nil)
        let lira = LiRAOffline(variance: .global)
        func attack(_ net: Network) -> MembershipMetrics {
            let m = Evaluator.perExample(net, cache: train, labels: trainData.labels, indices: Array(0..<trainData.count), size: resolution)
            let n = Evaluator.perExample(net, cache: test, labels: testData.labels, indices: Array(0..<testData.count), size: resolution)
            return lira.metrics(members: m.trueClassProbabilities, memberOut: memberOut, nonMembers: n.trueClassProbabilities, nonMemberOut: nonMemberOut)
        }
        let g = attack(global)
        return (g, personal.isEmpty ? g : attack(personalised(global)))  // nothing personal: the same model
    }

    /// The dealt+dgsu block of a secure task as unit → allowed channels; nil for other tasks.
    /// Throws when the block names what is not one of this device's update layers.
    func secureBlock(_ task: PBTask) throws -> [Int: Set<Int32>]? {
        guard task.hasSecureAggregation, task.secureAggregation.mode == SecureAggregationMode.dealtDGSU.rawValue else { return nil }
        var out: [Int: Set<Int32>] = [:]
        for a in task.secureAggregation.block {
            guard let i = schema.position(of: a.tensor), i % 2 == 0, i < 2 * arch.units.count, let k = layout.weightChannels[i / 2] else {
                throw AssignmentError(device: id, reason: "block tensor '\(a.tensor)' is not the weight of one of this device's update layers")
            }
            guard a.channels.count >= k else {
                throw AssignmentError(device: id, reason: "the block of '\(a.tensor)' has \(a.channels.count) channels, fewer than the \(k) a step trains")
            }
            out[i / 2] = Set(a.channels.map { Int32($0) })
        }
        return out
    }

    /// The task's channel assignment as unit → channels, nil when it has none. Throws when it
    /// does not cover exactly the layout's update layers or exceeds their channel budget.
    func assignment(_ task: PBTask) throws -> [Int: [Int32]]? {
        guard !task.assignments.isEmpty else { return nil }
        var out: [Int: [Int32]] = [:]
        for a in task.assignments {
            guard let i = schema.position(of: a.tensor), i % 2 == 0, let k = layout.weightChannels[i / 2] else {
                throw AssignmentError(device: id, reason: "tensor '\(a.tensor)' is not the weight of one of this device's update layers")
            }
            guard a.channels.count <= k, !a.channels.isEmpty else {
                throw AssignmentError(device: id, reason: "\(a.channels.count) channels assigned for '\(a.tensor)'; the memory plan allows 1 to \(k)")
            }
            out[i / 2] = a.channels.map { Int32($0) }
        }
        guard Set(out.keys) == Set(layout.weightChannels.keys) else {
            throw AssignmentError(device: id, reason: "the assignment covers \(out.count) update layers; this device's layout has \(layout.weightChannels.count) (same configuration on coordinator and node?)")
        }
        return out
    }

    /// Runs `task` from `global` (version `version`) and returns the UPDATE of its touched
    /// channels in the task's encoding. Throws `MemoryOverflow` when a step exceeds the budget.
    public func run(task: PBTask, global: Network, version: UInt64) throws -> TaskOutcome {
        let start = Date()
        let (trainC, testC) = caches(global)
        let startNet = personalised(global)
        // What the device holds of it: an int8 device's deltas are differences of its int8 weights.
        let trainable = Set(layout.weightChannels.keys).union(layout.biasUnits)
        // An int8 device quantises the model it starts from once: its view (what its deltas are
        // differences from), its accuracy before the steps, and the steps' starting point.
        let startInt8 = trainC.arithmetic.precision == .int8 ? trainC.arithmetic.quantise(startNet, fromBlock: cacheBlock) : nil
        let startView = startInt8.map { $0.dequantized(over: startNet, units: trainable, classifier: true) }
            ?? trainC.arithmetic.deviceView(startNet, units: trainable, classifier: true)
        for i in personalTensors where personal[i] == nil { personal[i] = ModelTensors.tensor(global, i) }
        let before: Double
        if let q = startInt8, ditto == nil {
            before = Evaluator.evaluate(q, cache: testC, labels: testData.labels, indices: Array(0..<testData.count), size: resolution).accuracy
        } else {
            before = evaluate(ditto?.model(over: global) ?? startNet, testCache: testC)
        }
        if session == nil { session = makeSession(startNet) }
        restored = nil
        let s = session!
        s.network = startNet
        if let q = startInt8 { s.adopt(int8Model: q, fromBlock: cacheBlock, masterWeights: settings.memory.masterWeights) }
        // The round's global model replaced the weights DGSU last measured.
        if var d = s.policy as? DGSUPolicy { d.refreshWeightNorms(startNet); s.policy = d }
        // A coordinated task trains the assigned channels; the device's own policy sits it out
        // (its state does not advance).
        let assigned = try assignment(task)
        // Under secure aggregation's dealt+dgsu, DGSU picks only inside the dealt block.
        let block = try secureBlock(task)
        let own = s.policy
        var inner: any UpdatePolicy = assigned.map { AssignedPolicy(layout: layout, assignment: $0) } ?? own
        if let block {
            guard var d = own as? DGSUPolicy else {
                throw AssignmentError(device: id, reason: "dealt+dgsu needs the dgsu policy; this device runs \(own.name)")
            }
            d.allowed = block
            inner = d
        }
        let fedrep = personalisation.method == .fedrep
        if fedrep { inner = FedRepBodyPhase(inner: inner) }  // the body's steps leave the personal head alone
        s.policy = RecordingPolicy(inner: inner)
        defer {
            if assigned == nil, let r = s.policy as? RecordingPolicy {
                var kept = r.inner
                if let b = kept as? FedRepBodyPhase { kept = b.inner }
                if var d = kept as? DGSUPolicy, block != nil { d.allowed = nil; kept = d }
                s.policy = kept
            } else { s.policy = own }
            s.network = global  // drop the trained copy; share the global model again
        }
        let rates = task.hasLearningRates
            ? LearningRates(head: task.learningRates.head, bias: task.learningRates.bias, weights: task.learningRates.weights)
            : LearningRates(task.learningRate)
        let cfg = LocalTrainingConfig(batch: Int(task.batchSize), learningRates: rates, memory: settings.memory,
                                      budget: settings.budget)
        let steps = Int(task.localSteps)
        let source = TrainingSource.cache(trainC, labels: trainData.labels, imageSize: resolution)
        let trainer = Trainer()
        // The UPDATE's step count is that of the steps behind the shared delta (the coordinator
        // bounds it by the TASK's local steps): FedRep's head steps and Ditto's personal steps
        // produce nothing shared and are not in it.
        var stats: LocalStats
        if fedrep {  // FedRep: the personal head first with the body frozen, then the body with the head frozen
            (_, stats) = try FedRepTask.train(s, headSteps: personalisation.headSteps, bodySteps: steps, schedule: settings.localSchedule,
                                              config: cfg, source: source, trainer: trainer)
        } else {
            stats = try s.train(steps: steps, from: 0, of: steps, schedule: settings.localSchedule, config: cfg, source: source, trainer: trainer)
        }
        let trained = s.network
        guard let record = s.policy as? RecordingPolicy else { preconditionFailure("VirtualDevice: the recording policy was replaced") }
        for i in personalTensors { personal[i] = ModelTensors.tensor(trained, i) }
        if let ditto {  // Ditto: the personal model's own steps, towards this round's global model
            let p = try ditto.train(global: global, policy: settings.policy, dynamic: settings.search.dynamic, shardCount: trainData.count, steps: steps,
                                    schedule: settings.localSchedule, config: cfg, source: source, round: task.round)
            stats.peakBytes = max(stats.peakBytes, p.peakBytes)
        }
        // An int8 device is evaluated with the int8 model it holds after its steps.
        let held = ditto == nil ? s.heldInt8Model : nil
        let after = held.map { Evaluator.evaluate($0, cache: testC, labels: testData.labels, indices: Array(0..<testData.count), size: resolution).accuracy }
            ?? evaluate(ditto?.model(over: global) ?? trained, testCache: testC)

        let encoding = ValueEncoding(task.deltaEncoding) ?? .f32
        var tensors: [TensorDelta] = []
        func add(_ i: Int, _ channels: ChannelSelection) {
            guard !personalTensors.contains(i) else { return }
            let spec = schema.tensors[i]
            let a = TensorSlicing.gather(ModelTensors.tensor(trained, i), spec: spec, channels: channels)
            let b = TensorSlicing.gather(ModelTensors.tensor(startView, i), spec: spec, channels: channels)
            tensors.append(TensorDelta(name: spec.name, channels: channels, values: zip(a, b).map { $0 - $1 }, encoding: encoding))
        }
        let touchedChannels = record.weightChannels
        for u in 0..<arch.units.count {
            if let list = touchedChannels[u], !list.isEmpty {
                add(2 * u, list.count == schema.tensors[2 * u].channelCount ? .all : .subset(list))
            }
            if record.biasUnits.contains(u) { add(2 * u + 1, .all) }
        }
        if record.trainedClassifier {
            add(2 * arch.units.count, .all)
            add(2 * arch.units.count + 1, .all)
        }
        var m = PBTrainingMetrics()
        m.steps = UInt32(stats.steps)
        m.lossLast = stats.meanLoss
        m.accuracy = stats.accuracy
        m.peakMemoryBytes = UInt64(stats.peakBytes)
        m.samplesSeen = UInt64(stats.samples)
        m.computeSeconds = Date().timeIntervalSince(start)
        var clipped = false
        if let clip {  // DP-FedAvg: the whole shared update, jointly, to L2 norm S
            var values = tensors.map(\.values)
            clipped = L2Clipping.clip(&values, to: clip)
            for i in tensors.indices { tensors[i].values = values[i] }
            if let z = localNoise {
                let shared = ModelTensors.trainableTensors(layout, arch: arch).subtracting(personalTensors)
                tensors = LocalNoise.noised(tensors, shared: Array(shared), schema: schema, encoding: encoding, clip: clip,
                                            noiseMultiplier: z, seed: noiseSeed ^ (task.round &* 0x9E37_79B9_7F4A_7C15))
            }
        }
        let update = UpdateMessage(deviceID: id, round: task.round, baseModelVersion: version, sampleCount: UInt64(sampleCount),
                                   metrics: m, delta: SparseDelta(tensors))
        return TaskOutcome(update: update, personalBefore: before, personalAfter: after, trainLoss: stats.meanLoss, clipped: clipped)
    }

    /// What a restarted node needs to carry this device on (call on the training thread).
    func state(lastResult: TaskOutcome?) -> DeviceState {
        if let r = restored {  // not trained since the restore: keep what was restored
            var out = r
            out.personal = personal
            if let ditto { out.personalModel = ditto.values }
            out.lastResult = lastResult.map(SavedOutcome.init) ?? r.lastResult
            return out
        }
        return DeviceState(format: DeviceState.currentFormat, deviceID: id, policyKind: settings.policy.rawValue,
                           policy: session.map { SavedPolicy($0.policy) }, batch: session?.batchPosition, coverage: session?.coverage,
                           personal: personal, lastResult: lastResult.map(SavedOutcome.init), personalModel: ditto?.values)
    }

    /// Takes up `state` (saved by a previous run of this node); the policy, batch position and
    /// coverage apply when the first task builds the session. Throws when the state does not fit.
    func restore(_ state: DeviceState) throws {
        func refuse(_ reason: String) -> ConfigError {
            .invalid(path: "--state-dir (device '\(id)')", reason: "saved state refused: \(reason); delete its file in --state-dir to start the device afresh")
        }
        guard state.policyKind == settings.policy.rawValue else {
            throw refuse("it is for policy '\(state.policyKind)', the configuration says '\(settings.policy.rawValue)'")
        }
        switch state.policy {
        case let .dgsu(p)? where p.layout != layout: throw refuse("its DGSU layout differs from this configuration's")
        case let .random(p)? where p.layout != layout: throw refuse("its random-policy layout differs from this configuration's")
        default: break
        }
        guard Set(state.personal.keys).isSubset(of: personalTensors) else {
            throw refuse("it has personal tensors \(state.personal.keys.sorted()), this configuration keeps \(personalTensors.sorted())")
        }
        if let b = state.batch, b.cursor > b.order.count || b.order.contains(where: { $0 < 0 || $0 >= trainData.count }) {
            throw refuse("its batch order does not fit the device's \(trainData.count) training samples")
        }
        if let saved = state.personalModel {
            guard let ditto, ditto.restore(saved) else { throw refuse("it holds a Ditto personal model, which this configuration's method or layout does not keep") }
        }
        personal = state.personal
        restored = state
        if let s = session { session = makeSession(s.network) }  // a session built with the device takes the saved state now
    }
}
