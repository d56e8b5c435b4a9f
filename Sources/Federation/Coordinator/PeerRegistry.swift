// The nodes the coordinator talks to: their routing identities, the devices each hosts, the
// model version each holds, and whether each is still alive (PROTOCOL.md §8).
import Transport

/// One connected node.
public struct PeerInfo: Sendable {
    /// Node name from its JOIN.
    public var name: String
    /// Its authenticated CURVE public key (nil without CURVE).
    public var key: String? = nil
    /// Devices it hosts (sorted).
    public var devices: [String]
    /// The global version the coordinator believes it holds (0: none).
    public var heldVersion: UInt64
    /// Its heartbeat interval, ms.
    public var interval: Int64
    /// When the coordinator last sent it anything, ms.
    public var lastSent: Int64

    /// A peer.
    public init(name: String, key: String?, devices: [String], heldVersion: UInt64, interval: Int64, lastSent: Int64) {
        self.name = name; self.key = key; self.devices = devices; self.heldVersion = heldVersion
        self.interval = interval; self.lastSent = lastSent
    }
}

/// Peers by routing identity, devices by owner, and liveness.
public struct PeerRegistry {
    /// Identity → peer.
    public private(set) var peers: [[UInt8]: PeerInfo] = [:]
    /// Device id → identity of the node hosting it.
    public private(set) var owner: [String: [UInt8]] = [:]
    /// Liveness of the peers.
    public var liveness: PeerLiveness<[UInt8]>
    /// Old identity → the identity the same node reconnected with (messages still in flight on
    /// the old connection are taken as the node's).
    public private(set) var aliases: [[UInt8]: [UInt8]] = [:]

    /// An empty registry; peers that announce no interval get `defaultInterval` ms.
    public init(defaultInterval: Int64) {
        liveness = PeerLiveness(defaultIntervalMilliseconds: defaultInterval)
    }

    /// Registers (or re-registers) `identity` hosting `devices`.
    public mutating func register(_ identity: [UInt8], info: PeerInfo) {
        if let old = peers[identity] { for d in old.devices { owner[d] = nil } }
        peers[identity] = info
        for d in info.devices { owner[d] = identity }
    }

    /// Forgets a peer and its devices; returns the devices it hosted.
    @discardableResult
    public mutating func remove(_ identity: [UInt8]) -> [String] {
        guard let p = peers.removeValue(forKey: identity) else { return [] }
        for d in p.devices where owner[d] == identity { owner[d] = nil }
        liveness.forget(identity)
        return p.devices
    }

    /// Moves a reconnected node from `old` to `new` without failing its devices' open tasks.
    public mutating func retire(_ old: [UInt8], replacedBy new: [UInt8]) {
        peers[old] = nil
        for (d, o) in owner where o == old { owner[d] = nil }  // the new JOIN names what it serves now
        liveness.forget(old)
        aliases[old] = new
        for (k, v) in aliases where v == old { aliases[k] = new }
    }

    /// The current identity of the node that used `identity`.
    public func resolve(_ identity: [UInt8]) -> [UInt8] { aliases[identity] ?? identity }

    /// Updates a peer in place.
    public mutating func update(_ identity: [UInt8], _ body: (inout PeerInfo) -> Void) {
        guard var p = peers[identity] else { return }
        body(&p)
        peers[identity] = p
    }

    /// Devices hosted by live peers, sorted.
    public var liveDevices: [String] { owner.keys.sorted() }
}
