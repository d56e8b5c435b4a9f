// The end of a run: the coordinator says BYE, and keeps saying it for a short while to any
// connection that speaks, until every device that was with it at the end has said BYE back.
// A node that reconnected just before the end (it took a stalled coordinator for a dead one)
// would otherwise miss the only BYE and look for the coordinator forever.

/// Who still has to say goodbye, and until when the coordinator waits for them.
struct Farewell {
    /// The BYE reason ("run complete", or the signal).
    let reason: String
    /// Devices whose node has not said BYE yet.
    private(set) var waitingFor: Set<String>
    /// When the coordinator stops waiting (monotonic ms).
    let deadline: Int64

    /// How long the coordinator waits for the last BYEs: a node notices a silent coordinator
    /// after 3 heartbeat intervals, then waits its first reconnect backoff (1 s) before it
    /// JOINs again, and may be refused once more (2 s) while its old connection is reaped.
    static func waitMilliseconds(heartbeatMs: Int) -> Int64 { 3 * Int64(heartbeatMs) + 3_000 }

    /// A farewell to the devices live at the end (`live`) and those whose node was taken for
    /// dead within the wait (`recentlyLost`: device → when, monotonic ms), starting `now`.
    init(reason: String, live: [String], recentlyLost: [String: Int64], heartbeatMs: Int, now: Int64) {
        self.reason = reason
        let wait = Self.waitMilliseconds(heartbeatMs: heartbeatMs)
        waitingFor = Set(live).union(recentlyLost.filter { now - $0.value <= wait }.keys)
        deadline = now + wait
    }

    /// A node said BYE for `devices`. (A lie here only shortens the wait.)
    mutating func said(bye devices: [String]) { waitingFor.subtract(devices) }

    /// Whether the coordinator may go.
    func isOver(at now: Int64) -> Bool { waitingFor.isEmpty || now >= deadline }
}
