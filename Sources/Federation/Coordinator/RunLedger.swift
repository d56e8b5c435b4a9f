// The coordinator's books: byte and message counters, rounds completed, skipped and refused,
// cumulative channel coverage and the devices' final accuracies. It turns a closed round into
// its metrics line, the books into the checkpoint state and back, and into summary.json, which
// is always written: a value JSON cannot hold is dropped with a warning, never the whole file.
import Foundation
import Logging
import Wire

/// Counters and per-run state of the coordinator.
public struct RunLedger: Sendable {
    /// Rounds completed (aggregated, skipped or refused).
    public private(set) var completed = 0
    /// Rounds skipped for too few updates.
    public private(set) var skipped = 0
    /// Rounds whose aggregate was refused (a non-finite value) and not applied.
    public private(set) var refusedRounds = 0
    /// Coordinates median / trimmed mean held back for too few contributors, over the run.
    public private(set) var heldBackCoordinates = 0
    private var updateBytesSum = 0, updateCount = 0
    /// Bytes sent and received over the run.
    public private(set) var totalDown = 0, totalUp = 0
    private var roundDown = 0, roundUp = 0, roundModelDown = 0, roundRefusedMessages = 0
    /// Initial test accuracy and loss.
    public let initial: (accuracy: Double, loss: Double)
    /// Test accuracy and loss after the last round.
    public private(set) var last: (accuracy: Double, loss: Double)
    private var everTouched: [Int: Set<Int>] = [:]
    /// Device → its personalised accuracy after the final round.
    public private(set) var personalFinal: [String: Double] = [:]

    /// A fresh run whose initial model scored `accuracy` and `loss`.
    public init(initialAccuracy: Double, initialLoss: Double) {
        initial = (initialAccuracy, initialLoss)
        last = initial
    }

    /// The books of a checkpoint.
    public init(restoring s: CheckpointState) {
        initial = (s.initialAccuracy, s.initialLoss)
        last = (s.lastAccuracy, s.lastLoss)
        (completed, skipped, updateBytesSum, updateCount, totalDown, totalUp) =
            (s.completed, s.skipped, s.updateBytesSum, s.updateCount, s.totalDown, s.totalUp)
        refusedRounds = s.refusedRounds ?? 0
        heldBackCoordinates = s.heldBackCoordinates ?? 0
        everTouched = Dictionary(uniqueKeysWithValues: s.everTouched.compactMap { k, v in Int(k).map { ($0, Set(v)) } })
        personalFinal = s.personalFinal
        personalInitial = s.personalInitial ?? [:]
        peakMemory = s.peakMemory ?? [:]
    }

    /// Counts `bytes` sent (of a MODEL when `model`).
    public mutating func sent(_ bytes: Int, model: Bool = false) {
        roundDown += bytes; totalDown += bytes
        if model { roundModelDown += bytes }
    }

    /// Counts `bytes` received.
    public mutating func received(_ bytes: Int) { roundUp += bytes; totalUp += bytes }

    /// Counts a message refused with ERROR.
    public mutating func refusedMessage() { roundRefusedMessages += 1 }

    /// Device → membership-attack figure (MetricKey.membership keys) → value, after the final round.
    public private(set) var membership: [String: [String: Double]] = [:]

    /// Records one membership-attack figure of a device (already checked to be in [0, 1]).
    public mutating func recordMembership(_ device: String, key: String, value: Double) { membership[device, default: [:]][key] = value }

    /// Records a device's final personalised accuracy (already checked to be in [0, 1]).
    public mutating func recordFinal(_ device: String, accuracy: Double) { personalFinal[device] = accuracy }

    /// Device → its private-split accuracy before its first local training (its first round's
    /// `personal_before`): where the device started.
    public private(set) var personalInitial: [String: Double] = [:]
    /// Device → the largest peak SRAM bytes its tasks reported.
    public private(set) var peakMemory: [String: Int] = [:]

    /// Records a device's accuracy before local training (kept only the first time).
    public mutating func recordBefore(_ device: String, accuracy: Double) {
        if personalInitial[device] == nil { personalInitial[device] = accuracy }
    }

    /// Records the peak SRAM bytes a device's task reported (already checked to be in range).
    public mutating func recordPeak(_ device: String, bytes: Int) { peakMemory[device] = max(peakMemory[device] ?? 0, bytes) }

    /// How a round ended, for `closeRound`.
    public struct RoundEnd {
        /// The round as collected.
        public var open: OpenRound
        /// Its aggregation (touched channels, held-back coordinates).
        public var aggregation: RoundAggregationResult
        /// Why the aggregate was not applied, if it was not.
        public var notApplied: String?
        /// Global evaluation after the round.
        public var evaluation: (accuracy: Double, loss: Double)
        /// Model version after the round.
        public var modelVersion: UInt64
        /// Rule name.
        public var rule: String
        /// When the round started.
        public var started: Date
        /// ε spent after the round (DP runs).
        public var epsilon: Double? = nil
        /// The secure round's report (secure aggregation).
        public var secure: SecureRoundReport? = nil
    }

    /// The metrics line of a closed round; the round's counters start again from zero.
    public mutating func closeRound(_ end: RoundEnd, schema: ModelSchema) -> RoundMetrics {
        let r = end.open
        let agg = end.aggregation
        completed += 1
        if agg.skipped { skipped += 1 }
        if end.notApplied != nil { refusedRounds += 1 }
        heldBackCoordinates += agg.outcome.heldBackCoordinates
        updateBytesSum += r.updateBytes.values.reduce(0, +)
        updateCount += r.updateBytes.count
        last = end.evaluation
        var coverage: [String: Double] = [:], cumulative: [String: Double] = [:], touched: [String: [Int]] = [:]
        let applied = !agg.skipped && end.notApplied == nil
        func isUpdateLayer(_ spec: TensorSpec) -> Bool { spec.shape.count == 4 && spec.channelAxis == 1 && spec.channelCount > 1 }
        if applied {
            for (i, chans) in agg.outcome.touchedChannels {
                let spec = schema.tensors[i]
                touched[spec.name] = chans
                everTouched[i, default: []].formUnion(chans)
                if isUpdateLayer(spec) { coverage[spec.name] = Double(chans.count) / Double(spec.channelCount) }
            }
        }
        for (i, chans) in everTouched where isUpdateLayer(schema.tensors[i]) {
            cumulative[schema.tensors[i].name] = Double(chans.count) / Double(schema.tensors[i].channelCount)
        }
        let reporting = r.secureSurvivors ?? (r.localDone.isEmpty ? r.results.keys.sorted() : r.localDone.sorted())
        let meanUpdate = r.updateBytes.isEmpty ? 0 : Double(r.updateBytes.values.reduce(0, +)) / Double(r.updateBytes.count)
        var failed = r.failures.mapValues(\.rawValue)
        if let why = end.notApplied { for id in reporting { failed[id] = failed[id] ?? "round-refused: \(why)" } }
        let m = RoundMetrics(
            round: r.round, modelVersion: end.modelVersion, skipped: agg.skipped, rule: end.rule,
            testAccuracy: end.evaluation.accuracy, testLoss: end.evaluation.loss, sampled: r.sampled, reporting: reporting,
            failed: failed, refusedMessages: roundRefusedMessages, bytesDown: roundDown,
            modelBytesDown: roundModelDown, bytesUp: roundUp, updateBytes: r.updateBytes, meanUpdateBytes: meanUpdate,
            denseModelBytes: schema.denseF32Bytes, updateFractionOfDense: meanUpdate / Double(schema.denseF32Bytes),
            coverage: coverage, coverageCumulative: cumulative, touchedChannels: touched,
            personalBefore: Distribution(reporting.compactMap { r.before[$0] }),
            personalAfter: Distribution(reporting.compactMap { r.after[$0] }),
            wallSeconds: Date().timeIntervalSince(end.started),
            notApplied: end.notApplied, heldBackCoordinates: agg.outcome.heldBackCoordinates,
            trainLoss: Distribution(reporting.compactMap { r.training[$0].map(\.lossLast) }),
            updateNorm: Distribution(reporting.compactMap { r.norms[$0] }),
            epsilon: end.epsilon.flatMap { $0.isFinite ? $0 : nil },
            clippedUpdates: end.epsilon == nil ? nil : reporting.filter { r.clipped[$0] == true }.count,
            secureAggregation: end.secure)
        roundDown = 0; roundUp = 0; roundModelDown = 0; roundRefusedMessages = 0
        return m
    }

    /// The checkpoint state after round `round` (the books as they stand).
    public func checkpointState(round: UInt64, modelVersion: UInt64) -> CheckpointState {
        CheckpointState(
            round: round, modelVersion: modelVersion, completed: completed, skipped: skipped, updateBytesSum: updateBytesSum,
            updateCount: updateCount, totalDown: totalDown, totalUp: totalUp, initialAccuracy: initial.accuracy,
            initialLoss: initial.loss, lastAccuracy: last.accuracy, lastLoss: last.loss,
            everTouched: Dictionary(uniqueKeysWithValues: everTouched.map { ("\($0.key)", $0.value.sorted()) }),
            personalFinal: personalFinal, refusedRounds: refusedRounds, heldBackCoordinates: heldBackCoordinates,
            personalInitial: personalInitial, peakMemory: peakMemory)
    }

    /// The run summary.
    public func summary(modelVersion: UInt64, denseModelBytes: Int, interrupted: Bool, wallSeconds: Double,
                        identityAuthenticated: Bool, privacy: PrivacySummary? = nil, secure: SecureAggregationSummary? = nil) -> RunSummary {
        RunSummary(
            rounds: completed, skippedRounds: skipped, modelVersion: modelVersion, testAccuracy: last.accuracy, testLoss: last.loss,
            initialTestAccuracy: initial.accuracy, personalFinal: personalFinal,
            personalFinalDistribution: Distribution(Array(personalFinal.values)), bytesDown: totalDown, bytesUp: totalUp,
            meanUpdateBytes: updateCount == 0 ? 0 : Double(updateBytesSum) / Double(updateCount),
            denseModelBytes: denseModelBytes, interrupted: interrupted, wallSeconds: wallSeconds,
            refusedRounds: refusedRounds, heldBackCoordinates: heldBackCoordinates, identityAuthenticated: identityAuthenticated,
            privacy: privacy, membership: MembershipSummary(membership), secureAggregation: secure,
            personalInitial: personalInitial, peakMemory: peakMemory)
    }

    /// Writes `summary` to `path`; a non-finite number is dropped (with a warning) rather than
    /// losing the file.
    public static func write(_ summary: RunSummary, to path: String, logger: Logger) throws {
        var s = summary
        var dropped: [String] = []
        for (k, v) in s.personalFinal where !v.isFinite { s.personalFinal[k] = nil; dropped.append("personalFinal[\(k)]") }
        if dropped.count > 0 { s.personalFinalDistribution = Distribution(Array(s.personalFinal.values)) }
        for (name, value) in [("testAccuracy", s.testAccuracy), ("testLoss", s.testLoss), ("initialTestAccuracy", s.initialTestAccuracy),
                              ("meanUpdateBytes", s.meanUpdateBytes), ("wallSeconds", s.wallSeconds)] where !value.isFinite {
            dropped.append(name)
        }
        if !s.testAccuracy.isFinite { s.testAccuracy = -1 }
        if !s.testLoss.isFinite { s.testLoss = -1 }
        if !s.initialTestAccuracy.isFinite { s.initialTestAccuracy = -1 }
        if !s.meanUpdateBytes.isFinite { s.meanUpdateBytes = 0 }
        if !s.wallSeconds.isFinite { s.wallSeconds = 0 }
        if !dropped.isEmpty {
            logger.warning("summary: values that JSON cannot hold were dropped (written as -1 or left out)", metadata: ["fields": "\(dropped.joined(separator: ","))"])
        }
        let e = JSONEncoder()
        e.outputFormatting = [.prettyPrinted, .sortedKeys]
        e.nonConformingFloatEncodingStrategy = .convertToString(positiveInfinity: "inf", negativeInfinity: "-inf", nan: "nan")
        try e.encode(s).write(to: URL(fileURLWithPath: path), options: .atomic)
    }
}
