// Paranoid Pirate liveness (PROTOCOL.md §8) as pure values over a millisecond clock the caller
// supplies: any message is proof of life; a peer is dead after 3 missed intervals.

/// Last-seen times of peers, and which of them are dead.
public struct PeerLiveness<Peer: Hashable> {
    /// The heartbeat interval assumed for peers that did not announce their own.
    public let defaultIntervalMilliseconds: Int64
    /// Missed intervals after which a peer is dead (3 in SPFL/1).
    public let missedLimit: Int64
    private var lastSeen: [Peer: Int64] = [:]
    private var intervals: [Peer: Int64] = [:]

    /// Tracks peers with a default interval; dead after `missedLimit` silent intervals.
    public init(defaultIntervalMilliseconds: Int64 = 1000, missedLimit: Int64 = 3) {
        precondition(defaultIntervalMilliseconds > 0, "PeerLiveness: the interval must be positive")
        precondition(missedLimit >= 1, "PeerLiveness: at least one missed interval before death")
        self.defaultIntervalMilliseconds = defaultIntervalMilliseconds
        self.missedLimit = missedLimit
    }

    /// Records any message from `peer` at `now`; `interval` is the peer's announced one, if any.
    public mutating func heard(from peer: Peer, at now: Int64, interval: Int64? = nil) {
        lastSeen[peer] = max(lastSeen[peer] ?? now, now)
        if let interval {
            precondition(interval > 0, "PeerLiveness.heard: an announced interval must be positive")
            intervals[peer] = interval
        }
    }

    /// The time after which `peer` counts as dead, or nil for an unknown peer.
    public func deadline(of peer: Peer) -> Int64? {
        lastSeen[peer].map { $0 + missedLimit * (intervals[peer] ?? defaultIntervalMilliseconds) }
    }

    /// Whether `peer` is known and was heard from within its last `missedLimit` intervals.
    public func isAlive(_ peer: Peer, at now: Int64) -> Bool {
        guard let d = deadline(of: peer) else { return false }
        return now < d
    }

    /// Forgets every peer that is dead at `now`, and returns them.
    public mutating func reapDead(at now: Int64) -> [Peer] {
        let dead = lastSeen.keys.filter { !isAlive($0, at: now) }
        for p in dead { forget(p) }
        return dead
    }

    /// Forgets `peer` (after BYE, or when it is dead).
    public mutating func forget(_ peer: Peer) {
        lastSeen[peer] = nil
        intervals[peer] = nil
    }

    /// The peers currently tracked.
    public var peers: [Peer] { Array(lastSeen.keys) }
}

/// When this side must send a HEARTBEAT: after one interval in which it sent nothing.
public struct HeartbeatSchedule {
    /// This side's heartbeat interval.
    public let intervalMilliseconds: Int64
    private var lastSent: Int64?
    /// The sequence number for the next HEARTBEAT.
    public private(set) var nextSequence: UInt64 = 1

    /// A schedule with `intervalMilliseconds` between heartbeats when otherwise idle.
    public init(intervalMilliseconds: Int64 = 1000) {
        precondition(intervalMilliseconds > 0, "HeartbeatSchedule: the interval must be positive")
        self.intervalMilliseconds = intervalMilliseconds
    }

    /// Records that some message (of any kind) was sent at `now`.
    public mutating func sent(at now: Int64) { lastSent = now }

    /// Whether a HEARTBEAT is due at `now` (nothing sent yet, or nothing for one interval).
    public func isDue(at now: Int64) -> Bool {
        guard let lastSent else { return true }
        return now - lastSent >= intervalMilliseconds
    }

    /// Takes the next sequence number and records the send at `now`.
    public mutating func heartbeatSent(at now: Int64) -> UInt64 {
        defer { nextSequence += 1 }
        lastSent = now
        return nextSequence
    }
}

/// Reconnect waits: 1 s, doubling per failed attempt, capped at 32 s; reset on success.
public struct ReconnectBackoff {
    /// The first wait.
    public let initialMilliseconds: Int64
    /// The longest wait.
    public let maximumMilliseconds: Int64
    /// Failed attempts since the last reset.
    public private(set) var attempts = 0

    /// A backoff from `initialMilliseconds` doubling up to `maximumMilliseconds`.
    public init(initialMilliseconds: Int64 = 1000, maximumMilliseconds: Int64 = 32_000) {
        precondition(
            initialMilliseconds > 0 && maximumMilliseconds >= initialMilliseconds,
            "ReconnectBackoff: need 0 < initial <= maximum")
        self.initialMilliseconds = initialMilliseconds
        self.maximumMilliseconds = maximumMilliseconds
    }

    /// The wait before the next attempt; each call counts one more failed attempt.
    public mutating func nextDelayMilliseconds() -> Int64 {
        var delay = initialMilliseconds
        for _ in 0..<attempts {
            delay *= 2
            if delay >= maximumMilliseconds { delay = maximumMilliseconds; break }
        }
        attempts += 1
        return delay
    }

    /// Back to the initial wait (call when any message arrives from the peer).
    public mutating func reset() { attempts = 0 }
}

/// A monotonic millisecond clock for the liveness types.
public enum MonotonicClock {
    /// Milliseconds since the first use in this process; never goes backwards.
    public static func nowMilliseconds() -> Int64 {
        let d = ContinuousClock.now - base
        return d.components.seconds * 1000 + d.components.attoseconds / 1_000_000_000_000_000
    }

    private static let base = ContinuousClock.now
}
