import XCTest
@testable import Wire

/// CRC-32 against known vectors, and binary16 conversion against Swift's Float16.
final class PrimitiveTests: XCTestCase {
    func testCRC32KnownVectors() {
        XCTAssertEqual(CRC32.checksum(frames: [Array("123456789".utf8)]), 0xCBF4_3926)
        XCTAssertEqual(CRC32.checksum(frames: [[UInt8]]()), 0)
        XCTAssertEqual(CRC32.checksum(frames: [Array("The quick brown fox jumps over the lazy dog".utf8)]), 0x414F_A339)
        // Split anywhere: the checksum is over the concatenation.
        let bytes = (0..<1000).map { UInt8(truncatingIfNeeded: $0 &* 7) }
        let whole = CRC32.checksum(frames: [bytes])
        for cut in [0, 1, 7, 8, 9, 500, 999, 1000] {
            XCTAssertEqual(CRC32.checksum(frames: [Array(bytes[..<cut]), Array(bytes[cut...])]), whole, "cut at \(cut)")
        }
    }

    func testHalfMatchesFloat16() {
        #if !(os(macOS) && arch(x86_64))
        var specials: [Float] = [0, -0, 1, -1, 65504, 65505, 65519, 65520, 1e9, -1e9, .infinity, -.infinity,
                                 0x1p-24, 0x1p-25, 0x1.8p-25, 0x1p-26, 6.1e-5, 5.96e-8, .leastNonzeroMagnitude, 0.1, 1 / 3]
        var s: UInt32 = 12345
        for _ in 0..<200_000 {
            s = s &* 1_664_525 &+ 1_013_904_223
            specials.append(Float(bitPattern: s))
        }
        for f in specials where !f.isNaN {
            XCTAssertEqual(Half.bits(from: f), Float16(f).bitPattern, "\(f)")
        }
        for h in 0...UInt16.max {
            let a = Half.float(fromBits: h), b = Float(Float16(bitPattern: h))
            XCTAssertTrue(a.bitPattern == b.bitPattern || (a.isNaN && b.isNaN), "half \(h)")
        }
        #endif
        XCTAssertTrue(Half.isNonFinite(Half.bits(from: .nan)))
        XCTAssertTrue(Half.bits(from: .nan) & 0x3FF != 0, "NaN stays NaN")
    }

    func testTensorSlicingGatherScatter() {
        let spec = TensorSpec(name: "w", shape: [2, 3, 2])  // [outer 2, C 3, inner 2]
        let dense: [Float] = (0..<12).map(Float.init)
        let slice = TensorSlicing.gather(dense, spec: spec, channels: .subset([0, 2]))
        XCTAssertEqual(slice, [0, 1, 4, 5, 6, 7, 10, 11])
        var target = [Float](repeating: 0, count: 12)
        TensorSlicing.scatter(slice, into: &target, spec: spec, channels: .subset([0, 2]))
        XCTAssertEqual(target, [0, 1, 0, 0, 4, 5, 6, 7, 0, 0, 10, 11])
        TensorSlicing.addScaled(slice, scale: 0.5, into: &target, spec: spec, channels: .subset([0, 2]))
        XCTAssertEqual(target[4], 6)  // 4 + 0.5 · 4
        XCTAssertEqual(TensorSlicing.gather(dense, spec: spec, channels: .all), dense)
        let bias = TensorSpec(name: "b", shape: [5])
        XCTAssertEqual(TensorSlicing.gather([0, 1, 2, 3, 4], spec: bias, channels: .subset([1, 3])), [1, 3])
    }

    func testSpecGeometry() {
        let conv = TensorSpec(name: "c", shape: [8, 16, 3, 3])
        XCTAssertEqual([conv.channelAxis, conv.outer, conv.channelCount, conv.inner], [1, 8, 16, 9])
        XCTAssertEqual(conv.valueCount(channels: 2), 8 * 2 * 9)
        let bias = TensorSpec(name: "b", shape: [8])
        XCTAssertEqual([bias.channelAxis, bias.outer, bias.inner], [0, 1, 1])
        XCTAssertEqual(Fixtures.schema.denseF32Bytes, (8 * 16 * 9 + 8 + 16 * 9 + 320 + 10) * 4)
    }
}
