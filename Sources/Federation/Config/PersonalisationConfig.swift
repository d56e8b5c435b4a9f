// Personalisation: the private test split every device is measured on, and the method by which a
// device ends up with its own model (local only, fine-tuning, FedPer, FedRep or Ditto).
import Engine

/// FedPer-style personal parameters that never leave the device.
public enum PersonalParameters: String, Codable, Sendable, CaseIterable {
    /// Everything trained is shared.
    case none
    /// The classifier (weight and bias) stays personal.
    case head
    /// The conv biases and the classifier bias stay personal.
    case biases
    /// Classifier and conv biases stay personal.
    case headAndBiases = "head+biases"
}

/// How a device personalises (`personalisation.method`); each method's device side is in
/// `Federation/Node/Personalisation/`.
public enum PersonalisationMethod: String, Codable, Sendable, CaseIterable {
    /// Each device trains only on its shard, from the initial model, the same steps in the same
    /// rounds as the federated methods, and sends no UPDATE: the baseline a fleet must beat.
    case local
    /// FedAvg, then `finetuneSteps` local steps on the final global model (the global model is
    /// not changed; the fine-tuned copy is the device's).
    case finetune
    /// FedAvg with `personal` parameters that never leave the device (FedPer, Arivazhagan et al.
    /// 2019); `personal: none` is plain FedAvg.
    case fedper
    /// FedRep (Collins et al., ICML 2021): every task first trains the personal head with the
    /// body frozen (`headSteps`), then the shared body with the head frozen (the local steps).
    case fedrep
    /// Ditto (Li et al., ICML 2021): the FedAvg update as usual, and a personal model v trained
    /// on F_k(v) + λ/2‖v − w‖² towards the round's global model w (`lambda`).
    case ditto

    /// Whether the device holds a second, personal copy of what it can update (Ditto).
    public var holdsPersonalCopy: Bool { self == .ditto }
    /// Whether the device sends UPDATEs.
    public var sendsUpdates: Bool { self != .local }
}

/// Personalisation settings.
public struct PersonalisationConfig: Codable, Equatable, Sendable {
    /// Fraction of each device's shard held out as its private test split (same label distribution).
    public var testFraction = 0.2
    /// The method.
    public var method: PersonalisationMethod = .fedper
    /// fedper: which parameters stay personal.
    public var personal: PersonalParameters = .none
    /// finetune: local steps on the final global model.
    public var finetuneSteps = 20
    /// fedrep: head steps per task, before the body's local steps.
    public var headSteps = 5
    /// ditto: the pull λ of the personal model towards the global one.
    public var lambda = 0.1

    /// Largest `finetuneSteps` and `headSteps`.
    public static let maxSteps = 100_000

    /// A fifth of each shard held out, FedAvg with nothing personal.
    public init() {}

    enum CodingKeys: String, CodingKey { case testFraction, method, personal, finetuneSteps, headSteps, lambda }

    /// Decodes, with every key but `testFraction` optional (configurations written before the
    /// methods existed are FedPer).
    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        testFraction = try c.decodeIfPresent(Double.self, forKey: .testFraction) ?? 0.2
        method = try c.decodeIfPresent(PersonalisationMethod.self, forKey: .method) ?? .fedper
        personal = try c.decodeIfPresent(PersonalParameters.self, forKey: .personal) ?? .none
        finetuneSteps = try c.decodeIfPresent(Int.self, forKey: .finetuneSteps) ?? 20
        headSteps = try c.decodeIfPresent(Int.self, forKey: .headSteps) ?? 5
        lambda = try c.decodeIfPresent(Double.self, forKey: .lambda) ?? 0.1
    }

    /// The schema positions a device with `layout` keeps to itself under this method: FedPer's
    /// `personal`, FedRep's head, everything it trains when local, nothing for finetune and Ditto
    /// (Ditto's personal model is a separate copy; its shared training sends everything).
    public func personalTensors(_ layout: SparseLayout, arch: Architecture) -> Set<Int> {
        switch method {
        case .fedper: return ModelTensors.personalTensors(layout, arch: arch, personal: personal)
        case .fedrep: return ModelTensors.personalTensors(layout, arch: arch, personal: .head)
        case .local: return ModelTensors.trainableTensors(layout, arch: arch)
        case .finetune, .ditto: return []
        }
    }

    /// The tensors a device with `layout` may send: trainable and not personal.
    public func sharedTensors(_ layout: SparseLayout, arch: Architecture) -> Set<Int> {
        ModelTensors.trainableTensors(layout, arch: arch).subtracting(personalTensors(layout, arch: arch))
    }

    /// Checks the settings against each other and against `config`.
    func validate(_ config: FederationConfig) throws {
        func bad(_ field: String, _ reason: String) -> ConfigError { .invalid(path: "personalisation.\(field)", reason: reason) }
        guard testFraction > 0, testFraction < 1 else { throw bad("testFraction", "must be in (0, 1)") }
        if personal != .none, method != .fedper {
            throw bad("personal", "is FedPer's setting; method \(method.rawValue) decides what is personal itself (fedrep: the head, local: everything, finetune and ditto: a separate copy). Remove `personal` or use method fedper")
        }
        guard (0...Self.maxSteps).contains(finetuneSteps) else { throw bad("finetuneSteps", "must be in 0...\(Self.maxSteps) (local steps on the final global model)") }
        guard (1...Self.maxSteps).contains(headSteps) else { throw bad("headSteps", "must be in 1...\(Self.maxSteps) (FedRep's head steps per task)") }
        guard lambda.isFinite, lambda >= 0 else { throw bad("lambda", "must be a finite number ≥ 0 (Ditto's pull towards the global model; 0 trains the personal model alone)") }
        if method == .fedrep, let d = config.resolvedDevices.first(where: { $0.policy == .head }) {
            throw bad("method", "fedrep trains the personal head, then the shared body; device '\(d.id)' runs policy head, which has no body to share. Give it a policy that trains more (bias, static, dgsu, random), or choose fedper with personal: head")
        }
        if method == .local {
            if config.privacy.enabled {
                throw bad("method", "local sends no updates, so differential privacy has nothing to protect; set privacy.enabled: false, or choose a federated method")
            }
            if config.secureAggregation.enabled {
                throw bad("method", "local sends no updates, so secure aggregation has nothing to mask; set secureAggregation.enabled: false, or choose a federated method")
            }
        }
        if config.attacks.membership, method != .fedper {
            throw bad("method", "the membership attacks (attacks.membership) replay FedPer's procedure in their shadow models; \(method.rawValue) is not replayed yet. Use method fedper, or turn the attacks off")
        }
    }
}
