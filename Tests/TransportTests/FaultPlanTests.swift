// The fault proxy's pure parts: seeded decisions (FaultInjector), their validation (FaultPlan)
// and the waiting room (FaultSchedule), with time passed in by hand.
import XCTest

@testable import Transport

final class FaultPlanTests: XCTestCase {
    func decisions(_ plan: FaultPlan, _ n: Int, _ direction: ProxyDirection = .upstream) -> [FaultDecision] {
        var injector = FaultInjector(plan: plan)
        return (0..<n).map { _ in injector.decide(direction) }
    }

    func testTheSameSeedGivesTheSameDecisions() {
        let rates = FaultRates(dropProbability: 0.2, duplicateProbability: 0.1, reorderProbability: 0.1, latencyMs: 5, jitterMs: 10)
        let a = decisions(FaultPlan(seed: 42, both: rates), 2000)
        XCTAssertEqual(a, decisions(FaultPlan(seed: 42, both: rates), 2000))
        XCTAssertNotEqual(a, decisions(FaultPlan(seed: 43, both: rates), 2000))
        XCTAssertNotEqual(a, decisions(FaultPlan(seed: 42, both: rates), 2000, .downstream), "each direction has its own stream")
    }

    func testOneDirectionIsNotShiftedByTheOther() {
        let plan = FaultPlan(seed: 7, both: FaultRates(dropProbability: 0.3, duplicateProbability: 0.3, jitterMs: 4))
        var alone = FaultInjector(plan: plan), mixed = FaultInjector(plan: plan)
        var a: [FaultDecision] = [], b: [FaultDecision] = []
        for i in 0..<500 {
            a.append(alone.decide(.upstream))
            for _ in 0..<(i % 3) { _ = mixed.decide(.downstream) }
            b.append(mixed.decide(.upstream))
        }
        XCTAssertEqual(a, b)
    }

    func testChangingOneProbabilityKeepsTheOtherDraws() {
        let base = FaultRates(duplicateProbability: 0.25, jitterMs: 8)
        var more = base
        more.reorderProbability = 0.5
        let x = decisions(FaultPlan(seed: 9, both: base), 300), y = decisions(FaultPlan(seed: 9, both: more), 300)
        XCTAssertEqual(x.map(\.copies), y.map(\.copies))
        XCTAssertEqual(x.map(\.delayMs), y.map(\.delayMs))
    }

    func testProbabilitiesZeroAndOne() {
        let none = decisions(FaultPlan(seed: 1, both: FaultRates(latencyMs: 3)), 1000)
        XCTAssertTrue(none.allSatisfy { !$0.drop && $0.copies == 1 && !$0.reorder && $0.delayMs == 3 })
        XCTAssertTrue(decisions(FaultPlan(seed: 1, both: FaultRates(dropProbability: 1)), 1000).allSatisfy { $0.drop && $0.copies == 0 })
        XCTAssertTrue(decisions(FaultPlan(seed: 1, both: FaultRates(duplicateProbability: 1)), 1000).allSatisfy { !$0.drop && $0.copies == 2 })
        XCTAssertTrue(decisions(FaultPlan(seed: 1, both: FaultRates(reorderProbability: 1)), 1000).allSatisfy { !$0.drop && $0.reorder })
        let jitter = decisions(FaultPlan(seed: 1, both: FaultRates(latencyMs: 10, jitterMs: 5)), 1000).map(\.delayMs)
        XCTAssertTrue(jitter.allSatisfy { $0 >= 10 && $0 < 15 })
        XCTAssertGreaterThan(Set(jitter).count, 900, "jitter is drawn per message")
        // One direction faulty, the other clean.
        let split = FaultPlan(seed: 1, upstream: FaultRates(dropProbability: 1), downstream: .none)
        XCTAssertTrue(decisions(split, 100, .downstream).allSatisfy { !$0.drop && $0.copies == 1 && $0.delayMs == 0 })
    }

    func testCountsAddUp() {
        let n = 20_000
        let d = decisions(FaultPlan(seed: 5, both: FaultRates(dropProbability: 0.2, duplicateProbability: 0.1, reorderProbability: 0.05)), n)
        let dropped = d.filter(\.drop).count, kept = d.filter { !$0.drop }.count
        XCTAssertEqual(dropped + kept, n)
        XCTAssertEqual(d.reduce(0) { $0 + $1.copies }, kept + d.filter(\.duplicated).count)
        XCTAssertEqual(Double(dropped) / Double(n), 0.2, accuracy: 0.02)
        XCTAssertEqual(Double(d.filter(\.duplicated).count) / Double(kept), 0.1, accuracy: 0.02)
        XCTAssertEqual(Double(d.filter(\.reorder).count) / Double(kept), 0.05, accuracy: 0.01)
    }

    func testBadRatesAreRefusedByName() {
        XCTAssertNoThrow(try FaultPlan(seed: 0, both: FaultRates(dropProbability: 1, duplicateProbability: 0.5)).validate())
        let cases: [(FaultRates, String)] = [
            (FaultRates(dropProbability: 1.5), "dropProbability"), (FaultRates(duplicateProbability: -0.1), "duplicateProbability"),
            (FaultRates(reorderProbability: .nan), "reorderProbability"), (FaultRates(latencyMs: -1), "latencyMs"),
            (FaultRates(jitterMs: .infinity), "jitterMs"), (FaultRates(reorderDepth: 0), "reorderDepth"),
        ]
        for (rates, name) in cases {
            XCTAssertThrowsError(try FaultPlan(seed: 0, upstream: .none, downstream: rates).validate()) { error in
                let text = "\(error)"
                XCTAssertTrue(text.contains(name) && text.contains("downstream") && text.contains("use"), text)
            }
        }
    }

    // MARK: - FaultSchedule

    typealias Schedule = FaultSchedule<String, Int>

    func keep(delay: Double = 0, reorder: Bool = false, copies: Int = 1) -> FaultDecision {
        FaultDecision(drop: false, copies: copies, delayMs: delay, reorder: reorder)
    }

    func testDelayHoldsAMessageUntilItsTime() {
        var s = Schedule()
        s.add(1, stream: "a", decision: keep(delay: 50), rates: .none, now: 100)
        XCTAssertEqual(s.nextTime, 150)
        XCTAssertTrue(s.release(now: 149).isEmpty)
        XCTAssertEqual(s.release(now: 150).map(\.payload), [1])
        XCTAssertEqual(s.count, 0)
        XCTAssertNil(s.nextTime)
    }

    func testJitterNeverReordersAStreamButStreamsAreIndependent() {
        var s = Schedule()
        s.add(1, stream: "a", decision: keep(delay: 30), rates: .none, now: 0)
        s.add(2, stream: "a", decision: keep(delay: 5), rates: .none, now: 1)  // would be due first alone
        s.add(3, stream: "b", decision: keep(delay: 5), rates: .none, now: 1)
        XCTAssertEqual(s.release(now: 10).map(\.payload), [3])
        XCTAssertEqual(s.release(now: 30).map(\.payload), [1, 2])
    }

    func testAReorderedMessageLeavesAfterLaterOnes() {
        var s = Schedule()
        let rates = FaultRates(reorderDepth: 2, reorderMaxHoldMs: 1000)
        s.add(1, stream: "a", decision: keep(reorder: true), rates: rates, now: 0)
        s.add(9, stream: "b", decision: keep(), rates: rates, now: 0)  // another stream does not overtake it
        XCTAssertEqual(s.release(now: 1).map(\.payload), [9])
        s.add(2, stream: "a", decision: keep(), rates: rates, now: 2)
        XCTAssertEqual(s.release(now: 2).map(\.payload), [2])
        s.add(3, stream: "a", decision: keep(), rates: rates, now: 3)
        let out = s.release(now: 3)
        XCTAssertEqual(out.map(\.payload), [3, 1])
        XCTAssertEqual(out.map(\.reordered), [false, true])
        XCTAssertEqual(s.count, 0)
    }

    func testAHeldMessageWithNothingBehindItLeavesAfterTheMaximumHold() {
        var s = Schedule()
        s.add(1, stream: "a", decision: keep(delay: 10, reorder: true), rates: FaultRates(reorderMaxHoldMs: 200), now: 0)
        XCTAssertEqual(s.nextTime, 210)
        XCTAssertTrue(s.release(now: 209).isEmpty)
        let out = s.release(now: 210)
        XCTAssertEqual(out.map(\.payload), [1])
        XCTAssertEqual(out.map(\.reordered), [false], "nothing overtook it")
    }

    func testADuplicateFollowsItsOriginal() {
        var s = Schedule()
        s.add(1, stream: "a", decision: keep(delay: 5, copies: 2), rates: .none, now: 0)
        s.add(2, stream: "a", decision: keep(), rates: .none, now: 1)
        XCTAssertEqual(s.release(now: 5).map(\.payload), [1, 1, 2])
        // A reordered duplicate: the original is held, its copy is not, so the copy overtakes it.
        s.add(3, stream: "a", decision: keep(reorder: true, copies: 2), rates: FaultRates(reorderMaxHoldMs: 100), now: 10)
        let out = s.release(now: 10)
        XCTAssertEqual(out.map(\.payload), [3, 3])
        XCTAssertEqual(out.map(\.reordered), [false, true])
    }

    func testADroppedMessageIsNeverQueuedAndRemoveAllCountsTheRest() {
        var s = Schedule()
        s.add(1, stream: "a", decision: FaultDecision(drop: true, copies: 0, delayMs: 0, reorder: false), rates: .none, now: 0)
        XCTAssertEqual(s.count, 0)
        s.add(2, stream: "a", decision: keep(delay: 100, copies: 2), rates: .none, now: 0)
        XCTAssertEqual(s.removeAll(), 2)
        XCTAssertEqual(s.count, 0)
    }

    func testCountersBalance() {
        var c = DirectionCounters()
        c.received = 10; c.dropped = 2; c.duplicated = 3; c.forwarded = 9; c.undeliverable = 1; c.waiting = 1
        XCTAssertTrue(c.balanced)
        c.waiting = 0
        XCTAssertFalse(c.balanced)
        var p = ProxyCounters()
        p[.downstream].received = 4
        p.upstream.received = 3
        XCTAssertEqual(p.total.received, 7)
    }
}
