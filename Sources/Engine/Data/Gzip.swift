// Reading gzip-compressed files through zlib (Fashion-MNIST and MNIST ship as .gz IDX files).
import CZlib
import Foundation

/// Errors from reading compressed or raw data files; each names the path and the fix.
public enum DataFileError: Error, CustomStringConvertible, Equatable {
    case missing(path: String, hint: String)
    case corrupt(path: String, reason: String, hint: String)

    public var description: String {
        switch self {
        case let .missing(path, hint): return "data file not found: \(path). \(hint)"
        case let .corrupt(path, reason, hint): return "data file is corrupt: \(path) (\(reason)). \(hint)"
        }
    }
}

/// Reads gzip files (or plain files, which zlib passes through unchanged).
public enum Gzip {
    /// Returns the whole decompressed content of `path`.
    /// - Parameter hint: how the user obtains the file, appended to any error.
    public static func read(path: String, hint: String = "") throws -> [UInt8] {
        guard FileManager.default.fileExists(atPath: path) else {
            throw DataFileError.missing(path: path, hint: hint)
        }
        guard let file = gzopen(path, "rb") else {
            throw DataFileError.corrupt(path: path, reason: "cannot open", hint: hint)
        }
        defer { gzclose(file) }
        gzbuffer(file, 1 << 17)
        var out: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 1 << 16)
        while true {
            let n = chunk.withUnsafeMutableBytes { gzread(file, $0.baseAddress, UInt32($0.count)) }
            if n < 0 {
                var errnum: Int32 = 0
                let msg = gzerror(file, &errnum).map { String(cString: $0) } ?? "read error"
                throw DataFileError.corrupt(path: path, reason: msg, hint: hint)
            }
            if n == 0 { break }
            out.append(contentsOf: chunk[0..<Int(n)])
        }
        // zlib reports a truncated gzip stream as EOF without data; check the stream state.
        var errnum: Int32 = 0
        _ = gzerror(file, &errnum)
        if errnum != Z_OK && errnum != Z_STREAM_END {
            throw DataFileError.corrupt(path: path, reason: "truncated or damaged gzip stream", hint: hint)
        }
        return out
    }

    /// Compresses `bytes` into a gzip file at `path` (used by tests and tools).
    public static func write(_ bytes: [UInt8], to path: String) throws {
        guard let file = gzopen(path, "wb") else {
            throw DataFileError.corrupt(path: path, reason: "cannot create", hint: "check the folder exists and is writable")
        }
        defer { gzclose(file) }
        let written = bytes.withUnsafeBytes { gzwrite(file, $0.baseAddress, UInt32($0.count)) }
        if Int(written) != bytes.count {
            throw DataFileError.corrupt(path: path, reason: "short write", hint: "check free disk space")
        }
    }
}
