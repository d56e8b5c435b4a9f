// The building blocks: field arithmetic against 128-bit reference arithmetic, Shamir sharing
// (any t shares rebuild, t − 1 do not), secret encoding, the pairwise secret agreeing on both
// sides, the Harary graph's degree and symmetry.
@testable import SecureAggregation
import XCTest

final class PrimitivesTests: XCTestCase {
    func testFieldArithmeticMatchesWideIntegerReference() {
        var g = ChaChaGenerator(seed: [UInt8](repeating: 1, count: 32))
        let p = FieldElement.modulus
        for _ in 0..<2000 {
            let a = g.next() % p, b = g.next() % p
            let (hi, lo) = a.multipliedFullWidth(by: b)
            let (_, r) = p.dividingFullWidth((hi, lo))
            XCTAssertEqual((FieldElement(a) * FieldElement(b)).value, r)
            XCTAssertEqual((FieldElement(a) + FieldElement(b)).value, (a + b) % p)
            XCTAssertEqual((FieldElement(a) - FieldElement(b)).value, (a + p - b) % p)
            if a != 0 { XCTAssertEqual((FieldElement(a) * FieldElement(a).inverse!).value, 1) }
        }
        XCTAssertEqual(FieldElement(p).value, 0)
        XCTAssertEqual(FieldElement(UInt64.max).value, UInt64.max % p)
    }

    func testAnyThresholdSharesRebuildTheSecretAndFewerDoNot() {
        var g = ChaChaGenerator(seed: [UInt8](repeating: 2, count: 32))
        let secretBytes = g.bytes(32)
        let secret = SecretEncoding.elements(secretBytes)
        XCTAssertEqual(secret.count, 5)
        let shares = ShamirSharing.split(secret, threshold: 4, xs: [3, 5, 8, 9, 12, 20], using: &g)
        for subset in [[0, 1, 2, 3], [2, 3, 4, 5], [0, 2, 4, 5], [5, 1, 3, 0]] {
            let rebuilt = ShamirSharing.reconstruct(subset.map { shares[$0] })!
            XCTAssertEqual(SecretEncoding.bytes(rebuilt, count: 32), secretBytes)
        }
        XCTAssertEqual(ShamirSharing.reconstruct(shares)!, secret, "more than t shares of one sharing rebuild it too")
        XCTAssertNotEqual(ShamirSharing.reconstruct(Array(shares.prefix(3)))!, secret, "t − 1 shares give another value")
        XCTAssertNil(ShamirSharing.reconstruct([shares[0], shares[0]]), "a repeated point is refused")
    }

    func testPairwiseSecretsAgreeAndDependOnRoundAndPurpose() throws {
        var g = ChaChaGenerator(seed: [UInt8](repeating: 3, count: 32))
        let a = AgreementKeyPair(using: &g), b = AgreementKeyPair(using: &g)
        let ab = try PairwiseKeys.secret(privateKey: a.privateKey, publicKey: b.publicKey, purpose: .mask, round: 4)
        XCTAssertEqual(ab, try PairwiseKeys.secret(privateKey: b.privateKey, publicKey: a.publicKey, purpose: .mask, round: 4))
        XCTAssertNotEqual(ab, try PairwiseKeys.secret(privateKey: a.privateKey, publicKey: b.publicKey, purpose: .mask, round: 5))
        XCTAssertNotEqual(ab, try PairwiseKeys.secret(privateKey: a.privateKey, publicKey: b.publicKey, purpose: .shareEncryption, round: 4))
        XCTAssertEqual(PairwiseKeys.publicKey(ofPrivate: a.privateKey), a.publicKey)
        let sealed = PairwiseKeys.seal([1, 2, 3], key: ab, nonce: 9, context: [7])
        XCTAssertEqual(PairwiseKeys.open(sealed, key: ab, context: [7]), [1, 2, 3])
        XCTAssertNil(PairwiseKeys.open(sealed, key: ab, context: [8]), "bound to its context")
    }

    func testHararyGraphIsSymmetricWithTheStatedDegree() {
        var g = ChaChaGenerator(seed: [UInt8](repeating: 4, count: 32))
        let graph = NeighbourGraph(count: 50, degree: 8, using: &g)
        for i in 0..<50 {
            XCTAssertEqual(graph.neighbours[i].count, 8)
            XCTAssertFalse(graph.neighbours[i].contains(i))
            for j in graph.neighbours[i] { XCTAssertTrue(graph.adjacent(j, i)) }
        }
        XCTAssertEqual(NeighbourGraph(count: 5, degree: 10, using: &g).neighbours[0], [1, 2, 3, 4], "complete graph: classic SecAgg")
    }

    func testParametersAreRefusedWithTheReason() {
        XCTAssertThrowsError(try SecAggParameters(round: 1, participants: 1, degree: 2, threshold: 2, length: 1, ringBits: 16))
        XCTAssertThrowsError(try SecAggParameters(round: 1, participants: 10, degree: 3, threshold: 2, length: 1, ringBits: 16)) {
            XCTAssertTrue("\($0)".contains("even"))
        }
        XCTAssertThrowsError(try SecAggParameters(round: 1, participants: 10, degree: 4, threshold: 5, length: 1, ringBits: 16))
        XCTAssertNil(RingQuantiser(clip: 1, valueBits: 30, maxContributors: 100), "the ring would need 37 bits")
    }
}
