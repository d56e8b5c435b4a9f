// Reading chosen rows of an IDX file while it streams past, so a process that needs a few of its
// images never holds the whole decompressed file (a node keeps only its devices' samples).
import CZlib
import Foundation

/// The header of an IDX file of unsigned bytes.
public struct IDXHeader: Equatable {
    /// Dimensions as stored, outermost first (e.g. [60000, 28, 28]).
    public var dims: [Int]
    /// Values per row (the product of the inner dimensions).
    public var rowSize: Int { dims.dropFirst().reduce(1, *) }
    /// Rows (the outermost dimension).
    public var rows: Int { dims.first ?? 0 }
}

extension IDX {
    /// The rows `rows` (ascending, each in 0..<header.rows) of the gzip (or plain) IDX file at `path`,
    /// concatenated in that order, and the file's header. Decompresses up to the last row asked for,
    /// one row at a time, keeping only the rows asked for.
    public static func readRows(path: String, rows: [Int], hint: String = "") throws -> (header: IDXHeader, values: [UInt8]) {
        func corrupt(_ reason: String) -> DataFileError { .corrupt(path: path, reason: reason, hint: hint) }
        guard FileManager.default.fileExists(atPath: path) else { throw DataFileError.missing(path: path, hint: hint) }
        guard let file = gzopen(path, "rb") else { throw corrupt("cannot open") }
        defer { gzclose(file) }
        gzbuffer(file, 1 << 17)
        func read(_ count: Int) throws -> [UInt8] {
            var buffer = [UInt8](repeating: 0, count: count)
            let n = buffer.withUnsafeMutableBytes { gzread(file, $0.baseAddress, UInt32(count)) }
            if n < 0 {
                var errnum: Int32 = 0
                throw corrupt(gzerror(file, &errnum).map { String(cString: $0) } ?? "read error")
            }
            guard Int(n) == count else { throw corrupt("file ends early: needed \(count) more bytes, found \(n)") }
            return buffer
        }
        let magic = try read(4)
        guard magic[0] == 0, magic[1] == 0 else { throw corrupt("bad IDX magic") }
        guard magic[2] == 0x08 else { throw corrupt("IDX type 0x\(String(magic[2], radix: 16)) is not unsigned byte") }
        let rank = Int(magic[3])
        guard rank >= 1, rank <= 4 else { throw corrupt("IDX rank \(rank) not in 1...4") }
        let sizes = try read(4 * rank)
        let dims = (0..<rank).map { i in sizes[4 * i..<4 * i + 4].reduce(0) { $0 << 8 | Int($1) } }
        let header = IDXHeader(dims: dims)
        if let bad = zip(rows, rows.dropFirst()).first(where: { $0.0 >= $0.1 }) {
            throw corrupt("rows asked for must ascend without repeats (\(bad.0) then \(bad.1))")
        }
        if let last = rows.last, last >= header.rows || rows[0] < 0 {
            throw corrupt("row \(last >= header.rows ? last : rows[0]) asked for, but the file holds rows 0..<\(header.rows)")
        }
        let size = header.rowSize
        var values = [UInt8]()
        values.reserveCapacity(rows.count * size)
        var buffer = [UInt8](repeating: 0, count: size)
        var next = 0
        for row in 0..<(rows.last.map { $0 + 1 } ?? 0) {
            let n = buffer.withUnsafeMutableBytes { gzread(file, $0.baseAddress, UInt32(size)) }
            guard Int(n) == size else { throw corrupt("header promises \(header.rows) rows of \(size) values, but the data ends in row \(row)") }
            if rows[next] == row {
                values.append(contentsOf: buffer)
                next += 1
            }
        }
        return (header, values)
    }
}
