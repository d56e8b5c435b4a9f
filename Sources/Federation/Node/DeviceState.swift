// What a restarted node needs to carry a device on where it was: policy state, batch-order
// position, coverage, personal parameters and the last outcome (the answer to a repeated task).
// Saved per device, atomically, by `DeviceStateStore` (`node run --state-dir`).
import Engine
import Foundation
import Wire

/// A device's policy state. Policies whose plan follows from the layout alone save nothing.
enum SavedPolicy: Codable {
    /// DGSU: importance, weight norms, ages.
    case dgsu(DGSUPolicy)
    /// Random: its generator.
    case random(RandomPolicy)
    /// Static: the channels it chose once (from the weights of its first task).
    case fixedPlan(UpdatePlan)
    /// Dense, head, bias: rebuilt from the layout.
    case stateless

    /// The saved form of `policy`.
    init(_ policy: any UpdatePolicy) {
        switch policy {
        case let p as DGSUPolicy: self = .dgsu(p)
        case let p as RandomPolicy: self = .random(p)
        case let p as StaticPolicy: self = .fixedPlan(p.plan)
        default: self = .stateless
        }
    }

    /// The restored policy, or nil when the factory rebuilds it.
    var policy: (any UpdatePolicy)? {
        switch self {
        case let .dgsu(p): return p
        case let .random(p): return p
        case let .fixedPlan(plan): return StaticPolicy(plan: plan)
        case .stateless: return nil
        }
    }
}

/// One tensor slice of a saved UPDATE, as trained (before wire encoding).
struct SavedTensorDelta: Codable, Equatable {
    var name: String
    /// nil: every channel.
    var channels: [Int]?
    var values: [Float]
    var encoding: UInt8

    init(_ t: TensorDelta) {
        name = t.name
        if case let .subset(c) = t.channels { channels = c } else { channels = nil }
        values = t.values
        encoding = t.encoding.rawValue
    }

    var delta: TensorDelta {
        TensorDelta(name: name, channels: channels.map { .subset($0) } ?? .all, values: values, encoding: ValueEncoding(rawValue: encoding) ?? .f32)
    }
}

/// A device's last `TaskOutcome`, saved so that a repeated task gets the same answer.
struct SavedOutcome: Codable, Equatable {
    var deviceID: String
    var round: UInt64
    var baseModelVersion: UInt64
    var sampleCount: UInt64
    var steps: UInt32
    var lossLast: Double
    var accuracy: Double
    var peakMemoryBytes: UInt64
    var samplesSeen: UInt64
    var computeSeconds: Double
    var tensors: [SavedTensorDelta]
    var personalBefore: Double
    var personalAfter: Double
    var trainLoss: Double

    init(_ o: TaskOutcome) {
        let u = o.update
        deviceID = u.deviceID; round = u.round; baseModelVersion = u.baseModelVersion; sampleCount = u.sampleCount
        steps = u.metrics.steps; lossLast = Double(u.metrics.lossLast); accuracy = Double(u.metrics.accuracy)
        peakMemoryBytes = u.metrics.peakMemoryBytes; samplesSeen = u.metrics.samplesSeen; computeSeconds = Double(u.metrics.computeSeconds)
        tensors = u.delta.tensors.map(SavedTensorDelta.init)
        personalBefore = o.personalBefore; personalAfter = o.personalAfter; trainLoss = o.trainLoss
    }

    var outcome: TaskOutcome {
        var m = PBTrainingMetrics()
        m.steps = steps
        m.lossLast = .init(lossLast)
        m.accuracy = .init(accuracy)
        m.peakMemoryBytes = peakMemoryBytes
        m.samplesSeen = samplesSeen
        m.computeSeconds = .init(computeSeconds)
        let update = UpdateMessage(deviceID: deviceID, round: round, baseModelVersion: baseModelVersion, sampleCount: sampleCount,
                                   metrics: m, delta: SparseDelta(tensors.map(\.delta)))
        return TaskOutcome(update: update, personalBefore: personalBefore, personalAfter: personalAfter, trainLoss: trainLoss)
    }
}

/// Everything a restarted node restores for one device.
struct DeviceState: Codable {
    /// The file format (`DeviceState.currentFormat`).
    var format: Int
    /// The device.
    var deviceID: String
    /// The configured policy kind the state belongs to.
    var policyKind: String
    /// nil until the device has trained once.
    var policy: SavedPolicy?
    /// nil until the device has trained once.
    var batch: BatchPosition?
    /// nil until the device has trained once.
    var coverage: CoverageTracker?
    /// Schema position → personal values.
    var personal: [Int: [Float]]
    /// The last outcome, if any.
    var lastResult: SavedOutcome?
    /// Ditto: the personal model on the tensors of its copy (nil for other methods, and until the
    /// first task). Its policy and batch order start afresh on a restart.
    var personalModel: [Int: [Float]]? = nil

    /// The format this build writes and reads.
    static let currentFormat = 1
}
