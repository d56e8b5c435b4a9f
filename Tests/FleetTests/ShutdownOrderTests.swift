// The order in which `fleet run` stops a fleet on Ctrl-C: the coordinator first, the nodes only
// once it has exited (they deliver the updates of the round it finishes). Stand-in processes
// record the signals they get; nothing here depends on timing.
@testable import FleetKit
import Federation
import Foundation
import Logging
import XCTest

/// A stand-in process: records each signal in a shared log and reacts as told.
final class FakeProcess: StoppableProcess {
    let name: String
    var isRunning = true
    /// Called with each signal; returns whether the process exits on it.
    var onSignal: (Int32) -> Bool
    private let record: (String) -> Void

    init(_ name: String, record: @escaping (String) -> Void, onSignal: @escaping (Int32) -> Bool = { _ in true }) {
        self.name = name; self.record = record; self.onSignal = onSignal
    }

    func send(_ signal: Int32) {
        guard isRunning else { return record("\(name) \(signal) after exit") }
        record("\(name) \(signal == SIGINT ? "INT" : signal == SIGKILL ? "KILL" : "\(signal)")")
        if onSignal(signal) {
            isRunning = false
            record("\(name) exited")
        }
    }
}

final class ShutdownOrderTests: XCTestCase {
    let logger = Logger(label: "test")
    var events: [String] = []

    func fleet(coordinator onSignal: @escaping (Int32) -> Bool = { _ in true }) -> (FakeProcess, [FakeProcess]) {
        let record: (String) -> Void = { [unowned self] in events.append($0) }
        return (FakeProcess("coordinator", record: record, onSignal: onSignal),
                [FakeProcess("node-1", record: record), FakeProcess("node-2", record: record)])
    }

    func testCtrlCStopsTheCoordinatorBeforeAnyNode() {
        let (coordinator, nodes) = fleet()
        let stop = ShutdownFlag()
        stop.request()
        ChildProcesses.interrupt(coordinator: coordinator, nodes: nodes, grace: 60, stop: stop, logger: logger)
        XCTAssertEqual(events, ["coordinator INT", "coordinator exited", "node-1 INT", "node-1 exited", "node-2 INT", "node-2 exited"])
    }

    func testNodesThatLeftOnTheCoordinatorsByeAreNotSignalled() {
        let (coordinator, nodes) = fleet()
        // The coordinator's BYE: node-1 leaves by itself when the coordinator stops; node-2 lingers.
        coordinator.onSignal = { _ in nodes[0].isRunning = false; return true }
        let stop = ShutdownFlag()
        stop.request()
        ChildProcesses.interrupt(coordinator: coordinator, nodes: nodes, grace: 60, stop: stop, logger: logger)
        XCTAssertEqual(events, ["coordinator INT", "coordinator exited", "node-2 INT", "node-2 exited"])
    }

    func testASecondCtrlCIsForwardedToTheCoordinatorStillFinishingItsRound() {
        let stop = ShutdownFlag()
        stop.request()
        // The coordinator keeps finishing its round after the first SIGINT; meanwhile the user presses
        // Ctrl-C again; the second SIGINT makes it abandon the round and exit.
        var signals = 0
        let (coordinator, nodes) = fleet { _ in
            signals += 1
            if signals == 1 { stop.request() }
            return signals == 2
        }
        ChildProcesses.interrupt(coordinator: coordinator, nodes: nodes, grace: 60, stop: stop, logger: logger)
        XCTAssertEqual(events, ["coordinator INT", "coordinator INT", "coordinator exited",
                                "node-1 INT", "node-1 exited", "node-2 INT", "node-2 exited"])
    }

    func testTwoCtrlCsBeforeTheLauncherActsAreBothForwarded() {
        let stop = ShutdownFlag()
        stop.request()
        stop.request()
        var signals = 0
        let (coordinator, nodes) = fleet { _ in signals += 1; return signals == 2 }
        ChildProcesses.interrupt(coordinator: coordinator, nodes: nodes, grace: 60, stop: stop, logger: logger)
        XCTAssertEqual(Array(events.prefix(3)), ["coordinator INT", "coordinator INT", "coordinator exited"])
    }

    func testACoordinatorThatIgnoresSIGINTIsKilledAfterTheGraceBeforeTheNodesAreSignalled() {
        let (coordinator, nodes) = fleet { $0 == SIGKILL }
        let stop = ShutdownFlag()
        stop.request()
        ChildProcesses.interrupt(coordinator: coordinator, nodes: nodes, grace: 0, stop: stop, logger: logger)
        XCTAssertEqual(Array(events.prefix(3)), ["coordinator INT", "coordinator KILL", "coordinator exited"])
        XCTAssertEqual(Array(events.dropFirst(3)), ["node-1 INT", "node-1 exited", "node-2 INT", "node-2 exited"])
    }

    func testNodesThatIgnoreSIGINTAreKilledAfterTheGrace() {
        let (coordinator, nodes) = fleet()
        nodes[1].onSignal = { $0 == SIGKILL }
        let stop = ShutdownFlag()
        stop.request()
        ChildProcesses.interrupt(coordinator: coordinator, nodes: nodes, grace: 0, stop: stop, logger: logger)
        XCTAssertEqual(events, ["coordinator INT", "coordinator exited", "node-1 INT", "node-1 exited", "node-2 INT",
                                "node-2 KILL", "node-2 exited"])
    }
}
