// Who may join as what (PROTOCOL.md §9). With CURVE, identity is the public key that ZAP
// authenticated: the allow list binds each key to one node name and its devices, a JOIN that
// claims anything else is FORBIDDEN, and a node that reconnects proves it is the same node by
// its key (never by its name or routing id). Without CURVE, identity is not authenticated: the
// node name is taken at its word, which is only fit for trusted local runs.
import Wire

/// What to do with a JOIN.
public enum JoinDecision: Equatable, Sendable {
    /// Admit the connection with these devices (sorted), retiring the listed old connections of
    /// the same node (their in-flight messages count as the new connection's).
    case admit(devices: [String], retire: [[UInt8]])
    /// Refuse it with this error (about `deviceID`, when one is to blame).
    case refuse(WireError, deviceID: String)
}

/// The JOIN rules.
public struct JoinAdmission: Sendable {
    /// The configured device ids.
    public let configured: Set<String>
    /// The allow list, when identities are authenticated (CURVE).
    public let allowList: CurveConfig?

    /// Rules for `configured` devices, with `allowList` when the run uses CURVE.
    public init(configured: Set<String>, allowList: CurveConfig?) {
        self.configured = configured; self.allowList = allowList
    }

    /// Whether identities are authenticated.
    public var authenticated: Bool { allowList != nil }

    /// The most devices one JOIN may name from a connection with `key`: its allow-list entry's
    /// count with CURVE, the configured devices without.
    public func maxDevices(key: String?) -> Int {
        if let allowList { return key.flatMap { allowList.client(key: $0) }?.devices.count ?? 0 }
        return configured.count
    }

    /// The largest JOIN header a connection with `key` may send: room for the node name, the
    /// flags and `maxDevices(key:)` entries of the longest id. A larger header is refused as
    /// TOO_LARGE before it is decoded, so a JOIN naming thousands of devices costs nothing.
    public func maxHeaderBytes(key: String?) -> Int { 4096 + 300 * maxDevices(key: key) }

    /// The decision for `join` from connection `identity` (authenticated `key`, if any), given
    /// the connections already admitted.
    public func decide(_ join: PBJoin, identity: [UInt8], key: String?, peers: [[UInt8]: PeerInfo], owner: [String: [UInt8]]) -> JoinDecision {
        let ids = join.devices.map(\.deviceID).sorted()
        if let allowList {
            guard let key, let entry = allowList.client(key: key) else {
                return .refuse(.forbidden(reason: "this connection's key is not on the allow list"), deviceID: "")
            }
            guard join.nodeName == entry.node else {
                return .refuse(.forbidden(reason: "this key belongs to node '\(entry.node)', not '\(join.nodeName)'"), deviceID: "")
            }
        }
        let limit = maxDevices(key: key)
        guard ids.count <= limit else {
            return .refuse(.tooLarge(field: "Join.devices", size: ids.count, limit: limit), deviceID: "")
        }
        if let allowList, let key, let entry = allowList.client(key: key) {
            let held = Set(entry.devices)
            if let other = ids.first(where: { !held.contains($0) }) {
                return .refuse(.forbidden(reason: "node '\(entry.node)''s key does not hold device '\(other)'"), deviceID: other)
            }
        } else if let unknown = ids.first(where: { !configured.contains($0) }) {
            return .refuse(.unknownDevice(deviceID: unknown), deviceID: unknown)
        }
        func sameNode(_ p: PeerInfo) -> Bool { authenticated ? p.key == key : p.name == join.nodeName }
        var retire = Set<[UInt8]>()
        for id in ids {
            guard let other = owner[id], other != identity, !retire.contains(other) else { continue }
            guard let p = peers[other], sameNode(p) else {
                return .refuse(.unexpected(kind: .join, reason: "device '\(id)' already joined from node '\(peers[other]?.name ?? "?")'"), deviceID: id)
            }
            retire.insert(other)
        }
        if authenticated {  // one connection per key: a restarted node's old connection goes
            for (other, p) in peers where other != identity && p.key == key { retire.insert(other) }
        }
        return .admit(devices: ids, retire: retire.sorted { $0.lexicographicallyPrecedes($1) })
    }
}
