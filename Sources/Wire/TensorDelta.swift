// One tensor's slice on the wire: which channels, their values (row-major [outer, k, inner]),
// and the encoding the values travel in. Used for update deltas and for model values alike.

/// Which channels along a tensor's channel axis a slice holds.
public enum ChannelSelection: Equatable, Hashable, Sendable {
    /// Every channel: the full tensor.
    case all
    /// These channel indices, strictly ascending.
    case subset([Int])

    /// k, the number of channels held, for a tensor of `channelCount` channels.
    public func count(of channelCount: Int) -> Int {
        switch self {
        case .all: return channelCount
        case let .subset(c): return c.count
        }
    }
}

/// The values of some channels of one named tensor. In an UPDATE they are differences
/// `w_after - w_before`; in a MODEL they are absolute weights.
public struct TensorDelta: Equatable, Sendable {
    /// The schema name of the tensor.
    public var name: String
    /// The channels along the tensor's channel axis that `values` hold.
    public var channels: ChannelSelection
    /// outer · k · inner values, row-major [outer, k, inner] (e.g. [Cout, k, KH, KW]).
    public var values: [Float]
    /// How the values travel; after decoding, how they travelled.
    public var encoding: ValueEncoding

    /// A slice of `name` holding `channels`, with its values and wire encoding.
    public init(name: String, channels: ChannelSelection, values: [Float], encoding: ValueEncoding = .f32) {
        self.name = name
        self.channels = channels
        self.values = values
        self.encoding = encoding
    }

    /// Checks indices, value count and finiteness against the tensor's spec.
    public func validate(against spec: TensorSpec) throws {
        precondition(spec.name == name, "TensorDelta.validate: spec '\(spec.name)' is not tensor '\(name)'")
        if case let .subset(c) = channels {
            try Validate.channels(c, tensor: name, channelCount: spec.channelCount)
        }
        let expected = spec.valueCount(channels: channels.count(of: spec.channelCount))
        guard values.count == expected else {
            throw WireError.schemaMismatch(tensor: name, reason: "\(values.count) values, expected \(expected) for shape \(spec.shape) with \(channels.count(of: spec.channelCount)) channels on axis \(spec.channelAxis)")
        }
        if let bad = values.firstIndex(where: { !$0.isFinite }) {
            throw WireError.nonFinite(tensor: name, index: bad)
        }
    }
}
