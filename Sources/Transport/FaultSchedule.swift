// The fault proxy's waiting room: messages wait here for their delay, and a reordered message
// also waits until later messages of its connection (its stream) have left. Pure: time is
// passed in, so delays and reordering are tested without sockets or clocks.
//
// Rules: a message may leave at `now + delay`; messages of one stream leave in arrival order
// (as over TCP, so jitter alone never reorders), except a reordered one, which leaves once
// `reorderDepth` later messages of its stream have left, or `reorderMaxHoldMs` after its own
// time, whichever comes first. A duplicate's second copy follows its original and is never held.

/// Messages waiting to leave the proxy, keyed by stream (direction and connection).
public struct FaultSchedule<Stream: Hashable, Payload> {
    /// One message that left.
    public struct Released {
        /// The message.
        public var payload: Payload
        /// Its stream.
        public var stream: Stream
        /// Whether it was held back and later messages of its stream left before it.
        public var reordered: Bool
    }

    private struct Entry {
        let seq: UInt64
        let stream: Stream
        let payload: Payload
        let due: Double
        let holdUntil: Double
        var waitFor: Int
        var overtaken: Bool
    }

    private var entries: [Entry] = []  // in arrival order (seq ascending)
    private var lastDue: [Stream: Double] = [:]  // the latest time of a non-held message per stream
    private var waiting: [Stream: Int] = [:]
    private var nextSeq: UInt64 = 0

    /// An empty schedule.
    public init() {}

    /// Messages waiting.
    public var count: Int { entries.count }

    /// Queues `decision.copies` copies of `payload` (none when dropped), received at `now` (ms).
    public mutating func add(_ payload: Payload, stream: Stream, decision: FaultDecision, rates: FaultRates, now: Double) {
        guard !decision.drop else { return }
        for copy in 0..<decision.copies {
            let held = decision.reorder && copy == 0
            var due = now + decision.delayMs
            if !held {
                due = max(due, lastDue[stream] ?? due)
                lastDue[stream] = due
            }
            entries.append(Entry(seq: nextSeq, stream: stream, payload: payload, due: due,
                                 holdUntil: held ? due + rates.reorderMaxHoldMs : due, waitFor: held ? max(1, rates.reorderDepth) : 0,
                                 overtaken: false))
            waiting[stream, default: 0] += 1
            nextSeq += 1
        }
    }

    /// The messages that may leave at `now` (ms), in the order they leave.
    public mutating func release(now: Double) -> [Released] {
        var out: [Released] = []
        while let i = nextReady(now: now) {
            let e = entries.remove(at: i)
            out.append(Released(payload: e.payload, stream: e.stream, reordered: e.overtaken))
            // Held messages of the stream that arrived before this one have been overtaken.
            for j in entries.indices where entries[j].waitFor > 0 && entries[j].stream == e.stream && entries[j].seq < e.seq {
                entries[j].waitFor -= 1
                entries[j].overtaken = true
            }
            let left = (waiting[e.stream] ?? 1) - 1
            if left == 0 {
                waiting[e.stream] = nil
                lastDue[e.stream] = nil
            } else {
                waiting[e.stream] = left
            }
        }
        return out
    }

    /// The earliest time (ms) at which something may leave without new arrivals; nil when empty.
    public var nextTime: Double? {
        entries.map { $0.waitFor == 0 ? $0.due : $0.holdUntil }.min()
    }

    /// Empties the schedule; returns how many messages were still waiting.
    public mutating func removeAll() -> Int {
        defer { entries = []; lastDue = [:]; waiting = [:] }
        return entries.count
    }

    /// The index of the ready message that leaves first: the earliest time, then arrival order.
    private func nextReady(now: Double) -> Int? {
        var best: Int?
        for (i, e) in entries.enumerated() {
            let ready = e.due <= now && (e.waitFor == 0 || now >= e.holdUntil)
            guard ready else { continue }
            if let b = best, (entries[b].due, entries[b].seq) <= (e.due, e.seq) { continue }
            best = i
        }
        return best
    }
}
