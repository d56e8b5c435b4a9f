// Refusing duplicate and stale updates before aggregation (PROTOCOL.md §4.4): one accepted
// update per (device, round), base versions within a staleness bound, closed rounds refused.

/// Admits each (device, round) once, and only from a fresh enough model version.
public struct UpdateGate: Sendable {
    /// How many versions behind the current model a base version may be (0: must be current).
    public let maxStaleness: UInt64
    /// Rounds older than `currentRound - window` are closed; their updates are STALE.
    public let window: UInt64
    private var accepted: [UInt64: Set<String>] = [:]

    /// A gate tolerating `maxStaleness` versions and remembering `window` rounds (≥ 1).
    public init(maxStaleness: UInt64 = 0, window: UInt64 = 8) {
        precondition(window >= 1, "UpdateGate: window must be at least one round")
        self.maxStaleness = maxStaleness
        self.window = window
    }

    /// Records the update if admissible; otherwise throws DUPLICATE, STALE or UNEXPECTED.
    /// `currentRound` is the coordinator's open round, `currentVersion` its model version.
    public mutating func admit(deviceID: String, round: UInt64, baseModelVersion: UInt64,
                               currentRound: UInt64, currentVersion: UInt64) throws {
        let oldestOpen = currentRound >= window ? currentRound - window + 1 : 0
        guard round >= oldestOpen else {
            throw WireError.stale(deviceID: deviceID, reason: "round \(round) is closed (open rounds: \(oldestOpen)...\(currentRound))")
        }
        guard round <= currentRound else {
            throw WireError.unexpected(kind: .update, reason: "round \(round) has not started (current round \(currentRound))")
        }
        guard baseModelVersion <= currentVersion else {
            throw WireError.unexpected(kind: .update, reason: "base model version \(baseModelVersion) is newer than the coordinator's \(currentVersion)")
        }
        guard currentVersion - baseModelVersion <= maxStaleness else {
            throw WireError.stale(deviceID: deviceID, reason: "base model version \(baseModelVersion) is \(currentVersion - baseModelVersion) versions behind \(currentVersion) (at most \(maxStaleness) allowed)")
        }
        guard !(accepted[round]?.contains(deviceID) ?? false) else {
            throw WireError.duplicate(deviceID: deviceID, round: round)
        }
        accepted[round, default: []].insert(deviceID)
        accepted = accepted.filter { $0.key >= oldestOpen }
    }

    /// Whether an update for (device, round) was already admitted.
    public func hasAccepted(deviceID: String, round: UInt64) -> Bool {
        accepted[round]?.contains(deviceID) ?? false
    }

    /// Convenience: `admit` with the fields of a decoded update.
    public mutating func admit(_ update: UpdateMessage, currentRound: UInt64, currentVersion: UInt64) throws {
        try admit(deviceID: update.deviceID, round: update.round, baseModelVersion: update.baseModelVersion,
                  currentRound: currentRound, currentVersion: currentVersion)
    }
}
