// Configurable size and count limits a receiver enforces before allocating (PROTOCOL.md §10).

/// The limits a codec enforces on every message it decodes or encodes.
public struct WireLimits: Equatable, Sendable {
    /// Largest whole message: the sum of all frame sizes, in bytes.
    public var maxMessageBytes: Int
    /// Largest header (protobuf) frame, in bytes.
    public var maxHeaderBytes: Int
    /// Most tensor frames in one MODEL or UPDATE.
    public var maxTensors: Int
    /// Most participants in one secure-aggregation round (and entries in its per-device lists).
    public var maxDevices: Int
    /// Most devices in one JOIN: a node process may host a huge fleet's half (the coordinator
    /// narrows it per connection to what the allow list or configuration gives that node, and the
    /// header limit bounds the decoding before any count is read).
    public var maxJoinDevices: Int
    /// Longest identifier (device id, tensor name, policy name), in UTF-8 bytes.
    public var maxIdentifierBytes: Int
    /// Longest free text (error message, bye reason), in UTF-8 bytes.
    public var maxTextBytes: Int
    /// Highest tensor rank a schema may declare.
    public var maxRank: Int
    /// Most entries in a METRICS `values` map or a policy's `params`.
    public var maxMapEntries: Int

    /// The defaults of PROTOCOL.md §10: 64 MiB messages, 1 MiB headers, 1024 tensors, 65,536
    /// devices per JOIN, 4096 secure-aggregation participants.
    public static let `default` = WireLimits(
        maxMessageBytes: 64 << 20, maxHeaderBytes: 1 << 20, maxTensors: 1024, maxDevices: 4096, maxJoinDevices: 65_536,
        maxIdentifierBytes: 255, maxTextBytes: 4096, maxRank: 8, maxMapEntries: 256)

    /// Limits with every value given; each must be positive.
    public init(
        maxMessageBytes: Int, maxHeaderBytes: Int, maxTensors: Int, maxDevices: Int, maxJoinDevices: Int,
        maxIdentifierBytes: Int, maxTextBytes: Int, maxRank: Int, maxMapEntries: Int
    ) {
        precondition(
            maxMessageBytes > 0 && maxHeaderBytes > 0 && maxTensors > 0 && maxDevices > 0 && maxJoinDevices > 0,
            "WireLimits: message, header, tensor and device limits must be positive")
        precondition(
            maxIdentifierBytes > 0 && maxTextBytes > 0 && maxRank > 0 && maxMapEntries >= 0,
            "WireLimits: identifier, text and rank limits must be positive")
        self.maxMessageBytes = maxMessageBytes
        self.maxHeaderBytes = maxHeaderBytes
        self.maxTensors = maxTensors
        self.maxDevices = maxDevices
        self.maxJoinDevices = maxJoinDevices
        self.maxIdentifierBytes = maxIdentifierBytes
        self.maxTextBytes = maxTextBytes
        self.maxRank = maxRank
        self.maxMapEntries = maxMapEntries
    }

    /// The most frames a message may have: envelope, header and `maxTensors` tensor frames.
    public var maxFrames: Int { 2 + maxTensors }
}
