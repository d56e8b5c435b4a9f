// The coordinator's goodbye (see Farewell): BYE to every peer, then BYE in answer to whatever
// any connection sends, until the devices of the end have said BYE back or the wait is over.
import Foundation
import Transport
import Wire

extension CoordinatorService {
    /// Says BYE with `reason` and waits (bounded) for the BYEs back; another signal ends the wait.
    func sayFarewell(reason: String) throws {
        let now = MonotonicClock.nowMilliseconds()
        farewell = Farewell(reason: reason, live: registry.liveDevices, recentlyLost: lostAt, heartbeatMs: config.heartbeatMs, now: now)
        for identity in registry.peers.keys { sendBye(identity) }
        try pump(until: { self.farewell!.isOver(at: MonotonicClock.nowMilliseconds()) }, deadline: farewell!.deadline,
                 stopAfterSignals: stop.requests + 1)
        if let left = farewell?.waitingFor, !left.isEmpty {
            logger.notice("run over; some devices' nodes did not say BYE back within the farewell wait",
                          metadata: ["devices": "\(left.count)", "first": "\(left.min()!)",
                                     "wait.ms": "\(Farewell.waitMilliseconds(heartbeatMs: config.heartbeatMs))"])
        }
    }

    /// A message after the run: a BYE is noted; anything else (a JOIN on a new connection, a
    /// heartbeat, a late update) is answered with BYE.
    func handleAtFarewell(_ identity: [UInt8], _ message: WireMessage) {
        switch message {
        case let .bye(b):
            let devices = registry.remove(identity)
            farewell?.said(bye: devices + b.deviceIds)
        case .error: break
        default: sendBye(identity)
        }
    }

    /// One BYE with the farewell's reason.
    private func sendBye(_ identity: [UInt8]) {
        var bye = PBBye()
        bye.reason = farewell?.reason ?? "run complete"
        send(identity, .bye(bye))
    }
}
