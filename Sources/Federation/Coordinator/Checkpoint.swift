// The coordinator's crash-safe checkpoint: one safetensors file, `checkpoint.safetensors`, in
// the run folder, written after every round (temporary file, fsync, rename: a reader sees the
// old checkpoint or the new one, never half of one). Tensors: `model/<name>` (the folded
// global model) and `momentum/<position>` (FedAvgM buffers); `__metadata__["state"]` is the
// JSON of `CheckpointState`, `__metadata__["config"]` the configuration it belongs to.
//
// Sampling needs no saved RNG: round r samples with SplitMix64(seed ^ r·φ), so the round number
// is the whole sampling state.
import Engine
import Foundation
import Wire

/// The counters and per-device state the coordinator carries from round to round.
public struct CheckpointState: Codable, Equatable, Sendable {
    /// Last round completed (aggregated or skipped) and checkpointed.
    public var round: UInt64
    /// Global model version after that round.
    public var modelVersion: UInt64
    /// Rounds completed in this run (equals `round`).
    public var completed: Int
    /// Rounds skipped so far.
    public var skipped: Int
    /// Sum and count of UPDATE sizes (for the summary's mean).
    public var updateBytesSum: Int
    /// Count of UPDATEs aggregated.
    public var updateCount: Int
    /// Total bytes sent so far.
    public var totalDown: Int
    /// Total bytes received so far.
    public var totalUp: Int
    /// Initial test accuracy and loss (the summary reports them).
    public var initialAccuracy: Double
    /// Initial test loss.
    public var initialLoss: Double
    /// Test accuracy after the last round.
    public var lastAccuracy: Double
    /// Test loss after the last round.
    public var lastLoss: Double
    /// Schema position → channels touched so far (cumulative coverage).
    public var everTouched: [String: [Int]]
    /// Device → its last personalised accuracy report.
    public var personalFinal: [String: Double]
    /// Rounds whose aggregate was refused and not applied (nil in checkpoints from before it was counted).
    public var refusedRounds: Int? = nil
    /// Coordinates held back by the robust rules so far.
    public var heldBackCoordinates: Int? = nil
    /// Rounds charged to the privacy accountant (DP runs).
    public var privacyRounds: Int? = nil
    /// The secure rounds' tally so far (secure aggregation).
    public var secureAggregation: SecureAggregationSummary? = nil
    /// Device → private-split accuracy before its first local training (nil in older checkpoints).
    public var personalInitial: [String: Double]? = nil
    /// Device → the largest peak SRAM bytes its tasks reported (nil in older checkpoints).
    public var peakMemory: [String: Int]? = nil
}

/// What a checkpoint holds.
public struct Checkpoint {
    /// Counters and per-device state.
    public var state: CheckpointState
    /// The global model, one dense array per schema tensor.
    public var model: [[Float]]
    /// The aggregation rule's state (momentum buffers).
    public var server: ServerState

    /// File name inside the run folder.
    public static let fileName = "checkpoint.safetensors"

    /// A checkpoint.
    public init(state: CheckpointState, model: [[Float]], server: ServerState) {
        self.state = state; self.model = model; self.server = server
    }

    /// Writes atomically into `folder`: `<file>.tmp`, fsync, rename. `beforeRename` runs between
    /// the write and the rename (the fault-injection hook).
    public func write(folder: String, schema: ModelSchema, config: FederationConfig, beforeRename: () -> Void = {}) throws {
        var file = SafeTensors()
        for (i, spec) in schema.tensors.enumerated() { file.tensors["model/" + spec.name] = Tensor(shape: spec.shape, data: model[i]) }
        for (i, v) in server.momentum { file.tensors["momentum/\(i)"] = Tensor(shape: [v.count], data: v) }
        let e = JSONEncoder()
        e.outputFormatting = [.sortedKeys]
        file.metadata = ["state": String(decoding: try e.encode(state), as: UTF8.self),
                         "config": String(decoding: try config.json(), as: UTF8.self), "format": "sparsefleet-checkpoint-1"]
        let path = folder + "/" + Self.fileName, tmp = path + ".tmp"
        let data = file.encoded()
        guard FileManager.default.createFile(atPath: tmp, contents: data), let h = FileHandle(forWritingAtPath: tmp) else {
            throw ConfigError.invalid(path: tmp, reason: "cannot write the checkpoint; check that the run folder is writable and not full")
        }
        try h.synchronize()
        try h.close()
        beforeRename()
        guard rename(tmp, path) == 0 else {
            throw ConfigError.invalid(path: path, reason: "cannot rename the checkpoint into place (errno \(errno))")
        }
    }

    /// Reads the checkpoint in `folder`, or nil when there is none. Throws when it is unreadable
    /// or belongs to another configuration.
    public static func load(folder: String, schema: ModelSchema, config: FederationConfig) throws -> Checkpoint? {
        let path = folder + "/" + fileName
        guard FileManager.default.fileExists(atPath: path) else { return nil }
        let file = try SafeTensors.read(path: path)
        func bad(_ reason: String) -> ConfigError { .invalid(path: path, reason: reason) }
        guard file.metadata["format"] == "sparsefleet-checkpoint-1", let stateText = file.metadata["state"],
              let configText = file.metadata["config"] else { throw bad("not a SparseFleet checkpoint (no format/state/config metadata)") }
        let saved = try FederationConfig.parse(Data(configText.utf8), source: path)
        guard saved == config else {
            throw bad("was written for a different configuration; resume with the configuration of that run (\(folder)/config.json) or use a new --run-dir")
        }
        let state = try JSONDecoder().decode(CheckpointState.self, from: Data(stateText.utf8))
        var model: [[Float]] = []
        for spec in schema.tensors {
            guard let t = file.tensors["model/" + spec.name], t.count == spec.elementCount else {
                throw bad("tensor model/\(spec.name) is missing or has the wrong size")
            }
            model.append(t.data)
        }
        var server = ServerState()
        for (name, t) in file.tensors where name.hasPrefix("momentum/") {
            guard let i = Int(name.dropFirst("momentum/".count)), i >= 0, i < schema.tensors.count,
                  t.count == schema.tensors[i].elementCount else { throw bad("momentum tensor \(name) does not fit the model") }
            server.momentum[i] = t.data
        }
        return Checkpoint(state: state, model: model, server: server)
    }
}
