// A SecAgg+ round whose every message goes through the real codec (SecAggRoundCost): the sum the
// coordinator unmasks equals the survivors' plaintext sum exactly, with dropouts, and the bytes
// it counts are the encoded frames.
@testable import Federation
import SecureAggregation
import Wire
import XCTest

final class SecAggWireTests: XCTestCase {
    func testARoundThroughTheCodecUnmasksTheExactSum() throws {
        for (n, k, t, drop) in [(3, 2, 2, 0), (10, 6, 3, 2), (50, 8, 4, 5)] {
            let c = try SecAggRoundCost.measure(devices: n, degree: k, threshold: t, length: 300, dropped: drop)
            XCTAssertTrue(c.exact, "n = \(n)")
            // The masked message is the vector (4 bytes an element) plus envelope and header.
            XCTAssertGreaterThan(c.maskedPerDevice, 1200)
            XCTAssertLessThan(c.maskedPerDevice, 1300)
            XCTAssertGreaterThan(c.uplinkPerDevice, Double(k) * 100, "sealed shares to every neighbour")
        }
    }

    func testConversionsRoundTrip() throws {
        let keys = AdvertiseKeys(participant: 2, maskPublicKey: Array(repeating: 1, count: 32), sharePublicKey: Array(repeating: 2, count: 32),
                                 selfMaskCommitment: Array(repeating: 3, count: 32))
        XCTAssertEqual(try SecAggWire.advertised(SecAggWire.advertise(keys, device: "d", round: 1)), keys)
        let u = UnmaskShares(participant: 1, selfMaskShares: [3: Share(x: 2, values: [FieldElement(5)])], maskKeyShares: [4: Share(x: 2, values: [FieldElement(6)])])
        XCTAssertEqual(try SecAggWire.unmaskShares(SecAggWire.unmask(u, device: "d", round: 1)), u)
        XCTAssertThrowsError(try SecAggWire.unmaskShares(SecAggWire.advertise(keys, device: "d", round: 1))) {
            guard case .wrongPhase? = $0 as? SecAggError else { return XCTFail("\($0)") }
        }
    }
}

/// Masked updates: a SecAgg+ round over encoded sparse deltas unmasks to the per-coordinate
/// weighted mean that plain aggregation computes, within the quantisation error.
final class MaskedUpdateEncodingTests: XCTestCase {
    func testTheUnmaskedSumGivesThePerCoordinateWeightedMean() throws {
        let specs = [TensorSpec(name: "w", shape: [4, 6], channelAxis: 1), TensorSpec(name: "b", shape: [6])]
        let n = 6
        let weights: [UInt64] = [120, 80, 200, 50, 200, 10]
        let enc = try MaskedUpdateEncoding(tensors: specs, clip: 0.5, valueBits: 16, contributors: n, maxWeight: 200)
        var g = ChaChaGenerator(seed: [UInt8](repeating: 9, count: 32))
        // Device i touches channels {i, i+1} mod 6 of "w" and, for even i, all of "b".
        var deltas: [SparseDelta] = []
        for i in 0..<n {
            let chans = [i % 6, (i + 1) % 6].sorted()
            var t = [TensorDelta(name: "w", channels: .subset(chans), values: (0..<8).map { _ in Float(Double(g.next() >> 11) / Double(1 << 53) - 0.5) })]
            if i % 2 == 0 { t.append(TensorDelta(name: "b", channels: .all, values: (0..<6).map { Float($0) * 0.01 - Float(i) * 0.001 })) }
            deltas.append(SparseDelta(t))
        }
        // Plaintext reference: Σ n_k Δ / Σ n_k over the touching devices, per coordinate.
        var num = specs.map { [Double](repeating: 0, count: $0.elementCount) }, den = num
        for (d, w) in zip(deltas, weights) {
            for t in d.tensors {
                let s = specs.firstIndex { $0.name == t.name }!
                var dense = [Float](repeating: 0, count: specs[s].elementCount), mask = dense
                TensorSlicing.scatter(t.values, into: &dense, spec: specs[s], channels: t.channels)
                TensorSlicing.scatter([Float](repeating: 1, count: t.values.count), into: &mask, spec: specs[s], channels: t.channels)
                for j in dense.indices where mask[j] == 1 { num[s][j] += Double(w) * Double(dense[j]); den[s][j] += Double(w) }
            }
        }
        // The round.
        let p = try SecAggParameters(round: 2, participants: n, degree: 4, threshold: 3, length: enc.length, ringBits: enc.quantiser.ringBits)
        var gg = ChaChaGenerator(seed: [UInt8](repeating: 8, count: 32))
        let graph = NeighbourGraph(count: n, degree: 4, using: &gg)
        let server = SecAggServer(parameters: p, graph: graph)
        let clients = (0..<n).map { i in SecAggClient(index: i, parameters: p, graph: graph, seed: [UInt8](repeating: UInt8(i + 1), count: 32)) }
        for c in clients { try server.receive(c.advertise()) }
        let keys = try server.closeAdvertise()
        for c in clients { try server.receive(try c.deal(neighbours: keys[c.index]!)) }
        let relayed = try server.closeDeal()
        for c in clients { try server.receive(try c.maskedInput(received: relayed[c.index]!, input: try enc.encode(deltas[c.index], weight: weights[c.index], using: &g).vector)) }
        let survivors = try server.closeMaskedInput()
        for c in clients { try server.receive(try c.unmask(survivors: survivors)) }
        let (mean, touched) = try enc.aggregate(try server.finish())
        XCTAssertEqual(touched, 24 + 6)
        XCTAssertEqual(enc.length, 30 + 6 + 6, "values, then one count per channel of each tensor")
        // Error bound: each of ≤ n values rounds by < 1 unit of 1/scale, scaled by W / Σ n_k.
        for (s, t) in mean.enumerated() {
            for j in t.values.indices {
                guard den[s][j] > 0 else { XCTAssertEqual(t.values[j], 0); XCTAssertFalse(t.touched[j]); continue }
                let bound: Double = Double(n) / enc.quantiser.scale * 200 / den[s][j]
                let expected: Double = num[s][j] / den[s][j]
                XCTAssertTrue(t.touched[j])
                XCTAssertEqual(Double(t.values[j]), expected, accuracy: bound + 1e-6, "\(t.slot.spec.name)[\(j)]")
            }
        }
        // A slice outside the candidates cannot be masked.
        XCTAssertThrowsError(try enc.encode(SparseDelta([TensorDelta(name: "head", channels: .all, values: [1])]), weight: 1, using: &g))
        XCTAssertThrowsError(try MaskedUpdateEncoding(tensors: specs, clip: 1, valueBits: 16, contributors: 1000, maxWeight: 100_000), "counts could wrap")
    }
}
