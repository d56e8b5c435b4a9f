// The ordered tensors of a model: names, shapes and the axis channel indices select along
// (PROTOCOL.md §5.1). The Engine produces one from its model; a node learns it from a SNAPSHOT.

/// One named tensor of the model.
public struct TensorSpec: Equatable, Hashable, Sendable {
    /// Unique name, e.g. "features.16.conv.2.weight".
    public let name: String
    /// Row-major dimensions, e.g. [Cout, Cin, KH, KW] for a conv weight.
    public let shape: [Int]
    /// The axis channel indices select along: 1 for conv/linear weights, 0 for biases.
    public let channelAxis: Int

    /// A spec; `channelAxis` defaults to 1 for rank ≥ 2 (input channels) and 0 for rank 1.
    public init(name: String, shape: [Int], channelAxis: Int? = nil) {
        precondition(!name.isEmpty, "TensorSpec: a tensor needs a name")
        precondition(!shape.isEmpty && shape.allSatisfy { $0 >= 1 },
                     "TensorSpec '\(name)': shape \(shape) must have at least one dimension, each >= 1")
        let axis = channelAxis ?? (shape.count >= 2 ? 1 : 0)
        precondition(axis >= 0 && axis < shape.count,
                     "TensorSpec '\(name)': channel axis \(axis) is outside shape \(shape)")
        self.name = name
        self.shape = shape
        self.channelAxis = axis
    }

    /// C: the number of channels along the channel axis.
    public var channelCount: Int { shape[channelAxis] }
    /// Product of the dimensions before the channel axis (1 if none).
    public var outer: Int { shape[..<channelAxis].reduce(1, *) }
    /// Product of the dimensions after the channel axis (1 if none).
    public var inner: Int { shape[(channelAxis + 1)...].reduce(1, *) }
    /// Total number of elements.
    public var elementCount: Int { shape.reduce(1, *) }

    /// Values in a slice of `k` channels: outer · k · inner.
    public func valueCount(channels k: Int) -> Int { outer * k * inner }

    /// The protobuf form.
    public var pb: PBTensorSpec {
        var s = PBTensorSpec()
        s.name = name
        s.shape = shape.map { UInt32($0) }
        s.channelAxis = UInt32(channelAxis)
        return s
    }
}

/// The ordered tensors of a model, looked up by name.
public struct ModelSchema: Equatable, Sendable {
    /// The tensors in model order.
    public let tensors: [TensorSpec]
    private let positions: [String: Int]

    /// A schema from specs with unique names.
    public init(_ tensors: [TensorSpec]) {
        var positions: [String: Int] = [:]
        for (i, t) in tensors.enumerated() {
            precondition(positions[t.name] == nil, "ModelSchema: tensor name '\(t.name)' appears twice")
            positions[t.name] = i
        }
        self.tensors = tensors
        self.positions = positions
    }

    /// The spec named `name`, if the model has it.
    public subscript(name: String) -> TensorSpec? { positions[name].map { tensors[$0] } }

    /// The position of `name` in model order, if the model has it.
    public func position(of name: String) -> Int? { positions[name] }

    /// Total number of parameters.
    public var parameterCount: Int { tensors.reduce(0) { $0 + $1.elementCount } }

    /// Bytes of the whole model stored densely in f32.
    public var denseF32Bytes: Int { parameterCount * 4 }

    /// The protobuf form, in model order.
    public var pb: [PBTensorSpec] { tensors.map(\.pb) }

    public static func == (a: ModelSchema, b: ModelSchema) -> Bool { a.tensors == b.tensors }

    /// Validates a schema received on the wire; refuses bad names, shapes, axes and sizes.
    public init(validating specs: [PBTensorSpec], limits: WireLimits) throws {
        guard !specs.isEmpty else { throw WireError.invalid(field: "Model.schema", reason: "a snapshot needs at least one tensor") }
        guard specs.count <= limits.maxTensors else {
            throw WireError.tooLarge(field: "Model.schema tensor count", size: specs.count, limit: limits.maxTensors)
        }
        var result: [TensorSpec] = []
        result.reserveCapacity(specs.count)
        var seen = Set<String>()
        var total = 0
        for s in specs {
            try Validate.identifier(s.name, field: "TensorSpec.name", limits: limits)
            guard seen.insert(s.name).inserted else {
                throw WireError.schemaMismatch(tensor: s.name, reason: "the schema names it twice")
            }
            guard !s.shape.isEmpty, s.shape.count <= limits.maxRank else {
                throw WireError.schemaMismatch(tensor: s.name, reason: "rank \(s.shape.count) is not in 1...\(limits.maxRank)")
            }
            var elements = 1
            for d in s.shape {
                guard d >= 1 else { throw WireError.schemaMismatch(tensor: s.name, reason: "a dimension is 0") }
                let (p, overflow) = elements.multipliedReportingOverflow(by: Int(d))
                guard !overflow, p <= Int(Int32.max) else {
                    throw WireError.tooLarge(field: "tensor '\(s.name)' element count", size: Int.max, limit: Int(Int32.max))
                }
                elements = p
            }
            guard Int(s.channelAxis) < s.shape.count else {
                throw WireError.schemaMismatch(tensor: s.name, reason: "channel axis \(s.channelAxis) is outside rank \(s.shape.count)")
            }
            total += elements
            guard total <= Int(Int32.max) else {
                throw WireError.tooLarge(field: "model element count", size: total, limit: Int(Int32.max))
            }
            result.append(TensorSpec(name: s.name, shape: s.shape.map(Int.init), channelAxis: Int(s.channelAxis)))
        }
        self.init(result)
    }
}
