// Central differential privacy (DP-FedAvg): clipping bounds each contribution, the noise covers
// every candidate coordinate with σ = zS / qN, the fixed denominator qN is used, Poisson sampling
// draws each device with probability q, the settings are refused with their fix, and a DP run is
// bitwise reproducible from its seed with ε from the accountant.
@testable import Federation
import Foundation
import Privacy
import Wire
import XCTest

final class DifferentialPrivacyTests: XCTestCase {
    let schema = ModelSchema([TensorSpec(name: "conv.weight", shape: [50, 40, 1, 1]), TensorSpec(name: "conv.bias", shape: [50]),
                              TensorSpec(name: "fc.weight", shape: [3, 8])])

    func zeros() -> [[Float]] { schema.tensors.map { [Float](repeating: 0, count: $0.elementCount) } }

    func testClippingBoundsEveryContributionAndKeepsItsDirection() {
        var v: [[Float]] = [[3, 4], [12]]  // ‖v‖ = 13
        XCTAssertTrue(L2Clipping.clip(&v, to: 1))
        XCTAssertLessThanOrEqual(L2Clipping.norm(v), 1)
        XCTAssertEqual(L2Clipping.norm(v), 1, accuracy: 1e-5)
        XCTAssertEqual(Double(v[0][1] / v[0][0]), 4.0 / 3.0, accuracy: 1e-5, "direction kept")
        var small: [[Float]] = [[0.1, 0.2]]
        XCTAssertFalse(L2Clipping.clip(&small, to: 1), "under the bound: untouched")
        XCTAssertEqual(small, [[0.1, 0.2]])
    }

    func testNoiseCoversEveryCandidateCoordinateWithSigmaZSOverQN() {
        // z = 1.5, S = 2, qN = 4: every candidate coordinate moves by N(0, (zS/qN)²) = N(0, 0.75²).
        let rule = DPFixedDenominatorRule(clip: 2, noiseMultiplier: 1.5, expectedCohort: 4, candidates: [0, 1], seed: 42)
        let out = rule.aggregate(AggregationInput(round: 3, schema: schema, model: zeros(), results: []))
        let moved = out.model[0] + out.model[1]
        let n = Double(moved.count)
        let mean = moved.reduce(0.0) { $0 + Double($1) } / n
        let sd = (moved.reduce(0.0) { $0 + (Double($1) - mean) * (Double($1) - mean) } / (n - 1)).squareRoot()
        // Tolerances: the sample sd of n = 2,050 normals has a relative standard error of 1/√(2n) ≈ 1.6 %;
        // 5 % is about 3 standard errors. The mean's standard error is 0.75/√n ≈ 0.017; 0.07 is 4 of them.
        XCTAssertEqual(sd, 0.75, accuracy: 0.75 * 0.05)
        XCTAssertEqual(mean, 0, accuracy: 0.07)
        XCTAssertTrue(moved.allSatisfy { $0 != 0 }, "every candidate coordinate is noised, touched or not")
        XCTAssertEqual(out.model[2], zeros()[2], "a tensor no device could touch gets no noise")
        let again = rule.aggregate(AggregationInput(round: 3, schema: schema, model: zeros(), results: []))
        XCTAssertEqual(again.model, out.model, "seeded: bitwise reproducible")
        let next = rule.aggregate(AggregationInput(round: 4, schema: schema, model: zeros(), results: []))
        XCTAssertNotEqual(next.model[1], out.model[1], "each round draws fresh noise")
    }

    func testTheFixedDenominatorIsQNNotTheTouchCount() {
        let rule = DPFixedDenominatorRule(clip: 1, noiseMultiplier: 0, expectedCohort: 4, candidates: [1], seed: 1)
        let a = DeviceResult(deviceID: "a", sampleCount: 500, baseVersion: 1,
                             delta: SparseDelta([TensorDelta(name: "conv.bias", channels: .subset([0]), values: [1])]))
        let b = DeviceResult(deviceID: "b", sampleCount: 5, baseVersion: 1,
                             delta: SparseDelta([TensorDelta(name: "conv.bias", channels: .subset([0, 1]), values: [1, 0.5])]))
        let out = rule.aggregate(AggregationInput(round: 1, schema: schema, model: zeros(), results: [a, b]))
        XCTAssertEqual(out.model[1][0], 0.5, "(1 + 1) / 4, not the per-coordinate mean 1, and not weighted by sample counts")
        XCTAssertEqual(out.model[1][1], 0.125, "0.5 / 4: one device alone is not divided by 1")
        XCTAssertEqual(out.model[1][2], 0)
    }

    func testPoissonSamplingDrawsEachDeviceIndependentlyWithProbabilityQ() {
        var c = InProcessFleet.config(curve: false)
        c.devices = (0..<20).map { DeviceConfig(id: "d\($0)") }
        c.privacy.mode = .central
        c.privacy.noiseMultiplier = 1
        c.privacy.sampling = .poisson
        c.privacy.rate = 0.3
        let live = c.devices.map(\.id)
        var sizes = Set<Int>(), hits = 0
        let rounds = 2000
        for r in 1...rounds {
            let s = RoundPlanner.sample(round: UInt64(r), live: live, config: c)
            sizes.insert(s.count)
            hits += s.count
        }
        // 40,000 Bernoulli(0.3) draws: standard error of the rate ≈ 0.0023; 0.01 is over 4 of them.
        XCTAssertEqual(Double(hits) / Double(rounds * live.count), 0.3, accuracy: 0.01)
        XCTAssertGreaterThan(sizes.count, 5, "rounds vary in size")
        XCTAssertEqual(RoundPlanner.sample(round: 7, live: live, config: c), RoundPlanner.sample(round: 7, live: live, config: c), "seeded")
    }

    func testBadPrivacySettingsAreRefusedWithTheKeyAndWhatIsAllowed() {
        func refusal(_ edit: (inout FederationConfig) -> Void) -> String {
            var c = InProcessFleet.config(curve: false)
            c.privacy.mode = .central
            c.privacy.noiseMultiplier = 1
            edit(&c)
            do { try c.validate(); return "accepted" } catch { return "\(error)" }
        }
        XCTAssertEqual(refusal { _ in }, "accepted")
        XCTAssertTrue(refusal { $0.privacy.clip = 0 }.contains("privacy.clip"))
        XCTAssertTrue(refusal { $0.privacy.noiseMultiplier = -1 }.contains("privacy.noiseMultiplier"))
        XCTAssertTrue(refusal { $0.privacy.delta = 0.5 }.contains("privacy.delta"), "δ ≥ 1/N")
        XCTAssertTrue(refusal { $0.privacy.targetEpsilon = 3 }.contains("not both"))
        XCTAssertTrue(refusal { $0.aggregation.rule = .median }.contains("refused under differential privacy"))
        XCTAssertTrue(refusal { $0.privacy.mode = .local; $0.aggregation.rule = .trimmedMean }.contains("refused under differential privacy"), "local DP with a robust rule")
        XCTAssertEqual(refusal { $0.privacy.mode = .local }, "accepted")
        let unreachable = refusal { $0.privacy.noiseMultiplier = nil; $0.privacy.targetEpsilon = 1e-4; $0.privacy.delta = 1e-5 }
        XCTAssertTrue(unreachable.contains("smallest reachable ε"), unreachable)
    }

    func testTargetEpsilonCalibratesTheNoiseWithTheSameAccountant() throws {
        var c = InProcessFleet.config(curve: false, rounds: 5)
        c.privacy.mode = .central
        c.privacy.targetEpsilon = 8
        let z = try c.privacy.resolvedNoiseMultiplier(c)
        let spent = RDPAccountant().epsilon(samplingRate: c.privacy.samplingRate(c), noiseMultiplier: z, steps: 5,
                                            delta: c.privacy.resolvedDelta(population: 4)).epsilon
        XCTAssertLessThanOrEqual(spent, 8)
        XCTAssertGreaterThan(spent, 7.9, "the smallest z that meets the target")
    }

    /// A central-DP run in process: all four nodes honest.
    func dpRun(_ name: String, edit: (inout FederationConfig) -> Void = { _ in }) throws -> (InProcessFleet, RunSummary) {
        var c = InProcessFleet.config(rounds: 3)
        c.privacy.mode = .central
        c.privacy.clip = 0.5
        c.privacy.noiseMultiplier = 1.1
        c.privacy.sampling = .poisson
        c.privacy.rate = 0.75
        edit(&c)
        let fleet = try InProcessFleet(name, config: c)
        fleet.startCoordinator()
        for n in InProcessFleet.honestNodes + [("rogue", [InProcessFleet.rogueDevice])] { try fleet.startNode(n.name, devices: n.devices) }
        return (fleet, try fleet.wait())
    }

    func testACentralDPRunIsBitwiseReproducibleAndReportsTheAccountantsEpsilon() throws {
        let (a, sa) = try dpRun("dp-a")
        let (b, _) = try dpRun("dp-b")
        XCTAssertTrue(a.model == b.model, "same seed, same bits (noise included)")
        let p = try XCTUnwrap(sa.privacy)
        XCTAssertEqual(p.mode, "central")
        XCTAssertTrue(p.variableRoundSize)
        let charged = try a.metrics().filter { !$0.skipped && $0.notApplied == nil }.count
        XCTAssertEqual(p.rounds, charged)
        let want = RDPAccountant().epsilon(samplingRate: 0.75, noiseMultiplier: 1.1, steps: charged, delta: 1 / pow(4, 1.1)).epsilon
        XCTAssertEqual(try XCTUnwrap(p.epsilon), want, accuracy: 1e-9)
        let eps = try a.metrics().compactMap(\.epsilon)
        XCTAssertEqual(eps, eps.sorted(), "ε only grows")
        XCTAssertEqual(try a.writtenSummary().privacy, p)
    }

    func testARunStopsBeforeTheRoundThatWouldExceedMaxEpsilon() throws {
        let one = RDPAccountant().epsilon(samplingRate: 0.75, noiseMultiplier: 1.1, steps: 1, delta: 1 / pow(4, 1.1)).epsilon
        let two = RDPAccountant().epsilon(samplingRate: 0.75, noiseMultiplier: 1.1, steps: 2, delta: 1 / pow(4, 1.1)).epsilon
        let (_, s) = try dpRun("dp-max") { $0.privacy.maxEpsilon = (one + two) / 2 }
        let p = try XCTUnwrap(s.privacy)
        XCTAssertTrue(p.stoppedAtMaxEpsilon)
        XCTAssertLessThanOrEqual(try XCTUnwrap(p.epsilon), (one + two) / 2)
        XCTAssertEqual(p.rounds, 1)
    }

    func testLocalNoiseMakesTheUpdateDenseOverTheSharedTensorsWithSigmaZS() {
        let delta = [TensorDelta(name: "conv.weight", channels: .subset([3]), values: [Float](repeating: 0.01, count: 50))]
        let out = LocalNoise.noised(delta, shared: [0, 1], schema: schema, encoding: .f32, clip: 0.5, noiseMultiplier: 2, seed: 9)
        XCTAssertEqual(out.map(\.name), ["conv.weight", "conv.bias"], "every shared tensor, even one the device did not touch")
        XCTAssertTrue(out.allSatisfy { $0.channels == .all }, "dense: every candidate channel")
        let v = out.flatMap(\.values).map(Double.init)
        let sd = (v.reduce(0) { $0 + $1 * $1 } / Double(v.count)).squareRoot()
        // σ = zS = 1 over 2,050 values: the relative standard error of the sd is 1/√(2n) ≈ 1.6 %; 5 % ≈ 3 of them.
        XCTAssertEqual(sd, 1, accuracy: 0.05)
        XCTAssertEqual(out, LocalNoise.noised(delta, shared: [0, 1], schema: schema, encoding: .f32, clip: 0.5, noiseMultiplier: 2, seed: 9), "seeded")
        var p = PrivacyConfig()
        p.mode = .local
        p.clip = 0.5
        XCTAssertGreaterThan(LocalNoise.maxUpdateNorm(p, noiseMultiplier: 2, coordinates: 2050), L2Clipping.norm(out.map(\.values)),
                             "the coordinator's bound admits an honest noised update")
    }

    func testALocalDPRunIsReproducibleSendsDenseUpdatesAndAccountsWithoutAmplification() throws {
        let (central, _) = try dpRun("dp-central")
        let (a, sa) = try dpRun("dp-local-a") { $0.privacy.mode = .local }
        let (b, _) = try dpRun("dp-local-b") { $0.privacy.mode = .local }
        XCTAssertTrue(a.model == b.model, "local noise is seeded too: bitwise reproducible")
        let p = try XCTUnwrap(sa.privacy)
        XCTAssertEqual(p.mode, "local")
        XCTAssertEqual(p.samplingRate, 1, "no amplification by sampling against the coordinator")
        let want = RDPAccountant().epsilon(samplingRate: 1, noiseMultiplier: 1.1, steps: p.rounds, delta: 1 / pow(4, 1.1)).epsilon
        XCTAssertEqual(try XCTUnwrap(p.epsilon), want, accuracy: 1e-9)
        func meanBytes(_ f: InProcessFleet) throws -> Double {
            let m = try f.metrics().filter { !$0.updateBytes.isEmpty }
            return m.map(\.meanUpdateBytes).reduce(0, +) / Double(m.count)
        }
        let schema = a.service.model.schema
        let dense = a.service.admission.trainable["dev-0"]!.reduce(0) { $0 + 4 * schema.tensors[$1].elementCount }
        XCTAssertGreaterThanOrEqual(try meanBytes(a), Double(dense), "local DP updates carry every coordinate of the shared tensors in f32")
        XCTAssertGreaterThan(try meanBytes(a), try meanBytes(central), "and cost more bytes than the sparse central ones")
    }

    func testUnderDPAnUnclippedUpdateIsRefused() {
        var c = InProcessFleet.config(curve: false)
        c.privacy.mode = .central
        c.privacy.noiseMultiplier = 1
        c.privacy.clip = 0.5
        let d = c.resolvedDevices[0]
        let admission = UpdateAdmission(schema: schema, trainable: [d.id: [1]], weights: [d.id: 10],
                                        maxNorms: [d.id: min(c.aggregation.maxUpdateNorm(for: d), c.privacy.clip * 1.01)],
                                        localSteps: [d.id: 6], encoding: .f32)
        let u = UpdateMessage(deviceID: d.id, round: 1, baseModelVersion: 1, sampleCount: 1,
                              delta: SparseDelta([TensorDelta(name: "conv.bias", channels: .all, values: [Float](repeating: 0.1, count: 50))]))
        let r = admission.admit(u, owned: true, round: OpenRound(round: 1, version: 1, sampled: [d.id]))
        XCTAssertEqual(r.failureCode, .outOfRange, "‖Δ‖ = 0.71 > S = 0.5: the device did not clip")
    }
}
