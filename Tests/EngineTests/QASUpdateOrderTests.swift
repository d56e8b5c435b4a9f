// The row-wise QAS weight update against the element-wise form it replaced (an index function
// per gradient element), bit for bit: sparse input channels of a pointwise conv, channels of a
// depthwise conv, stochastic and nearest rounding, and fp32 masters.
@testable import Engine
import XCTest

final class QASUpdateOrderTests: XCTestCase {
    /// The element-wise update as written before (the reference).
    func reference(_ w: inout [Int8], scales: [Float], perRow: Int, g: [Float], index: (Int) -> Int, lr: Float, rounding: QASRounding,
                   tensor: Int, master: inout [Float]?) {
        for i in 0..<g.count {
            let j = index(i)
            if master != nil {
                master![j] -= lr * g[i]
                w[j] = Int8(max(-127, min(127, (master![j] / scales[j / perRow]).rounded())))
                continue
            }
            let s = Double(scales[j / perRow])
            let v = Double(w[j]) - Double(g[i]) * (Double(lr) / s)
            w[j] = Int8(max(-127, min(127, rounding.round(v, tensor: tensor, index: j))))
        }
    }

    func compare(out: Int, cin: Int, taps: Int, depthwise: Bool, chans: [Int32], masters: Bool, seed: UInt64?, file: StaticString = #filePath, line: UInt = #line) {
        var rng = SplitMix64(seed: 11)
        let count = depthwise ? out * taps : out * cin * taps
        let w0 = (0..<count).map { _ in Int8(Int(rng.next() % 255) - 127) }
        let scales = (0..<out).map { _ in rng.nextFloat(in: 0.001...0.05) }
        let k = chans.count
        let g = (0..<(depthwise ? k * taps : out * k * taps)).map { _ in rng.nextFloat(in: -3...3) }
        let perRow = count / out
        let index: (Int) -> Int = depthwise
            ? { i in Int(chans[i / taps]) * taps + i % taps }
            : { i in let o = i / (k * taps), r = i % (k * taps); return (o * cin + Int(chans[r / taps])) * taps + r % taps }
        let m0: [Float]? = masters ? w0.indices.map { Float(w0[$0]) * scales[$0 / perRow] } : nil
        var want = w0, wantMaster = m0
        reference(&want, scales: scales, perRow: perRow, g: g, index: index, lr: 0.7, rounding: QASRounding(seed: seed), tensor: 5, master: &wantMaster)
        var got = w0, gotMaster = m0
        let rows: [Int]? = depthwise ? chans.map { Int($0) } : nil
        let offsets = depthwise ? Array(0..<taps) : chans.flatMap { c in (0..<taps).map { Int(c) * taps + $0 } }
        g.withUnsafeBufferPointer {
            QASUpdate.weights(&got, scales: scales, perRow: perRow, rows: rows, offsets: offsets, gradient: $0.baseAddress!, learningRate: 0.7,
                              rounding: QASRounding(seed: seed), tensor: 5, master: &gotMaster)
        }
        XCTAssertEqual(got, want, file: file, line: line)
        XCTAssertEqual(gotMaster?.map(\.bitPattern), wantMaster?.map(\.bitPattern), file: file, line: line)
        XCTAssertNotEqual(got, w0, "the update moved something", file: file, line: line)
    }

    func testSparseInputChannelsOfAPointwiseConv() {
        for seed in [UInt64?.none, 42] {
            compare(out: 24, cin: 40, taps: 1, depthwise: false, chans: [3, 17, 0, 39, 8], masters: false, seed: seed)
            compare(out: 6, cin: 9, taps: 9, depthwise: false, chans: [8, 1], masters: false, seed: seed)
        }
        compare(out: 24, cin: 40, taps: 1, depthwise: false, chans: [3, 17, 0, 39, 8], masters: true, seed: nil)
    }

    func testChannelsOfADepthwiseConv() {
        for seed in [UInt64?.none, 42] {
            compare(out: 32, cin: 32, taps: 9, depthwise: true, chans: [31, 2, 7], masters: false, seed: seed)
        }
        compare(out: 32, cin: 32, taps: 25, depthwise: true, chans: [0, 5], masters: true, seed: nil)
    }
}
