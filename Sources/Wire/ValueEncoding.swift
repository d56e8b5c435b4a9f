// The value encodings of tensor frames (PROTOCOL.md §5.3) and the index widths (§5.2).

/// How the values of one tensor frame are packed.
public enum ValueEncoding: UInt8, CaseIterable, Sendable, CustomStringConvertible {
    /// IEEE-754 binary32, 4 bytes per value, lossless.
    case f32 = 1
    /// IEEE-754 binary16, 2 bytes per value, rounded to nearest even.
    case f16 = 2
    /// Signed 8-bit with one f32 scale per tensor: value = q * scale.
    case int8 = 3

    /// Bytes per packed value.
    public var bytesPerValue: Int {
        switch self {
        case .f32: return 4
        case .f16: return 2
        case .int8: return 1
        }
    }

    /// Bytes of per-tensor prefix (the INT8 scale) before the indices.
    public var prefixBytes: Int { self == .int8 ? 4 : 0 }

    /// The protobuf enum value.
    public var pb: PBValueEncoding {
        switch self {
        case .f32: return .f32
        case .f16: return .f16
        case .int8: return .int8
        }
    }

    /// The Swift value of a protobuf enum value; nil for UNSPECIFIED or unknown values.
    public init?(_ pb: PBValueEncoding) {
        switch pb {
        case .f32: self = .f32
        case .f16: self = .f16
        case .int8: self = .int8
        default: return nil
        }
    }

    /// "f32", "f16" or "int8".
    public var description: String {
        switch self {
        case .f32: return "f32"
        case .f16: return "f16"
        case .int8: return "int8"
        }
    }
}

/// Bytes per channel index for a given index-width enum value; nil when invalid.
func indexBytes(_ width: PBIndexWidth) -> Int? {
    switch width {
    case PBIndexWidth.none: return 0
    case .u16: return 2
    case .u32: return 4
    default: return nil
    }
}
