// A whole SecAgg+ round in process: the unmasked sum equals the plaintext sum exactly in the ring
// and, after dequantisation, within the stated error; dropouts after dealing and after the masked
// input are survived while t remain; fewer than t refuse the round; hostile messages are refused
// with typed errors and the round goes on.
@testable import SecureAggregation
import XCTest

final class SecAggRoundTests: XCTestCase {
    /// A round's clients, server and plaintext inputs.
    struct Round {
        var server: SecAggServer
        var clients: [SecAggClient]
        var inputs: [[UInt32]]
    }

    func seed(_ i: Int, _ salt: UInt64 = 0) -> [UInt8] {
        var g = ChaChaGenerator(seed: [UInt8](repeating: UInt8(truncatingIfNeeded: 7 &+ salt), count: 32))
        for _ in 0...i { _ = g.next() }
        return g.bytes(32)
    }

    func makeRound(n: Int, k: Int, t: Int, length: Int, bits: Int = 24, salt: UInt64 = 0) throws -> Round {
        let p = try SecAggParameters(round: 3, participants: n, degree: k, threshold: t, length: length, ringBits: bits)
        var g = ChaChaGenerator(seed: seed(999, salt))
        let graph = NeighbourGraph(count: n, degree: k, using: &g)
        let clients = (0..<n).map { SecAggClient(index: $0, parameters: p, graph: graph, seed: seed($0, salt)) }
        let mask: UInt32 = bits == 32 ? .max : (1 << UInt32(bits)) - 1
        let inputs = (0..<n).map { i in (0..<length).map { j in UInt32(truncatingIfNeeded: (i &* 7919) &+ (j &* 104_729)) & mask } }
        return Round(server: SecAggServer(parameters: p, graph: graph), clients: clients, inputs: inputs)
    }

    /// Runs the round; `afterDeal` never send a masked input, `afterInput` never answer the unmask.
    func run(_ r: Round, afterDeal: Set<Int> = [], afterInput: Set<Int> = []) throws -> [UInt32] {
        for c in r.clients { try r.server.receive(c.advertise()) }
        let keys = try r.server.closeAdvertise()
        for c in r.clients { try r.server.receive(try c.deal(neighbours: keys[c.index]!)) }
        let relayed = try r.server.closeDeal()
        for c in r.clients where !afterDeal.contains(c.index) {
            try r.server.receive(try c.maskedInput(received: relayed[c.index]!, input: r.inputs[c.index]))
        }
        let survivors = try r.server.closeMaskedInput()
        for c in r.clients where survivors.contains(c.index) && !afterInput.contains(c.index) {
            try r.server.receive(try c.unmask(survivors: survivors))
        }
        return try r.server.finish()
    }

    func plainSum(_ r: Round, of who: Set<Int>, bits: Int = 24) -> [UInt32] {
        var s = [UInt32](repeating: 0, count: r.inputs[0].count)
        for i in who.sorted() { Ring.add(&s, r.inputs[i], bits: bits) }
        return s
    }

    func testUnmaskedSumEqualsThePlaintextSumWith3_10And50Devices() throws {
        for (n, k, t) in [(3, 2, 2), (10, 4, 3), (50, 8, 5)] {
            let r = try makeRound(n: n, k: k, t: t, length: 257)
            XCTAssertEqual(try run(r), plainSum(r, of: Set(0..<n)), "n = \(n), k = \(k), t = \(t)")
        }
    }

    func testDropoutsAfterDealingAndAfterMaskedInputInTheSameRoundAreSurvived() throws {
        // After dealing: 2 and 7 send no masked input (their pair masks are rebuilt from their
        // mask keys); after the masked input: 4 answers no unmask (its self mask is rebuilt from
        // the others' shares). The sum is that of every device whose input arrived.
        let r = try makeRound(n: 10, k: 6, t: 3, length: 64)
        let sum = try run(r, afterDeal: [2, 7], afterInput: [4])
        XCTAssertEqual(sum, plainSum(r, of: Set(0..<10).subtracting([2, 7])))
        XCTAssertEqual(r.server.survivors, Set(0..<10).subtracting([2, 7]))
        XCTAssertEqual(r.server.dropped[2], "sent no masked input")
    }

    func testFewerThanThresholdSurvivorsRefuseTheRound() throws {
        let r = try makeRound(n: 5, k: 4, t: 4, length: 8)
        for c in r.clients { try r.server.receive(c.advertise()) }
        let keys = try r.server.closeAdvertise()
        for c in r.clients { try r.server.receive(try c.deal(neighbours: keys[c.index]!)) }
        let relayed = try r.server.closeDeal()
        for c in r.clients.prefix(3) { try r.server.receive(try c.maskedInput(received: relayed[c.index]!, input: r.inputs[c.index])) }
        XCTAssertThrowsError(try r.server.closeMaskedInput()) { XCTAssertEqual($0 as? SecAggError, .tooFewSurvivors(have: 3, need: 4)) }
        XCTAssertEqual(r.server.phase, .maskedInput, "nothing applied")
    }

    func testTooFewUnmaskAnswersRefuseTheRoundWithTheParticipantNamed() throws {
        let r = try makeRound(n: 6, k: 4, t: 3, length: 8)
        // Only 1 answer: nobody's self-mask seed has 3 shares.
        XCTAssertThrowsError(try run(r, afterInput: [1, 2, 3, 4, 5])) { e in
            guard case .tooFewShares(_, let have, 3)? = e as? SecAggError else { return XCTFail("\(e)") }
            XCTAssertLessThan(have, 3)
        }
    }

    func testQuantisedSumDequantisesWithinTheStatedError() throws {
        let n = 10
        guard let q = RingQuantiser(clip: 0.5, valueBits: 16, maxContributors: n) else { return XCTFail("quantiser") }
        XCTAssertEqual(q.ringBits, 20, "16 value bits + ⌈log2 10⌉ = 4")
        var g = ChaChaGenerator(seed: seed(1))
        let values = (0..<n).map { _ in (0..<100).map { _ in Float(Double(g.next() >> 11) / Double(1 << 53) * 1.2 - 0.6) } }
        let p = try SecAggParameters(round: 1, participants: n, degree: 4, threshold: 3, length: 100, ringBits: q.ringBits)
        var gg = ChaChaGenerator(seed: seed(2))
        let graph = NeighbourGraph(count: n, degree: 4, using: &gg)
        let clients = (0..<n).map { SecAggClient(index: $0, parameters: p, graph: graph, seed: seed($0, 5)) }
        var qr = ChaChaGenerator(seed: seed(3))
        let r = Round(server: SecAggServer(parameters: p, graph: graph), clients: clients, inputs: values.map { q.quantise($0, using: &qr) })
        let sum = q.dequantise(try run(r))
        for j in 0..<100 {
            let exact = values.reduce(0.0) { $0 + min(max(Double($1[j]), -0.5), 0.5) }
            XCTAssertEqual(sum[j], exact, accuracy: q.sumError(contributors: n))
        }
        // The ring cannot wrap: the extreme sum reads back exactly.
        var big = [UInt32](repeating: 0, count: 1)
        for _ in 0..<n { Ring.add(&big, q.quantise([-9], using: &qr), bits: q.ringBits) }
        XCTAssertEqual(q.dequantise(big)[0], -0.5 * Double(n), accuracy: 1e-9)
    }

    func testASingleMaskedVectorLooksUniform() throws {
        // Chi-square of the top 8 bits of one device's masked vector (its input is all zeros) over
        // 256 bins: with 255 degrees of freedom the 0.1 % critical value is 330.5. Seeded, so the
        // statistic is fixed; it is reported.
        let length = 65_536
        let r = try makeRound(n: 4, k: 3, t: 2, length: length, bits: 32)
        for c in r.clients { try r.server.receive(c.advertise()) }
        let keys = try r.server.closeAdvertise()
        for c in r.clients { try r.server.receive(try c.deal(neighbours: keys[c.index]!)) }
        let relayed = try r.server.closeDeal()
        let y = try r.clients[0].maskedInput(received: relayed[0]!, input: [UInt32](repeating: 0, count: length))
        var bins = [Int](repeating: 0, count: 256)
        for v in y.values { bins[Int(v >> 24)] += 1 }
        let expected = Double(length) / 256
        let chi2 = bins.reduce(0.0) { $0 + (Double($1) - expected) * (Double($1) - expected) / expected }
        print("masked vector chi-square (255 dof): \(chi2)")
        XCTAssertLessThan(chi2, 330.5)
        XCTAssertNotEqual(y.values, [UInt32](repeating: 0, count: length))
    }

    func testHostileMessagesAreRefusedAndTheRoundGoesOn() throws {
        let n = 8
        let r = try makeRound(n: n, k: 6, t: 3, length: 16)
        for c in r.clients { try r.server.receive(c.advertise()) }
        XCTAssertThrowsError(try r.server.receive(r.clients[0].advertise())) { XCTAssertEqual($0 as? SecAggError, .duplicate(0)) }
        var stranger = r.clients[1].advertise(); stranger.participant = 99
        XCTAssertThrowsError(try r.server.receive(stranger)) { XCTAssertEqual($0 as? SecAggError, .unknownParticipant(99)) }
        let keys = try r.server.closeAdvertise()
        for c in r.clients { try r.server.receive(try c.deal(neighbours: keys[c.index]!)) }
        let relayed = try r.server.closeDeal()
        // Participant 5 sends a masked vector of the wrong length: refused, so it counts as dropped.
        var wrong = try r.clients[5].maskedInput(received: relayed[5]!, input: r.inputs[5])
        wrong.values.removeLast()
        XCTAssertThrowsError(try r.server.receive(wrong)) { XCTAssertEqual($0 as? SecAggError, .wrongLength(participant: 5, expected: 16, got: 15)) }
        for c in r.clients where c.index != 5 { try r.server.receive(try c.maskedInput(received: relayed[c.index]!, input: r.inputs[c.index])) }
        let survivors = try r.server.closeMaskedInput()
        // Participant 2 lies about a share it holds: refused (it does not match the dealer's
        // commitment), and the others' shares suffice.
        var lie = try r.clients[2].unmask(survivors: survivors)
        if let v = lie.selfMaskShares.keys.first { lie.selfMaskShares[v]!.values[0] = lie.selfMaskShares[v]!.values[0] + .one }
        XCTAssertThrowsError(try r.server.receive(lie)) { guard case .malformed(2, _)? = $0 as? SecAggError else { return XCTFail("\($0)") } }
        for c in r.clients where survivors.contains(c.index) && c.index != 2 { try r.server.receive(try c.unmask(survivors: survivors)) }
        XCTAssertEqual(try r.server.finish(), plainSum(r, of: survivors))
        // A client answers the unmask request once only.
        XCTAssertThrowsError(try r.clients[3].unmask(survivors: survivors)) { guard case .wrongPhase? = $0 as? SecAggError else { return XCTFail("\($0)") } }
    }

    func testADealerWhoseSharesAreInconsistentIsNamed() throws {
        // Participant 1 deals commitments for shares of a different polynomial than the seed it
        // committed to: each share matches its commitment, but they rebuild another secret.
        let r = try makeRound(n: 6, k: 4, t: 3, length: 8)
        for c in r.clients { try r.server.receive(c.advertise()) }
        var forged = r.clients[1].advertise()
        forged.selfMaskCommitment = [UInt8](repeating: 0xAB, count: 32)
        let server = SecAggServer(parameters: r.server.parameters, graph: r.server.graph)
        for c in r.clients { try server.receive(c.index == 1 ? forged : c.advertise()) }
        let keys = try server.closeAdvertise()
        for c in r.clients { try server.receive(try c.deal(neighbours: keys[c.index]!)) }
        let relayed = try server.closeDeal()
        for c in r.clients { try server.receive(try c.maskedInput(received: relayed[c.index]!, input: r.inputs[c.index])) }
        let survivors = try server.closeMaskedInput()
        for c in r.clients { try server.receive(try c.unmask(survivors: survivors)) }
        XCTAssertThrowsError(try server.finish()) { XCTAssertEqual($0 as? SecAggError, .inconsistentDealer(1)) }
    }

    func testTheRoundIsReproducibleFromItsSeeds() throws {
        let a = try makeRound(n: 6, k: 4, t: 3, length: 32)
        let b = try makeRound(n: 6, k: 4, t: 3, length: 32)
        for (x, y) in zip(a.clients, b.clients) { XCTAssertEqual(x.advertise(), y.advertise()) }
        XCTAssertEqual(try run(a, afterDeal: [1]), try run(b, afterDeal: [1]))
    }

    func testGroupsOfCliquesMaskOnlyTheirOwnBlockAndTheSumLandsOnTheBlocks() throws {
        // The `dealt` shape: 10 participants in groups {0,1,2}, {3,4,5}, {6,7,8,9}, each group
        // covering its own public block of a 40-coordinate sum (the third block overlaps the first).
        let groups = [[0, 1, 2], [3, 4, 5], [6, 7, 8, 9]]
        let blocks: [[Int32]] = [Array(0..<12), Array(12..<20), Array(4..<10) + Array(30..<40)]
        var supports = [[Int32]](repeating: [], count: 10)
        for (g, members) in groups.enumerated() { for i in members { supports[i] = blocks[g] } }
        let graph = NeighbourGraph(groups: groups, count: 10)
        XCTAssertEqual(graph.minimumDegree, 2)
        let server = SecAggServer(parameters: try SecAggParameters(round: 5, participants: 10, degree: 2, threshold: 2, length: 40, ringBits: 20, harary: false),
                                  graph: graph, supports: supports)
        let clients = (0..<10).map { i in
            SecAggClient(index: i, parameters: try! SecAggParameters(round: 5, participants: 10, degree: 2, threshold: 2, length: supports[i].count, ringBits: 20, harary: false),
                         graph: graph, seed: seed(i, 11))
        }
        let inputs: [[UInt32]] = (0..<10).map { (i: Int) -> [UInt32] in
            (0..<supports[i].count).map { (j: Int) -> UInt32 in UInt32((j * 31 + i * 7) % 1000) }
        }
        for c in clients { try server.receive(c.advertise()) }
        let keys = try server.closeAdvertise()
        for c in clients { try server.receive(try c.deal(neighbours: keys[c.index]!)) }
        let relayed = try server.closeDeal()
        // 9 drops after dealing: its group still has 3 survivors.
        for c in clients where c.index != 9 { try server.receive(try c.maskedInput(received: relayed[c.index]!, input: inputs[c.index])) }
        XCTAssertThrowsError(try server.receive(MaskedInput(participant: 9, values: [UInt32](repeating: 0, count: 40)))) {
            XCTAssertEqual($0 as? SecAggError, .wrongLength(participant: 9, expected: 16, got: 40), "a vector must have its own block's length")
        }
        let survivors = try server.closeMaskedInput()
        for c in clients where survivors.contains(c.index) { try server.receive(try c.unmask(survivors: survivors)) }
        var expected = [UInt32](repeating: 0, count: 40)
        for i in survivors.sorted() { for (p, c) in supports[i].enumerated() { expected[Int(c)] = (expected[Int(c)] &+ inputs[i][p]) & 0xF_FFFF } }
        XCTAssertEqual(try server.finish(), expected)
    }

    func testAGroupThatLostTooManyIsLeftOutAndTheOtherGroupsAreSummed() throws {
        // Groups {0,1,2} and {3,4,5}, t = 2: participant 0 leaves after dealing, so 1 and 2 hold
        // one share each of the other's self-mask seed: their group cannot be unmasked and is left
        // out whole; {3,4,5} is summed as if alone. With both groups broken, the round is refused.
        let groups = [[0, 1, 2], [3, 4, 5]]
        let graph = NeighbourGraph(groups: groups, count: 6)
        XCTAssertEqual(graph.components, groups)
        func round(leaving: Set<Int>) throws -> (SecAggServer, [[UInt32]], () throws -> [UInt32]) {
            let p = try SecAggParameters(round: 2, participants: 6, degree: 2, threshold: 2, length: 5, ringBits: 16, harary: false)
            let server = SecAggServer(parameters: p, graph: graph)
            let clients = (0..<6).map { SecAggClient(index: $0, parameters: p, graph: graph, seed: seed($0, 21)) }
            let inputs: [[UInt32]] = (0..<6).map { i in (0..<5).map { UInt32(100 * i + $0) } }
            for c in clients { try server.receive(c.advertise()) }
            let keys = try server.closeAdvertise()
            for c in clients { try server.receive(try c.deal(neighbours: keys[c.index]!)) }
            let relayed = try server.closeDeal()
            for c in clients where !leaving.contains(c.index) { try server.receive(try c.maskedInput(received: relayed[c.index]!, input: inputs[c.index])) }
            let survivors = try server.closeMaskedInput()
            for c in clients where survivors.contains(c.index) { try server.receive(try c.unmask(survivors: survivors)) }
            return (server, inputs, { try server.finish() })
        }
        let (server, inputs, finish) = try round(leaving: [0])
        var expected = [UInt32](repeating: 0, count: 5)
        for i in 3...5 { Ring.add(&expected, inputs[i], bits: 16) }
        XCTAssertEqual(try finish(), expected)
        XCTAssertEqual(server.summed, [3, 4, 5])
        XCTAssertEqual(Set(server.leftOut.keys), [1, 2])
        let (_, _, both) = try round(leaving: [0, 3])
        XCTAssertThrowsError(try both()) { guard case .tooFewShares? = $0 as? SecAggError else { return XCTFail("\($0)") } }
    }
}
