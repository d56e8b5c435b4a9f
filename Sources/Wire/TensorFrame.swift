// Packing and unpacking one tensor frame (PROTOCOL.md §5.2):
//   [scale f32, INT8 only] [k indices, u16 or u32] [outer·k·inner values, f32 | f16 | int8]
// all little-endian, no padding. The header's TensorPayload says which parts are present.

/// Encodes and decodes the packed binary frame of one tensor slice.
public enum TensorFrame {
    /// The index width an encoder uses for a tensor of `channelCount` channels.
    public static func indexWidth(forChannelCount channelCount: Int) -> PBIndexWidth {
        channelCount <= 65_536 ? .u16 : .u32
    }

    /// Validates `delta` against `spec` and packs it; returns its header entry and its frame.
    public static func encode(_ delta: TensorDelta, spec: TensorSpec) throws -> (PBTensorPayload, [UInt8]) {
        try delta.validate(against: spec)
        let encoding = delta.encoding
        var payload = PBTensorPayload()
        payload.name = delta.name
        payload.encoding = encoding.pb
        var indices: [Int] = []
        switch delta.channels {
        case .all:
            payload.indexWidth = PBIndexWidth.none
            payload.channelCount = 0
        case let .subset(c):
            payload.indexWidth = indexWidth(forChannelCount: spec.channelCount)
            payload.channelCount = UInt32(c.count)
            indices = c
        }
        let w = indexBytes(payload.indexWidth)!
        let n = delta.values.count
        let size = encoding.prefixBytes + indices.count * w + n * encoding.bytesPerValue

        // Quantise first so that an unrepresentable value throws before anything is built.
        var halves: [UInt16] = []
        var quantised: [Int8] = []
        var scale: Float = 0
        switch encoding {
        case .f32: break
        case .f16:
            halves = delta.values.map(Half.bits(from:))
            if let bad = halves.firstIndex(where: Half.isNonFinite) {
                throw WireError.invalid(field: "tensor '\(delta.name)' value \(bad)",
                                        reason: "\(delta.values[bad]) overflows f16 (largest 65504); request f32 or int8 instead")
            }
        case .int8:
            let maxAbs = delta.values.reduce(Float(0)) { max($0, abs($1)) }
            scale = maxAbs / 127
            quantised = delta.values.map { v in
                scale > 0 ? Int8(clamping: Int((v / scale).rounded(.toNearestOrAwayFromZero))) : 0
            }
        }

        let frame = [UInt8](unsafeUninitializedCapacity: size) { buffer, count in
            let raw = UnsafeMutableRawBufferPointer(buffer)
            var at = 0
            if encoding == .int8 {
                raw.storeBytes(of: scale.bitPattern.littleEndian, toByteOffset: at, as: UInt32.self)
                at += 4
            }
            for x in indices {
                if w == 2 { raw.storeBytes(of: UInt16(x).littleEndian, toByteOffset: at, as: UInt16.self) }
                else { raw.storeBytes(of: UInt32(x).littleEndian, toByteOffset: at, as: UInt32.self) }
                at += w
            }
            switch encoding {
            case .f32:
                for v in delta.values {
                    raw.storeBytes(of: v.bitPattern.littleEndian, toByteOffset: at, as: UInt32.self)
                    at += 4
                }
            case .f16:
                for h in halves {
                    raw.storeBytes(of: h.littleEndian, toByteOffset: at, as: UInt16.self)
                    at += 2
                }
            case .int8:
                for q in quantised {
                    raw[at] = UInt8(bitPattern: q)
                    at += 1
                }
            }
            precondition(at == size, "TensorFrame.encode: wrote \(at) bytes, planned \(size)")
            count = size
        }
        return (payload, frame)
    }

    /// Unpacks one frame described by `payload` for tensor `spec`. The frame length is checked
    /// against the length the schema and header imply before anything is allocated.
    public static func decode(_ frame: [UInt8], payload: PBTensorPayload, spec: TensorSpec) throws -> TensorDelta {
        let name = spec.name
        guard let encoding = ValueEncoding(payload.encoding) else {
            throw WireError.invalid(field: "tensor '\(name)' encoding", reason: "value \(payload.encoding.rawValue) is not F32, F16 or INT8")
        }
        guard let w = indexBytes(payload.indexWidth) else {
            throw WireError.invalid(field: "tensor '\(name)' index_width", reason: "value \(payload.indexWidth.rawValue) is not NONE, U16 or U32")
        }
        let C = spec.channelCount
        let k: Int
        if w == 0 {
            guard payload.channelCount == 0 else {
                throw WireError.invalid(field: "tensor '\(name)' channel_count", reason: "must be 0 with index width NONE, got \(payload.channelCount)")
            }
            k = C
        } else {
            k = Int(payload.channelCount)
            guard k >= 1, k <= C else {
                throw WireError.badChannels(tensor: name, reason: "channel_count \(k) is not in 1...\(C)")
            }
        }
        let n = spec.valueCount(channels: k)
        let expected = encoding.prefixBytes + (w == 0 ? 0 : k * w) + n * encoding.bytesPerValue
        guard frame.count == expected else {
            throw WireError.invalid(field: "tensor '\(name)' frame",
                                    reason: "\(frame.count) bytes, but \(encoding) with \(k) channels of shape \(spec.shape) needs \(expected) (lengths that lie)")
        }
        return try frame.withUnsafeBytes { raw -> TensorDelta in
            var at = 0
            var scale: Float = 1
            if encoding == .int8 {
                scale = Float(bitPattern: UInt32(littleEndian: raw.loadUnaligned(fromByteOffset: 0, as: UInt32.self)))
                guard (scale * 128).isFinite, scale >= 0 else {  // q · scale must stay finite too
                    if !(scale * 128).isFinite { throw WireError.nonFinite(tensor: name, index: -1) }
                    throw WireError.invalid(field: "tensor '\(name)' int8 scale", reason: "\(scale) is negative")
                }
                at = 4
            }
            var channels = ChannelSelection.all
            if w != 0 {
                var list = [Int]()
                list.reserveCapacity(k)
                var previous = -1
                for j in 0..<k {
                    let x = w == 2
                        ? Int(UInt16(littleEndian: raw.loadUnaligned(fromByteOffset: at, as: UInt16.self)))
                        : Int(UInt32(littleEndian: raw.loadUnaligned(fromByteOffset: at, as: UInt32.self)))
                    at += w
                    guard x < C else {
                        throw WireError.badChannels(tensor: name, reason: "index \(x) at position \(j) is out of range 0..<\(C)")
                    }
                    guard x > previous else {
                        throw WireError.badChannels(tensor: name, reason: "index \(x) at position \(j) is not above the previous \(previous) (unsorted or duplicated)")
                    }
                    previous = x
                    list.append(x)
                }
                channels = .subset(list)
            }
            let base = at
            var firstBad = -1
            let values = [Float](unsafeUninitializedCapacity: n) { out, count in
                switch encoding {
                case .f32:
                    for j in 0..<n {
                        let v = Float(bitPattern: UInt32(littleEndian: raw.loadUnaligned(fromByteOffset: base + 4 * j, as: UInt32.self)))
                        if !v.isFinite && firstBad < 0 { firstBad = j }
                        out[j] = v
                    }
                case .f16:
                    for j in 0..<n {
                        let h = UInt16(littleEndian: raw.loadUnaligned(fromByteOffset: base + 2 * j, as: UInt16.self))
                        if Half.isNonFinite(h) && firstBad < 0 { firstBad = j }
                        out[j] = Half.float(fromBits: h)
                    }
                case .int8:
                    for j in 0..<n {
                        out[j] = Float(Int8(bitPattern: raw[base + j])) * scale
                    }
                }
                count = n
            }
            if firstBad >= 0 { throw WireError.nonFinite(tensor: name, index: firstBad) }
            return TensorDelta(name: name, channels: channels, values: values, encoding: encoding)
        }
    }
}
