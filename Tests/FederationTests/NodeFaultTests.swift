// A node's own faults stay its own: a device whose delta cannot be encoded reports an ERROR for
// itself while the node and its other devices go on; a task whose deadline passed while it
// waited is dropped, not trained late. In process, with the node's log captured.
@testable import Federation
import Foundation
import Logging
import Transport
import Wire
import XCTest

/// Collects log messages (thread-safe).
final class CapturedLog: @unchecked Sendable {
    private let lock = NSLock()
    private var lines: [String] = []
    func append(_ s: String) { lock.withLock { lines.append(s) } }
    var text: String { lock.withLock { lines.joined(separator: "\n") } }

    /// A logger writing into this capture.
    func logger(_ label: String) -> Logger {
        var l = Logger(label: label, factory: { _ in CaptureHandler(sink: self) })
        l.logLevel = .info
        return l
    }
}

/// A LogHandler appending "message metadata" lines to a CapturedLog.
struct CaptureHandler: LogHandler {
    let sink: CapturedLog
    var metadata: Logger.Metadata = [:]
    var logLevel: Logger.Level = .info
    subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }
    func log(level: Logger.Level, message: Logger.Message, metadata extra: Logger.Metadata?, source: String, file: String, function: String, line: UInt) {
        let all = metadata.merging(extra ?? [:]) { $1 }
        sink.append("\(message) \(all.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: " "))")
    }
}

final class NodeFaultTests: XCTestCase {
    /// Runs `config` with node-a hosting dev-0 and dev-1 (log captured) and node-b hosting the rest.
    func run(_ config: FederationConfig, nodeA options: (inout NodeOptions) -> Void = { _ in }) throws -> (InProcessFleet, CapturedLog, NodeService?) {
        let fleet = try InProcessFleet("nodefault-\(UInt32.random(in: 0...UInt32.max))", config: config)
        fleet.startCoordinator()
        let log = CapturedLog()
        var o = NodeOptions(endpoint: "in-memory", name: "node-a", deviceIDs: ["dev-0", "dev-1"])
        options(&o)
        let nodeA = try NodeService(config: config, options: o, logger: log.logger("node-a"), stop: ShutdownFlag())
        let done = DispatchSemaphore(value: 0), box = ErrorBox(), net = fleet.network
        Thread.detachNewThread {
            do { try nodeA.run(connect: { net.dealer(identity: Array("node-a#\($0)".utf8), key: InProcessFleet.key("node-a")) }) } catch { box.error = error }
            done.signal()
        }
        try fleet.startNode("node-b", devices: ["dev-2"])
        try fleet.startNode("rogue", devices: [InProcessFleet.rogueDevice])  // an honest node under the rogue's key here
        _ = try fleet.wait()
        XCTAssertEqual(done.wait(timeout: .now() + 20), .success, "node-a stopped")
        XCTAssertNil(box.error, "node-a must not fail: \(String(describing: box.error))")
        return (fleet, log, nodeA)
    }

    func testADeviceWhoseDeltaOverflowsF16ReportsAnErrorAndTheNodeGoesOn() throws {
        var config = InProcessFleet.config(rounds: 2)
        config.encoding = .f16
        config.aggregation.maxUpdateNorm = 1e12
        var huge = DeviceConfig(id: "dev-1")
        huge.learningRate = 1e7  // its delta overflows f16 (largest 65504)
        config.devices[1] = huge
        let (fleet, log, _) = try run(config)
        for m in try fleet.metrics() {
            XCTAssertEqual(m.failed["dev-1"], FailureReason.deviceError.rawValue, "round \(m.round): dev-1 reported its own failure: \(m.failed)")
            XCTAssertTrue(m.reporting.contains("dev-0"), "round \(m.round): node-a's other device still reported")
            XCTAssertTrue(m.reporting.contains("dev-2"))
        }
        XCTAssertTrue(log.text.contains("update cannot be encoded"), log.text)
    }

    func testATaskWhoseDeadlinePassedWhileItWaitedIsDroppedNotTrained() throws {
        var config = InProcessFleet.config(rounds: 1)
        config.rounds.deadlineMs = 2_500
        // node-a's worker holds dev-0's round-1 update for 5 s, so dev-1's task waits past the deadline.
        let (fleet, log, _) = try run(config) { $0.slowAtRound = (round: 1, milliseconds: 5_000) }
        XCTAssertTrue(log.text.contains("task dropped: its deadline passed while it waited"), log.text)
        XCTAssertFalse(log.text.contains("trained") && log.text.split(separator: "\n").contains { $0.contains("trained") && $0.contains("device.id=dev-1") },
                       "dev-1 was not trained late")
        let m = try fleet.metrics()[0]
        XCTAssertNotNil(m.failed["dev-0"])
        XCTAssertNotNil(m.failed["dev-1"])
        XCTAssertTrue(m.reporting.contains("dev-2"))
    }
}
