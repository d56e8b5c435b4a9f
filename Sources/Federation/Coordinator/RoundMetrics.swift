// One line of metrics.jsonl per round, and the run summary.
import Foundation

/// What one round did, as written to metrics.jsonl.
public struct RoundMetrics: Codable, Equatable, Sendable {
    /// Round number (1-based).
    public var round: UInt64
    /// Global model version after the round.
    public var modelVersion: UInt64
    /// Whether the round was skipped (too few updates; model unchanged).
    public var skipped: Bool
    /// Aggregation rule.
    public var rule: String
    /// Global test accuracy after the round.
    public var testAccuracy: Double
    /// Global test loss after the round.
    public var testLoss: Double
    /// Devices sampled.
    public var sampled: [String]
    /// Devices whose update was aggregated.
    public var reporting: [String]
    /// Device → why it contributed nothing.
    public var failed: [String: String]
    /// Updates refused with an ERROR reply (malformed, stale, duplicate, ...).
    public var refusedMessages: Int
    /// Bytes sent by the coordinator during the round (all frames after the routing identity).
    public var bytesDown: Int
    /// Of which MODEL messages.
    public var modelBytesDown: Int
    /// Bytes received by the coordinator during the round.
    public var bytesUp: Int
    /// Bytes of the aggregated UPDATEs, per device.
    public var updateBytes: [String: Int]
    /// Mean UPDATE bytes per reporting device.
    public var meanUpdateBytes: Double
    /// The dense model in f32, bytes.
    public var denseModelBytes: Int
    /// meanUpdateBytes / denseModelBytes.
    public var updateFractionOfDense: Double
    /// Update-layer weight tensor → fraction of its channels touched this round.
    public var coverage: [String: Double]
    /// Update-layer weight tensor → fraction of its channels touched so far in the run.
    public var coverageCumulative: [String: Double]
    /// Tensor → channels touched by at least one aggregated update (the only ones that changed).
    public var touchedChannels: [String: [Int]]
    /// Personalised accuracy of the global model before local training, over reporting devices.
    public var personalBefore: Distribution?
    /// Personalised accuracy after local training.
    public var personalAfter: Distribution?
    /// Wall time of the round, seconds.
    public var wallSeconds: Double
    /// Why the round's aggregate was refused and not applied (a non-finite value); nil: applied or skipped.
    public var notApplied: String? = nil
    /// Coordinates median / trimmed mean left unchanged for fewer than `minContributors` touching devices.
    public var heldBackCoordinates: Int? = nil
    /// Training loss of the last local step, over the reporting devices (UPDATE.metrics).
    public var trainLoss: Distribution? = nil
    /// L2 norms of the aggregated updates' deltas (aggregation.maxUpdateNorm bounds each).
    public var updateNorm: Distribution? = nil
    /// ε spent after the round (DP runs; nil otherwise, or when no finite ε holds).
    public var epsilon: Double? = nil
    /// DP runs: reporting devices whose update clipping scaled down.
    public var clippedUpdates: Int? = nil
    /// Secure aggregation: what the round did and what the coordinator saw (nil without it).
    public var secureAggregation: SecureRoundReport? = nil
}

/// The run's final figures, written to summary.json.
public struct RunSummary: Codable, Equatable, Sendable {
    /// Rounds completed (aggregated or skipped).
    public var rounds: Int
    /// Rounds skipped.
    public var skippedRounds: Int
    /// Final global model version.
    public var modelVersion: UInt64
    /// Final global test accuracy.
    public var testAccuracy: Double
    /// Final global test loss.
    public var testLoss: Double
    /// Accuracy of the initial model on the test set.
    public var initialTestAccuracy: Double
    /// Device → personalised accuracy after the final round.
    public var personalFinal: [String: Double]
    /// Distribution of `personalFinal`.
    public var personalFinalDistribution: Distribution?
    /// Total bytes sent and received by the coordinator.
    public var bytesDown: Int
    /// Total bytes received.
    public var bytesUp: Int
    /// Mean UPDATE bytes per device per round over the run.
    public var meanUpdateBytes: Double
    /// The dense f32 model, bytes.
    public var denseModelBytes: Int
    /// Whether the run stopped on a signal before its last round.
    public var interrupted: Bool
    /// Wall time, seconds.
    public var wallSeconds: Double
    /// Rounds whose aggregate was refused (non-finite) and not applied.
    public var refusedRounds: Int? = nil
    /// Coordinates held back by the robust rules over the run.
    public var heldBackCoordinates: Int? = nil
    /// Whether node identities were authenticated (CURVE keys bound to node names and devices);
    /// false for plain tcp/ipc, where any peer may claim any configured name.
    public var identityAuthenticated: Bool? = nil
    /// Differential privacy: settings and ε spent (nil without DP).
    public var privacy: PrivacySummary? = nil
    /// Membership attacks after the final round (nil when not run).
    public var membership: MembershipSummary? = nil
    /// Secure aggregation: mode, guarantee, dropouts survived, overhead (nil without it).
    public var secureAggregation: SecureAggregationSummary? = nil
    /// The personalisation method (`local`, `finetune`, `fedper`, `fedrep`, `ditto`).
    public var personalisationMethod: String? = nil
    /// Device → private-split accuracy before its first local training (where it started).
    public var personalInitial: [String: Double]? = nil
    /// Device → the largest peak SRAM bytes its tasks reported.
    public var peakMemory: [String: Int]? = nil
}

/// The membership attacks' results over the devices (loss-threshold attack, Yeom et al. 2018, and
/// LiRA offline with shadow models, Carlini et al. 2022; figures as Carlini et al. recommend).
public struct MembershipSummary: Codable, Equatable, Sendable {
    /// Attack figure (`global_auc`, `personal_tpr_at_fpr_1`, `lira_global_auc`, …) → its distribution over devices.
    public var figures: [String: Distribution]
    /// Device → figure → value.
    public var perDevice: [String: [String: Double]]

    /// The summary of `perDevice` (keys `mia_<model>_<figure>`), nil when empty.
    public init?(_ perDevice: [String: [String: Double]]) {
        guard !perDevice.isEmpty else { return nil }
        var byFigure: [String: [Double]] = [:]
        var renamed: [String: [String: Double]] = [:]
        for (d, values) in perDevice {
            for (k, v) in values {
                let name = k.hasPrefix("mia_") ? String(k.dropFirst(4)) : k
                byFigure[name, default: []].append(v)
                renamed[d, default: [:]][name] = v
            }
        }
        figures = byFigure.compactMapValues { Distribution($0) }
        self.perDevice = renamed
    }
}

/// Appends JSON lines to a file.
public final class JSONLinesWriter {
    private let handle: FileHandle

    /// Creates (truncates) `path`.
    public init(path: String) throws {
        guard FileManager.default.createFile(atPath: path, contents: nil) , let h = FileHandle(forWritingAtPath: path) else {
            throw ConfigError.invalid(path: path, reason: "cannot create the metrics file; check that the run folder is writable")
        }
        handle = h
    }

    /// Opens `path` for appending after keeping only its first `keepLines` lines (a resumed
    /// run drops the lines of rounds after its checkpoint, which will be run again).
    public init(path: String, keepLines: Int) throws {
        let text = (try? String(contentsOfFile: path, encoding: .utf8)) ?? ""
        let kept = text.split(separator: "\n", omittingEmptySubsequences: true).prefix(keepLines).map { $0 + "\n" }.joined()
        guard FileManager.default.createFile(atPath: path, contents: Data(kept.utf8)), let h = FileHandle(forWritingAtPath: path) else {
            throw ConfigError.invalid(path: path, reason: "cannot open the metrics file; check that the run folder is writable")
        }
        h.seekToEndOfFile()
        handle = h
    }

    /// Appends one value as a line (sorted keys) and flushes; a non-finite number is written
    /// as the string "nan", "inf" or "-inf" rather than losing the line.
    public func append<T: Encodable>(_ value: T) throws {
        let e = JSONEncoder()
        e.outputFormatting = [.sortedKeys]
        e.nonConformingFloatEncodingStrategy = .convertToString(positiveInfinity: "inf", negativeInfinity: "-inf", nan: "nan")
        var data = try e.encode(value)
        data.append(UInt8(ascii: "\n"))
        handle.write(data)
        try? handle.synchronize()
    }

    deinit { try? handle.close() }
}
