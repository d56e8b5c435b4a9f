// The attacks that need a real socket: the coordinator and honest nodes over ZeroMQ with CURVE
// and the ZAP allow list (ipc), and a rogue whose key is listed. It squats an honest node's
// routing id before that node starts, claims a device its key does not hold (identity comes from
// the key ZAP authenticated, read per message), and sends a frame far over the coordinator's
// ZMQ_MAXMSGSIZE. The honest nodes still join and report, and the final model is bitwise equal
// to a run without the rogue.
@testable import Federation
import Foundation
import Transport
import Wire
import XCTest

final class RealSocketHostileTests: XCTestCase {
    func testSquattedRoutingIdForeignDeviceAndOversizedFramesLeaveTheHonestFleetIntact() throws {
        let server = try Curve.keypair()
        var pairs: [String: CurveKeyPair] = [:]
        for n in ["node-a", "node-b", "rogue"] { pairs[n] = try Curve.keypair() }
        var config = InProcessFleet.config()
        config.rounds.joinWaitMs = 5_000  // dev-9's node never joins here
        let nodes = InProcessFleet.honestNodes + [("rogue", [InProcessFleet.rogueDevice])]
        config.curve = CurveConfig(serverPublicKey: server.publicKey,
                                   clients: nodes.map { CurveClient(publicKey: pairs[$0.name]!.publicKey, node: $0.name, devices: $0.devices) })
        try config.validate()
        let folder = NSTemporaryDirectory() + "sf-realsock-\(getpid())"
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let endpoint = "ipc://\(NSTemporaryDirectory())sf-realsock-\(getpid()).sock"
        let service = try CoordinatorService(config: config, options: CoordinatorOptions(endpoint: endpoint, runFolder: folder, keyPair: server),
                                             logger: InProcessFleet.logger("coordinator"), stop: ShutdownFlag())
        let finished = DispatchSemaphore(value: 0)
        var result: Result<RunSummary, Error>?
        Thread.detachNewThread {
            result = Result { try service.run() }
            finished.signal()
        }
        usleep(200_000)  // let it bind (connects before the bind are retried by libzmq anyway)

        // The rogue: listed key, node-a's routing id, first.
        let context = try ZmqContext()
        let rogue = try ZmqSocket(context: context, type: .dealer)
        try rogue.setIdentity(Array("node-a#0".utf8))
        try rogue.makeCurveClient(serverPublicKey: server.publicKey, keyPair: pairs["rogue"]!)
        try rogue.connect(endpoint)
        defer { rogue.close() }
        var j = PBJoin()
        j.nodeName = "rogue"
        var d = PBDeviceInfo()
        d.deviceID = "dev-0"  // node-a's device
        d.shardSize = 100
        d.memoryBudgetBytes = 262_144
        j.devices = [d]
        j.heartbeatIntervalMs = 100
        try rogue.send(try WireCodec().encode(.join(j)))
        var codes: [PBErrorCode] = []
        let until = Date().addingTimeInterval(30)
        while codes.isEmpty && Date() < until {
            guard let frames = try rogue.receive(timeoutMilliseconds: 50) else { continue }
            if case let .message(.error(e)) = WireCodec().inbound(frames, schema: service.model.schema) { codes.append(e.code) }
        }
        XCTAssertEqual(codes, [.forbidden], "the key ZAP authenticated does not hold dev-0")
        // A frame far over the coordinator's limit: libzmq drops the connection, nothing is buffered.
        XCTAssertGreaterThan(8 << 20, service.limits.maxMessageBytes)
        try rogue.send([[UInt8](repeating: 0x53, count: 8 << 20)])

        var nodeDone: [DispatchSemaphore] = []
        var nodeErrors: [ErrorBox] = []
        for n in InProcessFleet.honestNodes {
            var options = NodeOptions(endpoint: endpoint, name: n.name, deviceIDs: n.devices, keyPair: pairs[n.name])
            options.joinTimeoutMs = 10_000
            let node = try NodeService(config: config, options: options, logger: InProcessFleet.logger(n.name), stop: ShutdownFlag())
            let done = DispatchSemaphore(value: 0), box = ErrorBox()
            Thread.detachNewThread {
                do { try node.run() } catch { box.error = error }
                done.signal()
            }
            nodeDone.append(done)
            nodeErrors.append(box)
        }
        XCTAssertEqual(finished.wait(timeout: .now() + 60), .success, "the coordinator finished")
        for (done, box) in zip(nodeDone, nodeErrors) {
            XCTAssertEqual(done.wait(timeout: .now() + 10), .success)
            XCTAssertNil(box.error, "an honest node never exits with an error: \(String(describing: box.error))")
        }
        let summary = try result!.get()
        XCTAssertEqual(summary.rounds, config.rounds.count)
        XCTAssertEqual(summary.identityAuthenticated, true)
        let lines = try String(contentsOfFile: folder + "/metrics.jsonl", encoding: .utf8).split(separator: "\n")
        for line in lines {
            let m = try JSONDecoder().decode(RoundMetrics.self, from: Data(line.utf8))
            XCTAssertEqual(m.reporting, ["dev-0", "dev-1", "dev-2"], "round \(m.round)")
        }
        var plain = config
        plain.curve = nil
        plain.rounds.joinWaitMs = InProcessFleet.config().rounds.joinWaitMs
        XCTAssertTrue(service.model.values == (try InProcessFleet.control(plain)), "bitwise equal to the run without the rogue")
    }
}
