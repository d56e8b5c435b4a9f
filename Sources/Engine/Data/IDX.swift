// The IDX file format of MNIST and Fashion-MNIST: big-endian header, then raw UInt8 data.
// Images: magic 0x00000803, dims [N, H, W]. Labels: magic 0x00000801, dims [N].

/// A decoded IDX array of unsigned bytes.
public struct IDXArray: Equatable {
    /// Dimensions as stored, outermost first (e.g. [60000, 28, 28]).
    public var dims: [Int]
    /// Values in row-major order; `values.count == dims.reduce(1, *)`.
    public var values: [UInt8]
}

/// Parses IDX files holding unsigned bytes (type code 0x08).
public enum IDX {
    /// Decodes `bytes` (already decompressed). `path` and `hint` only go into errors.
    public static func decode(_ bytes: [UInt8], path: String, hint: String = "") throws -> IDXArray {
        func corrupt(_ reason: String) -> DataFileError {
            .corrupt(path: path, reason: reason, hint: hint)
        }
        guard bytes.count >= 4 else { throw corrupt("shorter than the 4-byte IDX magic") }
        guard bytes[0] == 0, bytes[1] == 0 else { throw corrupt("bad IDX magic") }
        guard bytes[2] == 0x08 else { throw corrupt("IDX type 0x\(String(bytes[2], radix: 16)) is not unsigned byte") }
        let rank = Int(bytes[3])
        guard rank >= 1, rank <= 4 else { throw corrupt("IDX rank \(rank) not in 1...4") }
        let headerSize = 4 + 4 * rank
        guard bytes.count >= headerSize else { throw corrupt("truncated IDX header") }
        var dims: [Int] = []
        for i in 0..<rank {
            let o = 4 + 4 * i
            let d = Int(bytes[o]) << 24 | Int(bytes[o + 1]) << 16 | Int(bytes[o + 2]) << 8 | Int(bytes[o + 3])
            dims.append(d)
        }
        let count = dims.reduce(1, *)
        guard bytes.count - headerSize == count else {
            throw corrupt("header promises \(count) values but file holds \(bytes.count - headerSize)")
        }
        return IDXArray(dims: dims, values: Array(bytes[headerSize...]))
    }

    /// Encodes an array as IDX bytes (used to build test files).
    public static func encode(_ array: IDXArray) -> [UInt8] {
        var out: [UInt8] = [0, 0, 0x08, UInt8(array.dims.count)]
        for d in array.dims {
            out += [UInt8(truncatingIfNeeded: d >> 24), UInt8(truncatingIfNeeded: d >> 16),
                    UInt8(truncatingIfNeeded: d >> 8), UInt8(truncatingIfNeeded: d)]
        }
        return out + array.values
    }

    /// Reads a gzip (or plain) IDX file.
    public static func read(path: String, hint: String = "") throws -> IDXArray {
        try decode(Gzip.read(path: path, hint: hint), path: path, hint: hint)
    }
}
