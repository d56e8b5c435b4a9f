import Foundation
import Wire
import XCTest

@testable import Transport

/// The in-memory transport behaves like ROUTER/DEALER over libzmq.
final class InMemoryTransportTests: XCTestCase {
    func testScriptGivesIdenticalFramesInMemoryAndOverZeroMQ() throws {
        let network = InMemoryNetwork()
        let memory = try ProtocolScript.run(
            router: network.router(), dealer: network.dealer(identity: Array("node-a".utf8)))

        let context = try ZmqContext()
        let router = try ZmqSocket(context: context, type: .router)
        try router.bind("tcp://127.0.0.1:*")
        let dealer = try ZmqSocket(context: context, type: .dealer)
        try dealer.setIdentity(Array("node-a".utf8))
        try dealer.connect(router.lastEndpoint)
        let zmq = try ProtocolScript.run(router: router, dealer: dealer)

        XCTAssertEqual(memory.count, 7)  // JOIN, MODEL, TASK, UPDATE, bad UPDATE, ERROR, BYE
        XCTAssertEqual(memory, zmq, "the in-memory transport must deliver exactly what ZeroMQ delivers")
    }

    func testTimeoutsAndPoll() throws {
        let network = InMemoryNetwork()
        let router = network.router()
        let dealer = network.dealer(identity: [1])
        XCTAssertNil(try router.receive(timeoutMilliseconds: 0))
        XCTAssertFalse(try dealer.poll(milliseconds: 0))
        let start = Date()
        XCTAssertNil(try dealer.receive(timeoutMilliseconds: 30))
        XCTAssertGreaterThanOrEqual(Date().timeIntervalSince(start), 0.025)
        try dealer.send([[9]])
        XCTAssertTrue(try router.poll(milliseconds: 0))
        XCTAssertEqual(try router.receive(timeoutMilliseconds: 0), [[1], [9]])
    }

    func testBlockingReceiveWakesOnSendFromAnotherThread() throws {
        let network = InMemoryNetwork()
        let router = network.router()
        let dealer = network.dealer(identity: [2])
        let sender = Thread {
            Thread.sleep(forTimeInterval: 0.02); try? dealer.send([[42]])
        }
        sender.start()
        XCTAssertEqual(try router.receive(timeoutMilliseconds: 5000), [[2], [42]])
    }

    func testHighWaterMarks() throws {
        let network = InMemoryNetwork(highWaterMark: 2)
        let router = network.router()
        let dealer = network.dealer(identity: [3])
        try dealer.send([[1]])
        try dealer.send([[2]])
        XCTAssertThrowsError(try dealer.send([[3]])) {
            XCTAssertEqual($0 as? TransportError, .queueFull(peer: "router"))
        }
        _ = try router.receive(timeoutMilliseconds: 0)
        try dealer.send([[3]])  // room again
        // A router drops messages to a full or unknown peer, like libzmq without ROUTER_MANDATORY.
        for i in 0..<5 { try router.send([[3], [UInt8(i)]]) }
        try router.send([[99], [0]])
        XCTAssertEqual(try dealer.receive(timeoutMilliseconds: 0), [[0]])
        XCTAssertEqual(try dealer.receive(timeoutMilliseconds: 0), [[1]])
        XCTAssertNil(try dealer.receive(timeoutMilliseconds: 0))
    }

    func testClosedDealerNoLongerReceives() throws {
        let network = InMemoryNetwork()
        let router = network.router()
        let dealer = network.dealer(identity: [4])
        dealer.close()
        try router.send([[4], [1]])  // dropped
        XCTAssertThrowsError(try dealer.send([[1]])) { XCTAssertEqual($0 as? TransportError, .closed) }
    }
}
