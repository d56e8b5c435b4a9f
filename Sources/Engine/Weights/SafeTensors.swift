// The safetensors format: u64 LE header length, a JSON header {name: {dtype, shape,
// data_offsets}, "__metadata__": {str: str}}, then the raw little-endian tensor bytes.
// Supported dtypes: F32, F16 and I8 (I8 values are read as their integer value).
import Foundation

/// Errors reading or writing weights; each names the file and what to do.
public enum WeightsError: Error, CustomStringConvertible, Equatable {
    case unreadable(path: String, reason: String)
    case malformed(path: String, reason: String)
    case mismatch(model: String, path: String, missing: [String], unexpected: [String], misshapen: [String])

    public var description: String {
        switch self {
        case let .unreadable(path, reason):
            return "cannot read weights \(path): \(reason). Run `make weights` (tools/fetch-weights.sh) or pass a safetensors file."
        case let .malformed(path, reason):
            return "weights file \(path) is not valid safetensors: \(reason). Re-create it with tools/pth2safetensors.py."
        case let .mismatch(model, path, missing, unexpected, misshapen):
            var parts: [String] = []
            if !missing.isEmpty { parts.append("missing \(missing.count): \(missing.prefix(8).joined(separator: ", "))") }
            if !unexpected.isEmpty { parts.append("unexpected \(unexpected.count): \(unexpected.prefix(8).joined(separator: ", "))") }
            if !misshapen.isEmpty { parts.append("wrong shape \(misshapen.count): \(misshapen.prefix(8).joined(separator: "; "))") }
            return "weights \(path) do not fit model \(model): \(parts.joined(separator: "; ")). Check the model name, width and class count match the file."
        }
    }
}

/// Element encodings a safetensors file may use here.
public enum SafeTensorsDType: String, Sendable {
    case f32 = "F32", f16 = "F16", i8 = "I8"

    /// Bytes per element.
    public var size: Int { self == .f32 ? 4 : self == .f16 ? 2 : 1 }
}

/// A set of named Float tensors with optional string metadata, read from or written to safetensors.
public struct SafeTensors {
    /// Tensors by name.
    public var tensors: [String: Tensor]
    /// The `__metadata__` map.
    public var metadata: [String: String]

    /// An in-memory collection.
    public init(tensors: [String: Tensor] = [:], metadata: [String: String] = [:]) {
        self.tensors = tensors
        self.metadata = metadata
    }

    /// Reads a file, converting every tensor to Float.
    public static func read(path: String) throws -> SafeTensors {
        let data: Data
        do { data = try Data(contentsOf: URL(fileURLWithPath: path), options: .mappedIfSafe) } catch {
            throw WeightsError.unreadable(path: path, reason: FileManager.default.fileExists(atPath: path) ? "\(error.localizedDescription)" : "no such file")
        }
        return try decode(data, path: path)
    }

    /// Decodes safetensors bytes; `path` only names the source in errors.
    public static func decode(_ data: Data, path: String) throws -> SafeTensors {
        func bad(_ r: String) -> WeightsError { .malformed(path: path, reason: r) }
        guard data.count >= 8 else { throw bad("shorter than the 8-byte header length") }
        let headerLen = data.prefix(8).withUnsafeBytes { UInt64(littleEndian: $0.loadUnaligned(as: UInt64.self)) }
        guard headerLen <= UInt64(data.count - 8), headerLen < 100_000_000 else { throw bad("header length \(headerLen) exceeds the file") }
        let headerData = data.subdata(in: 8..<8 + Int(headerLen))
        guard let header = try? JSONSerialization.jsonObject(with: headerData) as? [String: Any] else {
            throw bad("header is not a JSON object")
        }
        let body = 8 + Int(headerLen)
        var out = SafeTensors()
        for (name, value) in header {
            if name == "__metadata__" {
                out.metadata = (value as? [String: String]) ?? [:]
                continue
            }
            guard let entry = value as? [String: Any], let dtypeName = entry["dtype"] as? String,
                  let shape = entry["shape"] as? [Int], let offsets = entry["data_offsets"] as? [Int], offsets.count == 2
            else { throw bad("entry \(name) lacks dtype, shape or data_offsets") }
            guard let dtype = SafeTensorsDType(rawValue: dtypeName) else {
                throw bad("tensor \(name) has dtype \(dtypeName); only F32, F16 and I8 are supported")
            }
            guard shape.allSatisfy({ $0 >= 0 }) else { throw bad("tensor \(name) has a negative dimension") }
            let count = shape.reduce(1, *)
            let (start, end) = (offsets[0], offsets[1])
            guard start >= 0, end >= start, body + end <= data.count, end - start == count * dtype.size else {
                throw bad("tensor \(name): data_offsets \(offsets) do not match shape \(shape) of \(dtypeName)")
            }
            var values = [Float](repeating: 0, count: count)
            data.withUnsafeBytes { raw in
                let base = raw.baseAddress! + body + start
                switch dtype {
                case .f32:
                    for i in 0..<count { values[i] = Float(bitPattern: UInt32(littleEndian: (base + 4 * i).loadUnaligned(as: UInt32.self))) }
                case .f16:
                    for i in 0..<count { values[i] = Float(Float16(bitPattern: UInt16(littleEndian: (base + 2 * i).loadUnaligned(as: UInt16.self)))) }
                case .i8:
                    for i in 0..<count { values[i] = Float(Int8(bitPattern: base.load(fromByteOffset: i, as: UInt8.self))) }
                }
            }
            out.tensors[name] = Tensor(shape: shape, data: values)
        }
        return out
    }

    /// Encodes all tensors (sorted by name) in `dtype`. I8 rounds and clamps to -128...127.
    public func encoded(dtype: SafeTensorsDType = .f32) -> Data {
        var header: [String: Any] = [:]
        if !metadata.isEmpty { header["__metadata__"] = metadata }
        var offset = 0
        let names = tensors.keys.sorted()
        for name in names {
            let t = tensors[name]!
            header[name] = ["dtype": dtype.rawValue, "shape": t.shape, "data_offsets": [offset, offset + t.count * dtype.size]]
            offset += t.count * dtype.size
        }
        var json = try! JSONSerialization.data(withJSONObject: header, options: [.sortedKeys])
        while (json.count + 8) % 8 != 0 { json.append(UInt8(ascii: " ")) }
        var out = Data(capacity: 8 + json.count + offset)
        withUnsafeBytes(of: UInt64(json.count).littleEndian) { out.append(contentsOf: $0) }
        out.append(json)
        for name in names {
            let values = tensors[name]!.data
            switch dtype {
            case .f32:
                values.withUnsafeBufferPointer { out.append(Data(buffer: $0)) }  // little-endian hosts only
            case .f16:
                let half = values.map { Float16($0).bitPattern.littleEndian }
                half.withUnsafeBufferPointer { out.append(Data(buffer: $0)) }
            case .i8:
                out.append(contentsOf: values.map { UInt8(bitPattern: Int8(max(-128, min(127, $0.rounded())))) })
            }
        }
        return out
    }

    /// Writes the file atomically.
    public func write(path: String, dtype: SafeTensorsDType = .f32) throws {
        do { try encoded(dtype: dtype).write(to: URL(fileURLWithPath: path), options: .atomic) } catch {
            throw WeightsError.unreadable(path: path, reason: "cannot write: \(error.localizedDescription)")
        }
    }
}
