import XCTest

@testable import Transport

/// Paranoid Pirate liveness, heartbeat scheduling and reconnect backoff.
final class LivenessTests: XCTestCase {
    func testPeerIsDeadAfterThreeMissedIntervals() {
        var live = PeerLiveness<String>(defaultIntervalMilliseconds: 1000)
        live.heard(from: "a", at: 0)
        live.heard(from: "b", at: 0, interval: 200)
        XCTAssertTrue(live.isAlive("a", at: 2999))
        XCTAssertFalse(live.isAlive("a", at: 3000))
        XCTAssertFalse(live.isAlive("b", at: 600), "a peer's own announced interval counts")
        XCTAssertEqual(live.deadline(of: "a"), 3000)
        XCTAssertFalse(live.isAlive("nobody", at: 0))

        live.heard(from: "a", at: 2500)  // any message is proof of life
        XCTAssertTrue(live.isAlive("a", at: 5000))
        live.heard(from: "a", at: 100)  // late timestamps never move last-seen backwards
        XCTAssertEqual(live.deadline(of: "a"), 5500)

        XCTAssertEqual(live.reapDead(at: 5000), ["b"])
        XCTAssertEqual(live.peers, ["a"])
        XCTAssertEqual(live.reapDead(at: 5500), ["a"])
        XCTAssertTrue(live.peers.isEmpty)
    }

    func testHeartbeatIsDueOnlyWhenIdle() {
        var hb = HeartbeatSchedule(intervalMilliseconds: 1000)
        XCTAssertTrue(hb.isDue(at: 0))
        XCTAssertEqual(hb.heartbeatSent(at: 0), 1)
        XCTAssertFalse(hb.isDue(at: 999))
        hb.sent(at: 900)  // an UPDATE counts as traffic
        XCTAssertFalse(hb.isDue(at: 1500))
        XCTAssertTrue(hb.isDue(at: 1900))
        XCTAssertEqual(hb.heartbeatSent(at: 1900), 2)
    }

    func testBackoffDoublesFromOneToThirtyTwoSeconds() {
        var b = ReconnectBackoff()
        XCTAssertEqual(
            (0..<8).map { _ in b.nextDelayMilliseconds() }, [1000, 2000, 4000, 8000, 16000, 32000, 32000, 32000])
        XCTAssertEqual(b.attempts, 8)
        b.reset()
        XCTAssertEqual(b.nextDelayMilliseconds(), 1000)
        var many = ReconnectBackoff()
        for _ in 0..<10_000 { _ = many.nextDelayMilliseconds() }
        XCTAssertEqual(many.nextDelayMilliseconds(), 32000, "no overflow after many attempts")
    }

    func testMonotonicClockNeverGoesBackwards() {
        var last = MonotonicClock.nowMilliseconds()
        for _ in 0..<1000 {
            let now = MonotonicClock.nowMilliseconds()
            XCTAssertGreaterThanOrEqual(now, last)
            last = now
        }
    }
}
