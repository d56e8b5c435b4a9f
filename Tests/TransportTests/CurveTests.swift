import Foundation
import XCTest

@testable import Transport

/// CURVE encryption with a ZAP allow list: admitted keys get through, others never do.
final class CurveTests: XCTestCase {
    func testKeypairsAreValidZ85() throws {
        let a = try Curve.keypair(), b = try Curve.keypair()
        XCTAssertEqual(a.publicKey.count, 40)
        XCTAssertEqual(a.secretKey.count, 40)
        XCTAssertNotEqual(a, b)
        XCTAssertTrue(Curve.isValidKey(a.publicKey))
        XCTAssertEqual(try Curve.publicKey(forSecretKey: a.secretKey), a.publicKey)
        XCTAssertFalse(Curve.isValidKey("too short"))
        XCTAssertFalse(Curve.isValidKey(String(repeating: "\"", count: 40)))  // '"' is not Z85
        XCTAssertThrowsError(try CurveKeyPair(publicKey: "x", secretKey: a.secretKey))
    }

    /// A CURVE server with a ZAP handler admitting `allowed`, bound on loopback tcp.
    func server(_ context: ZmqContext, serverKeys: CurveKeyPair, allowed: Set<String>) throws -> (
        ZmqSocket, ZapAuthenticator
    ) {
        let zap = try ZapAuthenticator(context: context, allowedClientKeys: allowed)
        let router = try ZmqSocket(context: context, type: .router)
        try router.makeCurveServer(secretKey: serverKeys.secretKey)
        try router.setHighWaterMarks(send: 64, receive: 64)
        try router.bind("tcp://127.0.0.1:*")
        return (router, zap)
    }

    func client(_ context: ZmqContext, endpoint: String, serverKey: String, keys: CurveKeyPair, identity: String) throws
        -> ZmqSocket
    {
        let dealer = try ZmqSocket(context: context, type: .dealer)
        try dealer.setIdentity(Array(identity.utf8))
        try dealer.makeCurveClient(serverPublicKey: serverKey, keyPair: keys)
        try dealer.connect(endpoint)
        return dealer
    }

    func testAdmittedKeyRoundTripsOverTcp() throws {
        let context = try ZmqContext()
        let serverKeys = try Curve.keypair(), nodeKeys = try Curve.keypair()
        let (router, zap) = try server(context, serverKeys: serverKeys, allowed: [nodeKeys.publicKey])
        let dealer = try client(
            context, endpoint: router.lastEndpoint, serverKey: serverKeys.publicKey, keys: nodeKeys, identity: "node-ok"
        )

        let payload = (0..<50_000).map { UInt8(truncatingIfNeeded: $0 &* 31) }
        try dealer.send([Array("hello".utf8), payload])
        let got = try XCTUnwrap(try router.receive(timeoutMilliseconds: 5000), "admitted client's message must arrive")
        XCTAssertEqual(got, [Array("node-ok".utf8), Array("hello".utf8), payload])
        try router.send([got[0], Array("welcome".utf8)])
        XCTAssertEqual(try dealer.receive(timeoutMilliseconds: 5000), [Array("welcome".utf8)])
        XCTAssertEqual(zap.admittedCount, 1)
        XCTAssertEqual(zap.refusedCount, 0)
        zap.stop()
    }

    func testUnknownKeyIsRefused() throws {
        let context = try ZmqContext()
        let serverKeys = try Curve.keypair(), known = try Curve.keypair(), stranger = try Curve.keypair()
        let (router, zap) = try server(context, serverKeys: serverKeys, allowed: [known.publicKey])
        let intruder = try client(
            context, endpoint: router.lastEndpoint, serverKey: serverKeys.publicKey, keys: stranger,
            identity: "intruder")
        try intruder.setSendTimeout(milliseconds: 100)
        try? intruder.send([Array("let me in".utf8)])  // queues locally; never delivered
        XCTAssertNil(try router.receive(timeoutMilliseconds: 700), "a refused key must never deliver a message")
        XCTAssertGreaterThanOrEqual(zap.refusedCount, 1)
        XCTAssertTrue(zap.refusedKeysSeen.contains(stranger.publicKey))
        XCTAssertEqual(zap.admittedCount, 0)

        // The known key still gets in on the same server.
        let friend = try client(
            context, endpoint: router.lastEndpoint, serverKey: serverKeys.publicKey, keys: known, identity: "friend")
        try friend.send([Array("hi".utf8)])
        XCTAssertEqual(try router.receive(timeoutMilliseconds: 5000)?.first, Array("friend".utf8))
        zap.stop()
    }

    func testPlainClientCannotTalkToCurveServer() throws {
        let context = try ZmqContext()
        let serverKeys = try Curve.keypair()
        let (router, zap) = try server(context, serverKeys: serverKeys, allowed: [])
        let plain = try ZmqSocket(context: context, type: .dealer)
        try plain.connect(router.lastEndpoint)
        try plain.setSendTimeout(milliseconds: 100)
        try? plain.send([Array("plaintext".utf8)])
        XCTAssertNil(try router.receive(timeoutMilliseconds: 500))
        zap.stop()
    }

    func testZapAnswersMalformedAndNonCurveRequests() throws {
        let context = try ZmqContext()
        let allowed = try Curve.keypair()
        let key32 = [UInt8](repeating: 7, count: 32)
        let core = ZapCore(
            socket: try ZmqSocket(context: context, type: .dealer), allowed: [allowed.publicKey], domain: "sparsefleet")
        func status(_ r: [[UInt8]]) -> String { String(decoding: r[2], as: UTF8.self) }
        let base: [[UInt8]] = [
            Array("1.0".utf8), [1], Array("sparsefleet".utf8), Array("127.0.0.1".utf8), [], Array("CURVE".utf8),
        ]
        XCTAssertEqual(status(core.answer([[0]])), "400")
        XCTAssertEqual(status(core.answer(base + [key32])), "400")
        XCTAssertEqual(
            status(core.answer(base.dropLast() + [Array("PLAIN".utf8), Array("u".utf8), Array("p".utf8)])), "400")
        let binary = try XCTUnwrap(Curve.binary(fromZ85: allowed.publicKey))
        XCTAssertEqual(Curve.z85(binary), allowed.publicKey)
        XCTAssertEqual(status(core.answer(base + [binary])), "200")
        var otherDomain = base
        otherDomain[2] = Array("elsewhere".utf8)
        XCTAssertEqual(status(core.answer(otherDomain + [binary])), "400")
    }
}
