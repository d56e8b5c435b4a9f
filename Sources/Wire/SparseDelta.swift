// The sparse delta of one device for one round: the touched channels of its updated tensors.

/// A set of tensor slices, each tensor at most once (weights and biases alike).
public struct SparseDelta: Equatable, Sendable {
    /// The slices, in the order they travel.
    public var tensors: [TensorDelta]

    /// A delta made of `tensors`.
    public init(_ tensors: [TensorDelta]) { self.tensors = tensors }

    /// Number of values carried (the touched coordinates).
    public var valueCount: Int { tensors.reduce(0) { $0 + $1.values.count } }

    /// Checks every slice against `schema`: known tensor, at most once, indices, counts, finite.
    public func validate(against schema: ModelSchema, limits: WireLimits) throws {
        try Validate.count(tensors.count, field: "tensor count", limit: limits.maxTensors)
        var seen = Set<String>()
        for t in tensors {
            guard let spec = schema[t.name] else {
                throw WireError.schemaMismatch(tensor: t.name, reason: "the model has no such tensor")
            }
            guard seen.insert(t.name).inserted else {
                throw WireError.schemaMismatch(tensor: t.name, reason: "listed twice in one message")
            }
            try t.validate(against: spec)
        }
    }
}
