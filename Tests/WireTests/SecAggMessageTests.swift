// SECAGG (kind 9, PROTOCOL.md §4.9): every phase round-trips byte for byte, the masked vector
// travels as frame 2, and a header that breaks a rule is refused MALFORMED in both directions.
import Foundation
import XCTest

@testable import Wire

final class SecAggMessageTests: XCTestCase {
    let codec = WireCodec()

    func keys(_ i: UInt32) -> PBSecAggKeys {
        var k = PBSecAggKeys()
        k.participant = i
        k.maskPublicKey = Data(repeating: UInt8(i), count: 32)
        k.sharePublicKey = Data(repeating: UInt8(i) &+ 1, count: 32)
        k.selfMaskCommitment = Data(repeating: 9, count: 32)
        return k
    }

    func header(_ phase: PBSecAggPhase) -> PBSecAgg {
        var h = PBSecAgg()
        h.round = 4; h.deviceID = "dev-1"; h.phase = phase; h.participant = 1
        return h
    }

    func phases() -> [SecAggMessage] {
        var advertise = header(.advertise); advertise.keys = keys(1)
        var relay = header(.keys); relay.neighbourKeys = [keys(0), keys(2)]
        var deal = header(.deal)
        var s = PBSecAggSealedShare(); s.from = 1; s.to = 2; s.sealed = Data(repeating: 3, count: 120)
        s.selfMaskCommitment = Data(repeating: 4, count: 32); s.maskKeyCommitment = Data(repeating: 5, count: 32)
        deal.shares = [s]
        var shares = header(.shares); var t = s; t.selfMaskCommitment = Data(); t.maskKeyCommitment = Data(); shares.shares = [t]
        var masked = header(.masked); masked.maskedLength = 5
        var request = header(.unmaskRequest); request.survivors = [0, 1, 2]
        var unmask = header(.unmask)
        var share = PBSecAggShare(); share.owner = 2; share.x = 2; share.values = [1, 2, 3, 4, 5]
        var other = share; other.owner = 0
        unmask.selfMaskShares = [share]; unmask.maskKeyShares = [other]
        return [SecAggMessage(header: advertise), SecAggMessage(header: relay), SecAggMessage(header: deal), SecAggMessage(header: shares),
                SecAggMessage(header: masked, masked: [0, 1, 0xFFFF_FFFF, 7, 1 << 20]), SecAggMessage(header: request), SecAggMessage(header: unmask)]
    }

    func testEveryPhaseRoundTripsAndTheMaskedVectorIsFrameTwo() throws {
        for m in phases() {
            let frames = try codec.encode(.secAgg(m))
            XCTAssertEqual(try Envelope.decode(frames[0]).kind, .secAgg)
            XCTAssertEqual(frames.count, m.header.phase == .masked ? 3 : 2)
            XCTAssertEqual(try codec.decode(frames), .secAgg(m), "\(m.header.phase)")
            XCTAssertEqual(try codec.encode(try codec.decode(frames)), frames)
        }
        let masked = try codec.encode(.secAgg(phases()[4]))
        XCTAssertEqual(masked[2].count, 20)
        XCTAssertEqual(Array(masked[2][8..<12]), [0xFF, 0xFF, 0xFF, 0xFF])
    }

    func testBrokenRulesAreRefusedMalformed() throws {
        func refused(_ h: PBSecAgg, frames extra: [[UInt8]]? = nil, _ why: String) {
            let frames = [Envelope(kind: .secAgg).encoded(), try! h.serializedBytes()] + (extra ?? [])
            XCTAssertThrowsError(try codec.decode(frames), why) { XCTAssertEqual(($0 as? WireError)?.code, .malformed, why) }
        }
        var short = header(.advertise); short.keys = keys(1); short.keys.maskPublicKey = Data(count: 31)
        refused(short, "a 31-byte key")
        var same = header(.advertise); same.keys = keys(1); same.keys.sharePublicKey = same.keys.maskPublicKey
        refused(same, "equal mask and share keys")
        var extra = header(.advertise); extra.keys = keys(1); extra.neighbourKeys = [keys(2)]
        refused(extra, "neighbour keys in the ADVERTISE phase")
        var wrongPhase = header(.keys); wrongPhase.neighbourKeys = [keys(0)]; wrongPhase.keys = keys(1)
        refused(wrongPhase, "keys in the KEYS phase")
        var masked = header(.masked); masked.maskedLength = 3
        refused(masked, frames: [[1, 2, 3, 4]], "3 values announced, 1 sent")
        refused(masked, "no frame 2")
        var both = header(.unmask)
        var share = PBSecAggShare(); share.owner = 2; share.x = 3; share.values = [1]
        both.selfMaskShares = [share]; both.maskKeyShares = [share]
        refused(both, "both secrets of one participant")
        var big = header(.unmask); var s = share; s.values = [(1 << 61) - 1]; big.selfMaskShares = [s]
        refused(big, "a value outside the field")
        refused(header(.unspecified), "no phase")
        var noRound = header(.unmaskRequest); noRound.round = 0
        refused(noRound, "round 0")
        // And the sender refuses what the receiver would.
        XCTAssertThrowsError(try codec.encode(.secAgg(SecAggMessage(header: masked, masked: [1]))))
    }
}
