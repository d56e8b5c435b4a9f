// Building a MODEL PATCH from two versions of the dense weights, and applying any MODEL to a
// node's dense weights (PROTOCOL.md §4.2). A patch carries absolute values of every channel in
// which any element changed bitwise, so applying it reproduces the new model bit for bit.

/// Computes and applies model patches over dense per-tensor weights in schema order.
public enum ModelPatching {
    /// The PATCH from `old` (version `baseVersion`) to `new` (version `version`); unchanged
    /// tensors are left out, fully changed ones are sent whole.
    public static func patch(
        version: UInt64, baseVersion: UInt64, schema: ModelSchema,
        old: [[Float]], new: [[Float]]
    ) -> ModelMessage {
        precondition(version > baseVersion, "ModelPatching.patch: version \(version) must follow base \(baseVersion)")
        precondition(
            old.count == schema.tensors.count && new.count == schema.tensors.count,
            "ModelPatching.patch: need one weight array per schema tensor")
        var tensors: [TensorDelta] = []
        for (i, spec) in schema.tensors.enumerated() {
            let (a, b) = (old[i], new[i])
            precondition(
                a.count == spec.elementCount && b.count == spec.elementCount,
                "ModelPatching.patch: '\(spec.name)' weights do not match shape \(spec.shape)")
            let (outer, C, inner) = (spec.outer, spec.channelCount, spec.inner)
            var changed = [Bool](repeating: false, count: C)
            for o in 0..<outer {
                for c in 0..<C where !changed[c] {
                    let base = (o * C + c) * inner
                    for j in base..<base + inner where a[j].bitPattern != b[j].bitPattern {
                        changed[c] = true
                        break
                    }
                }
            }
            let channels = changed.indices.filter { changed[$0] }
            if channels.isEmpty { continue }
            let selection: ChannelSelection = channels.count == C ? .all : .subset(channels)
            tensors.append(
                TensorDelta(
                    name: spec.name, channels: selection,
                    values: TensorSlicing.gather(b, spec: spec, channels: selection)))
        }
        return ModelMessage(version: version, form: .patch(baseVersion: baseVersion), tensors: tensors)
    }

    /// Applies a decoded MODEL to `weights` (one dense array per schema tensor): a snapshot
    /// replaces everything, a patch overwrites its channels. The caller checks base versions.
    public static func apply(_ model: ModelMessage, to weights: inout [[Float]], schema: ModelSchema) {
        if case .snapshot = model.form {
            weights = schema.tensors.map { [Float](repeating: 0, count: $0.elementCount) }
        }
        precondition(
            weights.count == schema.tensors.count, "ModelPatching.apply: need one weight array per schema tensor")
        for t in model.tensors {
            guard let i = schema.position(of: t.name) else {
                preconditionFailure(
                    "ModelPatching.apply: '\(t.name)' is not in the schema; decode with WireCodec first")
            }
            TensorSlicing.scatter(t.values, into: &weights[i], spec: schema.tensors[i], channels: t.channels)
        }
    }
}
