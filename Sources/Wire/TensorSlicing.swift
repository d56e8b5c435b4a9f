// Moving a channel slice between a dense tensor and the packed [outer, k, inner] layout of
// PROTOCOL.md §5.1. Dense layout: row-major `spec.shape`, viewed as [outer, C, inner].

/// Gathers and scatters channel slices of dense row-major tensors.
public enum TensorSlicing {
    /// The slice of `dense` (shape `spec.shape`) holding `channels`, laid out [outer, k, inner].
    public static func gather(_ dense: [Float], spec: TensorSpec, channels: ChannelSelection) -> [Float] {
        precondition(
            dense.count == spec.elementCount,
            "gather '\(spec.name)': \(dense.count) values for shape \(spec.shape)")
        guard case let .subset(c) = channels else { return dense }
        let (outer, C, inner) = (spec.outer, spec.channelCount, spec.inner)
        for ch in c { precondition(ch >= 0 && ch < C, "gather '\(spec.name)': channel \(ch) outside 0..<\(C)") }
        let k = c.count
        // Pointwise weights have inner = 1: copy element by element, not a slice per channel.
        return [Float](unsafeUninitializedCapacity: outer * k * inner) { out, filled in
            dense.withUnsafeBufferPointer { d in
                var i = 0
                for o in 0..<outer {
                    for ch in c {
                        let base = (o * C + ch) * inner
                        for e in 0..<inner { out[i + e] = d[base + e] }
                        i += inner
                    }
                }
            }
            filled = outer * k * inner
        }
    }

    /// Writes `slice` ([outer, k, inner]) into the `channels` of `dense`, replacing what was there.
    public static func scatter(
        _ slice: [Float], into dense: inout [Float], spec: TensorSpec, channels: ChannelSelection
    ) {
        forEachPair(slice, &dense, spec: spec, channels: channels) { d, s in d = s }
    }

    /// Adds `scale · slice` ([outer, k, inner]) into the `channels` of `dense`.
    public static func addScaled(
        _ slice: [Float], scale: Float, into dense: inout [Float], spec: TensorSpec, channels: ChannelSelection
    ) {
        forEachPair(slice, &dense, spec: spec, channels: channels) { d, s in d += scale * s }
    }

    /// Visits each (dense element, slice value) pair of a slice.
    private static func forEachPair(
        _ slice: [Float], _ dense: inout [Float], spec: TensorSpec,
        channels: ChannelSelection, _ body: (inout Float, Float) -> Void
    ) {
        let (outer, C, inner) = (spec.outer, spec.channelCount, spec.inner)
        precondition(
            dense.count == spec.elementCount,
            "'\(spec.name)': dense tensor has \(dense.count) values for shape \(spec.shape)")
        let list: [Int]
        switch channels {
        case .all: list = Array(0..<C)
        case let .subset(c): list = c
        }
        precondition(
            slice.count == outer * list.count * inner,
            "'\(spec.name)': slice has \(slice.count) values, expected \(outer * list.count * inner)")
        var s = 0
        for o in 0..<outer {
            for ch in list {
                precondition(ch >= 0 && ch < C, "'\(spec.name)': channel \(ch) outside 0..<\(C)")
                let base = (o * C + ch) * inner
                for i in 0..<inner {
                    body(&dense[base + i], slice[s])
                    s += 1
                }
            }
        }
    }
}
