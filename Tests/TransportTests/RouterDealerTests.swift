import Foundation
import XCTest

@testable import Transport

/// A real ROUTER/DEALER multipart round trip over tcp on loopback and over ipc.
final class RouterDealerTests: XCTestCase {
    func roundTrip(bindTo endpoint: String) throws {
        let context = try ZmqContext()
        let router = try ZmqSocket(context: context, type: .router)
        try router.setReceiveTimeout(milliseconds: 5000)
        try router.bind(endpoint)
        let dealer = try ZmqSocket(context: context, type: .dealer)
        try dealer.setReceiveTimeout(milliseconds: 5000)
        try dealer.setIdentity(Array("device-7".utf8))
        try dealer.connect(router.lastEndpoint)

        let payload = (0..<100_000).map { UInt8(truncatingIfNeeded: $0) }
        try dealer.send([Array("hello".utf8), [], payload])
        let got = try router.receive()
        XCTAssertEqual(got.count, 4, "router prepends the peer identity")
        XCTAssertEqual(got[0], Array("device-7".utf8))
        XCTAssertEqual(got[1], Array("hello".utf8))
        XCTAssertEqual(got[2], [])
        XCTAssertEqual(got[3], payload)

        try router.send([got[0], Array("reply".utf8), Array(payload.reversed())])
        let back = try dealer.receive()
        XCTAssertEqual(back, [Array("reply".utf8), Array(payload.reversed())])
    }

    func testTcpLoopback() throws {
        try roundTrip(bindTo: "tcp://127.0.0.1:*")
    }

    func testIpc() throws {
        let path = NSTemporaryDirectory() + "sf-test-\(getpid())-\(UUID().uuidString.prefix(8)).sock"
        defer { unlink(path) }
        try roundTrip(bindTo: "ipc://" + path)
    }

    func testReceiveTimesOut() throws {
        let context = try ZmqContext()
        let dealer = try ZmqSocket(context: context, type: .dealer)
        try dealer.setReceiveTimeout(milliseconds: 50)
        try dealer.connect("tcp://127.0.0.1:1")
        XCTAssertThrowsError(try dealer.receive()) { error in
            XCTAssertTrue((error as? ZmqError)?.isTimeout == true, "\(error)")
        }
        XCTAssertFalse(try dealer.poll(milliseconds: 10))
    }

    func testEndpointValidation() {
        XCTAssertNil(Endpoint.problem(with: "tcp://127.0.0.1:5555"))
        XCTAssertNil(Endpoint.problem(with: "ipc:///tmp/a.sock"))
        XCTAssertNotNil(Endpoint.problem(with: "tcp://127.0.0.1"))
        XCTAssertNotNil(Endpoint.problem(with: "tcp://host:99999"))
        XCTAssertNotNil(Endpoint.problem(with: "http://x"))
    }

    func testCurveIsAvailable() {
        XCTAssertTrue(ZmqContext.has("curve"), "libzmq must be built with CURVE (Debian's libzmq3-dev is)")
    }
}
