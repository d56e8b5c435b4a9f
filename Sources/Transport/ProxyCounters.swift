// What the fault proxy did, per direction, readable at any time. The counts add up:
//   received − dropped + duplicated = forwarded + undeliverable + waiting.

/// The counts of one direction.
public struct DirectionCounters: Equatable, Codable, Sendable {
    /// Messages the proxy read.
    public var received = 0
    /// Messages discarded by the drop fault.
    public var dropped = 0
    /// Extra copies made by the duplicate fault.
    public var duplicated = 0
    /// Messages given a delay (latency and jitter) greater than zero.
    public var delayed = 0
    /// Messages held back that later messages of their connection overtook.
    public var reordered = 0
    /// Copies handed to the next hop (originals and duplicates).
    public var forwarded = 0
    /// Copies the next hop would not take (its queue full, its peer gone) or left waiting at `stop()`.
    public var undeliverable = 0
    /// Copies waiting for their delay or for later messages to overtake them.
    public var waiting = 0
    /// Bytes handed to the next hop (all frames after the routing identity).
    public var forwardedBytes = 0

    /// Zero counts.
    public init() {}

    /// Whether the counts add up (see the file header).
    public var balanced: Bool { received - dropped + duplicated == forwarded + undeliverable + waiting }

    /// The sum of two directions.
    public static func + (a: DirectionCounters, b: DirectionCounters) -> DirectionCounters {
        var s = DirectionCounters()
        s.received = a.received + b.received
        s.dropped = a.dropped + b.dropped
        s.duplicated = a.duplicated + b.duplicated
        s.delayed = a.delayed + b.delayed
        s.reordered = a.reordered + b.reordered
        s.forwarded = a.forwarded + b.forwarded
        s.undeliverable = a.undeliverable + b.undeliverable
        s.waiting = a.waiting + b.waiting
        s.forwardedBytes = a.forwardedBytes + b.forwardedBytes
        return s
    }
}

/// Everything the proxy counted.
public struct ProxyCounters: Equatable, Codable, Sendable {
    /// Node → coordinator.
    public var upstream = DirectionCounters()
    /// Coordinator → node.
    public var downstream = DirectionCounters()
    /// Upstream connections opened (one per distinct frontend routing identity and key).
    public var connectionsOpened = 0
    /// Upstream connections closed because their node was silent too long.
    public var connectionsClosedIdle = 0
    /// Messages refused because no key pair was given for their authenticated key (CURVE).
    public var refusedUnknownKey = 0

    /// Zero counts.
    public init() {}

    /// Both directions added.
    public var total: DirectionCounters { upstream + downstream }

    /// The counts of two runs added (e.g. a run and its resumption).
    public static func + (a: ProxyCounters, b: ProxyCounters) -> ProxyCounters {
        var s = ProxyCounters()
        s.upstream = a.upstream + b.upstream
        s.downstream = a.downstream + b.downstream
        s.connectionsOpened = a.connectionsOpened + b.connectionsOpened
        s.connectionsClosedIdle = a.connectionsClosedIdle + b.connectionsClosedIdle
        s.refusedUnknownKey = a.refusedUnknownKey + b.refusedUnknownKey
        return s
    }

    /// The counts of `direction`.
    public subscript(direction: ProxyDirection) -> DirectionCounters {
        get { direction == .upstream ? upstream : downstream }
        set { if direction == .upstream { upstream = newValue } else { downstream = newValue } }
    }
}
