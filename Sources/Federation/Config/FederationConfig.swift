// The federation's configuration: model, data, partitioning, devices, rounds, aggregation,
// encoding, personalisation, privacy, secure aggregation, attacks and CURVE keys. One JSON file
// read by the coordinator and by every node (issue 8's launcher generates it from a YAML topology). Every field but `devices` has a
// default; a given field overrides its default, objects merge key by key. Example:
//
//   { "seed": 7,
//     "model": {"name": "tiny", "resolution": 16, "pretrained": true, "weights": null},
//     "dataset": {"name": "synthetic", "syntheticCount": 800, "trainSamples": 0, "testSamples": 0},
//     "partition": {"kind": "dirichlet", "alpha": 0.5, "minShard": 20},      // or iid, or classes + classesPerDevice
//     "deviceDefaults": {"budget": 262144, "policy": "dgsu", "localSteps": 10, "batch": 1, "learningRate": 0.05,
//                        "memory": {"precision": "int8", "placement": "external", "fused": true, "batch": 1, "masterWeights": false},
//                        "search": {"maxBiasUnits": 12, "maxWeightLayers": 4, "ratio": 0.125, "dynamic": true}},
//     "devices": [{"id": "dev-0"}, {"id": "dev-1", "budget": 131072, "policy": "static", "localSteps": 5}],
//     "rounds": {"count": 3, "sampleFraction": 1.0, "minUpdates": 1, "deadlineMs": 30000, "joinWaitMs": 30000,
//                "keepVersions": 4, "finalWaitMs": 10000},
//     "aggregation": {"rule": "mean", "serverLearningRate": 1.0, "momentum": 0.0, "trim": 0.1,  // or median, trimmed-mean
//                     "maxUpdateNorm": null, "minContributors": 3},  // null: lr · localSteps · 100 per device
//     "encoding": "f32",                                                       // or f16, int8
//     "personalisation": {"testFraction": 0.2, "personal": "none"},          // or head, biases, head+biases
//     "secureAggregation": {"mode": "candidates"},   // or dealt, dealt+dgsu; off by default (SecureAggregationConfig.swift)
//     "curve": {"serverPublicKey": "<Z85>",
//               "clients": [{"publicKey": "<Z85>", "node": "node-1", "devices": ["dev-0", "dev-1"]}, ...]},
//     "heartbeatMs": 500 }
import Engine
import Foundation
import Wire

/// The whole configuration of a federated run.
public struct FederationConfig: Codable, Equatable, Sendable {
    /// Master seed: partitioning, sampling, device RNGs and classifier init derive from it.
    public var seed: UInt64 = 1
    /// Model settings.
    public var model = ModelConfig()
    /// Data-set settings.
    public var dataset = DatasetConfig()
    /// How the training set is dealt to devices.
    public var partition = PartitionConfig()
    /// Settings every device inherits unless it overrides them.
    public var deviceDefaults = DeviceDefaults()
    /// The admitted devices, in any order (ids must be unique).
    public var devices: [DeviceConfig] = []
    /// Round schedule and failure handling.
    public var rounds = RoundConfig()
    /// Server-side aggregation.
    public var aggregation = AggregationConfig()
    /// Value encoding of UPDATE deltas: f32, f16 or int8.
    public var encoding: EncodingName = .f32
    /// Personalisation (private test split, FedPer-style personal parameters).
    public var personalisation = PersonalisationConfig()
    /// CURVE security; nil runs plain (loopback tests and benchmarks only).
    public var curve: CurveConfig? = nil
    /// Device-level differential privacy (PrivacyConfig.swift); off by default.
    public var privacy = PrivacyConfig()
    /// Secure aggregation of the updates (SecureAggregationConfig.swift); off by default.
    public var secureAggregation = SecureAggregationConfig()
    /// Attacks run after the final round to measure what the models leak.
    public var attacks = AttacksConfig()
    /// Heartbeat interval of every peer, in milliseconds.
    public var heartbeatMs: Int = 500

    /// A configuration with every default and no devices.
    public init() {}

    /// Reads and validates a JSON configuration file.
    public static func load(path: String) throws -> FederationConfig {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw ConfigError.unreadable(path: path)
        }
        let config = try parse(data, source: path)
        try config.validate()
        return config
    }

    /// Decodes JSON in which every field is optional: given fields override the defaults.
    public static func parse(_ data: Data, source: String = "configuration") throws -> FederationConfig {
        do {
            return try DefaultsMerging.decode(data, defaults: FederationConfig())
        } catch let error as DecodingError {
            throw ConfigError.invalid(path: source, reason: ConfigError.explain(error))
        } catch let error as ConfigError {
            throw error
        } catch {
            throw ConfigError.invalid(path: source, reason: "not valid JSON (\(error.localizedDescription))")
        }
    }

    /// The JSON text of this configuration (sorted keys, pretty).
    public func json() throws -> Data {
        let e = JSONEncoder()
        e.outputFormatting = [.prettyPrinted, .sortedKeys]
        return try e.encode(self)
    }

    /// The resolved settings of every device, sorted by id.
    public var resolvedDevices: [ResolvedDevice] {
        devices.map(resolve).sorted { $0.id < $1.id }
    }

    /// The device named `id`, resolved, if it is configured.
    public func device(_ id: String) -> ResolvedDevice? {
        devices.first { $0.id == id }.map(resolve)
    }

    /// `d` with its unset fields from the defaults, and the memory the personalisation method
    /// holds (Ditto's personal copy).
    public func resolve(_ d: DeviceConfig) -> ResolvedDevice {
        var r = ResolvedDevice(d, defaults: deviceDefaults)
        r.memory.personalCopy = personalisation.method.holdsPersonalCopy
        return r
    }

    /// Checks every rule; throws a `ConfigError` naming the first problem and its fix.
    public func validate() throws {
        func bad(_ field: String, _ reason: String) -> ConfigError { .invalid(path: field, reason: reason) }
        guard !devices.isEmpty else { throw bad("devices", "no devices configured; list at least one {\"id\": ...}") }
        var seen = Set<String>()
        for d in devices {
            guard !d.id.isEmpty, d.id.utf8.count <= 255 else { throw bad("devices", "device id '\(d.id)' must be 1 to 255 bytes") }
            guard seen.insert(d.id).inserted else { throw bad("devices", "device id '\(d.id)' appears twice; ids must be unique") }
            let r = resolve(d)
            guard r.budget > 0 else { throw bad("devices[\(d.id)].budget", "must be positive bytes, e.g. 262144") }
            guard r.localSteps >= 1 else { throw bad("devices[\(d.id)].localSteps", "must be at least 1") }
            guard r.batch >= 1 else { throw bad("devices[\(d.id)].batch", "must be at least 1") }
            if let problem = r.learningRate.problem { throw bad("devices[\(d.id)].learningRate", "\(problem) (a number, or {\"head\": …, \"bias\": …, \"weights\": …})") }
            guard r.policy != .dense else { throw bad("devices[\(d.id)].policy", "dense needs BatchNorm in training mode and a full model per device; use dgsu, static, random, bias or head") }
        }
        guard model.resolution >= 8 else { throw bad("model.resolution", "must be at least 8") }
        guard rounds.count >= 1 else { throw bad("rounds.count", "must be at least 1") }
        guard rounds.sampleFraction > 0, rounds.sampleFraction <= 1 else { throw bad("rounds.sampleFraction", "must be in (0, 1]") }
        guard rounds.minUpdates >= 1 else { throw bad("rounds.minUpdates", "must be at least 1") }
        guard rounds.deadlineMs >= 1 else { throw bad("rounds.deadlineMs", "must be at least 1 ms") }
        guard rounds.keepVersions >= 1 else { throw bad("rounds.keepVersions", "must be at least 1") }
        guard aggregation.serverLearningRate.isFinite, aggregation.serverLearningRate > 0 else {
            throw bad("aggregation.serverLearningRate", "must be finite and > 0 (1 is plain FedAvg)")
        }
        guard aggregation.momentum >= 0, aggregation.momentum < 1 else { throw bad("aggregation.momentum", "must be in [0, 1)") }
        guard aggregation.trim >= 0, aggregation.trim < 0.5 else { throw bad("aggregation.trim", "must be in [0, 0.5)") }
        if let n = aggregation.maxUpdateNorm, !(n.isFinite && n > 0) {
            throw bad("aggregation.maxUpdateNorm", "must be finite and > 0 (or null: learningRate · localSteps · \(Int(AggregationConfig.gradientNormBound)) per device)")
        }
        guard aggregation.minContributors >= 1 else { throw bad("aggregation.minContributors", "must be at least 1 (3 keeps median and trimmed mean robust)") }
        try personalisation.validate(self)
        guard heartbeatMs >= 10 else { throw bad("heartbeatMs", "must be at least 10 ms") }
        guard AttacksConfig.shadowModelRange.contains(attacks.shadowModels) else {
            let r = AttacksConfig.shadowModelRange
            throw bad("attacks.shadowModels", "\(attacks.shadowModels) is out of range; allowed \(r.lowerBound)...\(r.upperBound) (LiRA's shadow models per device group, default 4)")
        }
        if let curve { try curve.validate(configured: seen) }
        try privacy.validate(self)
        try secureAggregation.validate(self)
        guard partition.rule != nil else { throw bad("partition.kind", "'\(partition.kind)' is not iid, dirichlet or classes") }
        if partition.kind == "classes", partition.classesPerDevice < 1 { throw bad("partition.classesPerDevice", "must be at least 1") }
        if partition.kind == "dirichlet", !(partition.alpha > 0) { throw bad("partition.alpha", "must be > 0") }
    }
}

/// Which network, at which input size.
public struct ModelConfig: Codable, Equatable, Sendable {
    /// Model name (tiny, efficientnet-lite0, mobilenetv2, mobilenetv2-w0.35).
    public var name: ModelName = .tiny
    /// Weights file (safetensors); nil: the model's default pretrained weights, if any.
    public var weights: String? = nil
    /// Whether to start from pretrained weights when they exist.
    public var pretrained = true
    /// Square input resolution.
    public var resolution = 16
    /// A tiny net at 16×16, pretrained weights when available.
    public init() {}
}

/// Which data set, and how much of it.
public struct DatasetConfig: Codable, Equatable, Sendable {
    /// Data-set name (synthetic, fashion-mnist, mnist, cifar10).
    public var name: DatasetName = .synthetic
    /// Folder of the data set (nil: its default folder).
    public var directory: String? = nil
    /// Training samples used (the first ones of a seeded shuffle); 0: all.
    public var trainSamples = 0
    /// Samples of the global test split the coordinator evaluates on; 0: all.
    public var testSamples = 0
    /// Size of the synthetic training set (its test set is a fifth of it).
    public var syntheticCount = 2000
    /// The synthetic set, all of it.
    public init() {}
}

/// The partition rule of the training set.
public struct PartitionConfig: Codable, Equatable, Sendable {
    /// `iid`, `dirichlet` or `classes` (each device sees `classesPerDevice` classes).
    public var kind = "dirichlet"
    /// Dirichlet concentration α (smaller: more skewed).
    public var alpha = 0.5
    /// Fewest samples a Dirichlet shard may get.
    public var minShard = 20
    /// Classes per device for `classes`.
    public var classesPerDevice = 2
    /// Dirichlet(0.5), every shard at least 20 samples.
    public init() {}

    /// The Engine's partition rule, or nil for an unknown kind.
    public var rule: Partitioning? {
        switch kind {
        case "iid": return .iid
        case "dirichlet": return .dirichlet(alpha: alpha, minShard: minShard)
        case "classes": return .classesPerDevice(classesPerDevice)
        default: return nil
        }
    }
}

/// Settings every device inherits.
public struct DeviceDefaults: Codable, Equatable, Sendable {
    /// SRAM budget in bytes.
    public var budget = 256 * 1024
    /// Sparse-update policy.
    public var policy: PolicyKind = .dgsu
    /// Local SGD steps per task.
    public var localSteps = 10
    /// Samples per step.
    public var batch = 1
    /// SGD learning rate.
    public var learningRate: LearningRates = 0.05
    /// How the rates change over a task's local steps (restarting every task).
    public var localSchedule: LearningRateSchedule = .constant
    /// The memory model (precision, placement, fused).
    public var memory = MemoryOptions()
    /// Layout search knobs (bias units, weight layers, ratio).
    public var search = LayoutSearchOptions()
    /// 256 KB, DGSU, 10 steps of batch 1 at lr 0.05.
    public init() {}
}

/// One device: an id and optional overrides of `DeviceDefaults`.
public struct DeviceConfig: Codable, Equatable, Sendable {
    /// Fleet-unique device id.
    public var id: String
    /// SRAM budget in bytes.
    public var budget: Int? = nil
    /// Policy.
    public var policy: PolicyKind? = nil
    /// Local steps per task.
    public var localSteps: Int? = nil
    /// Samples per step.
    public var batch: Int? = nil
    /// Learning rate.
    public var learningRate: LearningRates? = nil
    /// Schedule of the rates over a task's local steps.
    public var localSchedule: LearningRateSchedule? = nil
    /// A device with every setting inherited.
    public init(id: String) { self.id = id }
}

/// A device's settings with the defaults filled in.
public struct ResolvedDevice: Equatable, Sendable {
    /// Device id.
    public var id: String
    /// SRAM budget in bytes.
    public var budget: Int
    /// Policy.
    public var policy: PolicyKind
    /// Local steps per task.
    public var localSteps: Int
    /// Samples per step.
    public var batch: Int
    /// Learning rate.
    public var learningRate: LearningRates
    /// Schedule of the rates over a task's local steps.
    public var localSchedule: LearningRateSchedule
    /// The memory model, at this device's batch.
    public var memory: MemoryOptions
    /// Layout search knobs, with `dynamic` set for the policy.
    public var search: LayoutSearchOptions

    /// Fills `d`'s unset fields from `defaults`.
    public init(_ d: DeviceConfig, defaults: DeviceDefaults) {
        id = d.id
        budget = d.budget ?? defaults.budget
        policy = d.policy ?? defaults.policy
        localSteps = d.localSteps ?? defaults.localSteps
        batch = d.batch ?? defaults.batch
        learningRate = d.learningRate ?? defaults.learningRate
        localSchedule = d.localSchedule ?? defaults.localSchedule
        memory = defaults.memory
        memory.batch = batch
        // Dense training runs BatchNorm in training mode, which has no int8 form: it computes,
        // and is counted, in fp32.
        if policy == .dense { memory.precision = .fp32 }
        search = defaults.search
        search.dynamic = PolicyFactory.isDynamic(policy)
    }
}

/// Round schedule and failure handling.
public struct RoundConfig: Codable, Equatable, Sendable {
    /// Number of rounds.
    public var count = 3
    /// Fraction of the live devices sampled per round (at least one device).
    public var sampleFraction = 1.0
    /// Fewest accepted updates for a round to aggregate; fewer: the round is skipped, model unchanged.
    public var minUpdates = 1
    /// Milliseconds after the tasks are sent at which the round closes; later updates are STALE.
    public var deadlineMs = 30_000
    /// Milliseconds to wait for every configured device to join before round 1 (then start with those live).
    public var joinWaitMs = 30_000
    /// Past model versions kept to build PATCHes for nodes that hold them.
    public var keepVersions = 4
    /// Milliseconds to wait after the last round for the devices' final personalised evaluation.
    public var finalWaitMs = 10_000
    /// Whether the coordinator assigns each sampled device its input channels per update layer
    /// (disjoint rotating blocks, fleet-level coverage) instead of letting its policy choose.
    public var coordinatedSchedule = false
    /// How the devices' learning rates decay over the rounds: round r's tasks carry each group's
    /// rates × this schedule's factor at r − 1 of `count` (constant: the group's rates every round).
    public var lrSchedule: LearningRateSchedule = .constant
    /// 3 rounds, everyone sampled, 30 s deadline.
    public init() {}

    /// `base` as round `round` (1-based; clamped to 1...count) trains with it under `lrSchedule`.
    public func rates(_ base: LearningRates, round: UInt64) -> LearningRates {
        lrSchedule.rates(base, step: Int(max(1, min(round, UInt64(count)))) - 1, of: count)
    }
}

/// Attacks run after the final round.
public struct AttacksConfig: Codable, Equatable, Sendable {
    /// The membership attacks on every device, against the global and the personalised model
    /// (AUC, advantage, TPR at 0.1 % and 1 % FPR in summary.json): the loss threshold, and LiRA
    /// offline with `shadowModels` shadow models per device group on each node.
    public var membership = false
    /// LiRA's OUT shadow models each node trains per device group (ShadowModels.swift).
    public var shadowModels = 4
    /// The allowed `shadowModels`: LiRA needs 2 to estimate a spread; 64 keeps a node's cost bounded.
    public static let shadowModelRange = 2...64
    /// None.
    public init() {}
}

/// Names of the aggregation rules.
public enum AggregationRuleName: String, Codable, Sendable, CaseIterable {
    /// Per-coordinate sample-weighted mean over the touching devices (FedAvg; FedAvgM with momentum).
    case mean
    /// Per-coordinate median over the touching devices.
    case median
    /// Per-coordinate trimmed mean over the touching devices.
    case trimmedMean = "trimmed-mean"
}

/// Server-side aggregation settings.
public struct AggregationConfig: Codable, Equatable, Sendable {
    /// The rule.
    public var rule: AggregationRuleName = .mean
    /// Server learning rate η_s.
    public var serverLearningRate: Float = 1
    /// Server momentum β (FedAvgM, `mean` only); 0: none.
    public var momentum: Float = 0
    /// Fraction trimmed from each end by `trimmed-mean`.
    public var trim = 0.1
    /// Largest L2 norm an UPDATE's delta may have; a larger one is refused (OUT_OF_RANGE) and
    /// never aggregated. nil: per device, learningRate · localSteps · `gradientNormBound`.
    public var maxUpdateNorm: Double? = nil
    /// Fewest devices that must touch a coordinate for `median` / `trimmed-mean` to move it;
    /// elsewhere it keeps its value for the round (one device alone is its own median).
    public var minContributors = 3
    /// Plain per-coordinate FedAvg.
    public init() {}

    /// The gradient-norm bound behind the default `maxUpdateNorm`: SGD moves a device by at most
    /// lr · ‖g‖ per step, and honest gradients of the models here stay far below this.
    public static let gradientNormBound = 100.0

    /// The largest update norm admitted from `device`.
    public func maxUpdateNorm(for device: ResolvedDevice) -> Double {
        maxUpdateNorm ?? Double(device.learningRate.largest) * Double(device.localSteps) * Self.gradientNormBound
    }

    private enum CodingKeys: String, CodingKey { case rule, serverLearningRate, momentum, trim, maxUpdateNorm, minContributors }

    /// Encodes every field, `maxUpdateNorm` as null when it is derived.
    public func encode(to encoder: Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(rule, forKey: .rule)
        try c.encode(serverLearningRate, forKey: .serverLearningRate)
        try c.encode(momentum, forKey: .momentum)
        try c.encode(trim, forKey: .trim)
        try c.encode(maxUpdateNorm, forKey: .maxUpdateNorm)
        try c.encode(minContributors, forKey: .minContributors)
    }
}

/// Delta value encodings by name.
public enum EncodingName: String, Codable, Sendable, CaseIterable {
    /// 4 bytes per value.
    case f32
    /// 2 bytes per value.
    case f16
    /// 1 byte per value plus a scale per tensor.
    case int8

    /// The wire encoding.
    public var encoding: ValueEncoding {
        switch self {
        case .f32: return .f32
        case .f16: return .f16
        case .int8: return .int8
        }
    }
}

/// CURVE keys: the coordinator's public key and the allow list, which binds each node key to
/// the one node name and the devices it may serve.
public struct CurveConfig: Codable, Equatable, Sendable {
    /// The coordinator's public key (Z85); its secret key is given to the coordinator separately.
    public var serverPublicKey: String
    /// The nodes allowed in, one entry per key.
    public var clients: [CurveClient]
    /// Keys as given.
    public init(serverPublicKey: String, clients: [CurveClient]) {
        self.serverPublicKey = serverPublicKey; self.clients = clients
    }

    /// Public keys of the nodes allowed in.
    public var clientPublicKeys: [String] { clients.map(\.publicKey) }

    /// The allow-list entry of `key`, if it has one.
    public func client(key: String) -> CurveClient? { clients.first { $0.publicKey == key } }

    /// Keys well-formed and unique, node names unique, every device served by exactly one key
    /// and configured (`configured`).
    func validate(configured: Set<String>) throws {
        func bad(_ field: String, _ reason: String) -> ConfigError { .invalid(path: field, reason: reason) }
        for key in [serverPublicKey] + clientPublicKeys where key.utf8.count != 40 {
            throw bad("curve", "key '\(key.prefix(8))…' is not a 40-character Z85 key; generate keys with `fleet keys`")
        }
        guard !clients.isEmpty else { throw bad("curve.clients", "list every node: {\"publicKey\", \"node\", \"devices\"}") }
        var keys = Set<String>(), names = Set<String>(), served: [String: String] = [:]
        for c in clients {
            guard keys.insert(c.publicKey).inserted else { throw bad("curve.clients", "key '\(c.publicKey.prefix(8))…' is listed twice; give every node its own key") }
            guard !c.node.isEmpty, names.insert(c.node).inserted else { throw bad("curve.clients", "node name '\(c.node)' is empty or listed twice") }
            for d in c.devices {
                guard configured.contains(d) else { throw bad("curve.clients[\(c.node)]", "device '\(d)' is not configured; fix the device list") }
                if let other = served.updateValue(c.node, forKey: d) {
                    throw bad("curve.clients[\(c.node)]", "device '\(d)' is already served by node '\(other)'; a device belongs to one node")
                }
            }
        }
        if let orphan = configured.sorted().first(where: { served[$0] == nil }) {
            throw bad("curve.clients", "device '\(orphan)' is served by no node key, so it could never join; add it to one node's devices")
        }
    }
}

/// One allow-list entry: a node's CURVE public key, its name and the devices it may serve.
public struct CurveClient: Codable, Equatable, Sendable {
    /// The node's public key (Z85).
    public var publicKey: String
    /// The only node name this key may JOIN as.
    public var node: String
    /// The only devices this key may serve.
    public var devices: [String]
    /// An entry.
    public init(publicKey: String, node: String, devices: [String]) {
        self.publicKey = publicKey; self.node = node; self.devices = devices
    }
}

/// A configuration that cannot be used.
public enum ConfigError: Error, CustomStringConvertible, Equatable {
    /// The file cannot be read.
    case unreadable(path: String)
    /// A field is wrong.
    case invalid(path: String, reason: String)

    /// The problem and the fix.
    public var description: String {
        switch self {
        case let .unreadable(path): return "cannot read configuration '\(path)'; check the path (the fleet launcher writes it into the run folder)"
        case let .invalid(path, reason): return "configuration \(path): \(reason)"
        }
    }

    /// A readable explanation of a JSON decoding error.
    static func explain(_ error: DecodingError) -> String {
        func path(_ c: DecodingError.Context) -> String { c.codingPath.map(\.stringValue).joined(separator: ".") }
        switch error {
        case let .keyNotFound(key, c): return "missing field '\(key.stringValue)' at '\(path(c))'"
        case let .typeMismatch(_, c): return "wrong type at '\(path(c))': \(c.debugDescription)"
        case let .valueNotFound(_, c): return "missing value at '\(path(c))'"
        case let .dataCorrupted(c): return "invalid value at '\(path(c))': \(c.debugDescription)"
        @unknown default: return "\(error)"
        }
    }
}
