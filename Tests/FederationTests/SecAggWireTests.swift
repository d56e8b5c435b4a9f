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
