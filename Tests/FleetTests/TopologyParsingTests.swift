// Topology parsing and every refusal: unknown key (with its line), bad values, impossible budgets.
@testable import FleetKit
import Engine
import Federation
import XCTest

final class TopologyParsingTests: XCTestCase {
    let minimal = """
        # Minimal: one group.
        name: t
        groups:
          - {name: g, count: 2, budget: 64KB}
        """

    /// The refusal of `text`, or a failure if it parses.
    func refusal(_ text: String, file: StaticString = #filePath, line: UInt = #line) -> TopologyError? {
        do {
            let t = try TopologyParser.parse(text, file: "t.yaml")
            _ = try BudgetCheck.plans(t, file: "t.yaml")
            XCTFail("expected a refusal", file: file, line: line)
            return nil
        } catch let e as TopologyError {
            return e
        } catch {
            XCTFail("unexpected error \(error)", file: file, line: line)
            return nil
        }
    }

    func testMinimalTopologyGetsDefaults() throws {
        let t = try TopologyParser.parse(minimal)
        XCTAssertEqual(t.name, "t")
        XCTAssertEqual(t.about, "Minimal: one group.")
        XCTAssertEqual(t.groups.count, 1)
        XCTAssertEqual(t.groups[0].budget, 64 * 1024)
        XCTAssertEqual(t.groups[0].policy, .dgsu)
        XCTAssertEqual(t.groups[0].deviceIDs, ["g-00", "g-01"])
        XCTAssertEqual(t.partition.kind, "iid")
        XCTAssertFalse(t.curve)
    }

    func testShippedTopologiesParseAndFit() throws {
        let dir = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("../../topologies").standardized
        let files = try FileManager.default.contentsOfDirectory(atPath: dir.path).filter { $0.hasSuffix(".yaml") }
        XCTAssertGreaterThanOrEqual(files.count, 6)
        for f in files {
            let path = dir.appendingPathComponent(f).path
            let text = try String(contentsOfFile: path, encoding: .utf8)
            XCTAssertTrue(text.hasPrefix("#"), "\(f) must open with a comment saying what it studies")
            let t = try Topology.validated(path: path, checkFiles: false)
            XCTAssertFalse(t.about.isEmpty, f)
            for v in t.variants { try FleetPlan(v.topology).config.validate() }
        }
    }

    func testFullTopologyMapsToFederationConfig() throws {
        let t = try TopologyParser.parse("""
            name: full
            seed: 9
            dataset: {name: synthetic, syntheticCount: 300}
            preprocessing: {resolution: 16}
            model: {name: tiny, weights: none}
            memory: {precision: fp32, placement: flash, fused: false}
            groups:
              - {name: a, count: 3, budget: 128KB, policy: static, localSteps: 4, batch: 2, lr: 0.1, mflops: 50}
              - {name: b, count: 2, budget: 1MB, policy: random}
            partition: {kind: dirichlet, alpha: 0.1, minShard: 5}
            rounds: {count: 4, sampleFraction: 0.5, minUpdates: 2, deadline: 2s, joinWait: 1m, finalWait: 500ms}
            aggregation: {rule: trimmed-mean, trim: 0.2, maxUpdateNorm: 2.5, minContributors: 4}
            encoding: f16
            coordinatedSchedule: on
            curve: true
            personalisation: {personal: head+biases, testFraction: 0.3}
            nodes: {count: 2, split: contiguous}
            network: {latencyMs: 10, bandwidthKbps: 100, dropProbability: 0.2}
            faults: {killNode: 2, killAfterRound: 2}
            heartbeatMs: 100
            """)
        let plan = FleetPlan(t)
        let c = plan.config
        XCTAssertEqual(c.seed, 9)
        XCTAssertEqual(c.devices.map(\.id), ["a-00", "a-01", "a-02", "b-00", "b-01"])
        XCTAssertEqual(c.device("a-01")?.policy, .static)
        XCTAssertEqual(c.device("b-00")?.budget, 1 << 20)
        XCTAssertEqual(c.rounds.deadlineMs, 2000)
        XCTAssertEqual(c.rounds.joinWaitMs, 60_000)
        XCTAssertEqual(c.rounds.finalWaitMs, 500)
        XCTAssertEqual(c.aggregation.rule, .trimmedMean)
        XCTAssertEqual(c.aggregation.maxUpdateNorm, 2.5)
        XCTAssertEqual(c.aggregation.minContributors, 4)
        XCTAssertEqual(c.encoding, .f16)
        XCTAssertEqual(c.personalisation.personal, .headAndBiases)
        XCTAssertEqual(c.deviceDefaults.memory.placement, .flash)
        XCTAssertEqual(plan.nodeDevices, [["a-00", "a-01", "a-02"], ["b-00", "b-01"]])
        XCTAssertTrue(t.coordinatedSchedule)
        XCTAssertEqual(t.faults.killNode, 2)
        XCTAssertEqual(t.network.dropProbability, 0.2)
        XCTAssertNoThrow(try c.validate())
    }

    func testAggregationSafetyKeysAreRangeChecked() {
        XCTAssertEqual(refusal(minimal + "\naggregation: {maxUpdateNorm: 0}")?.key, "aggregation.maxUpdateNorm")
        XCTAssertEqual(refusal(minimal + "\naggregation: {minContributors: 0}")?.key, "aggregation.minContributors")
        XCTAssertEqual(try TopologyParser.parse(minimal).aggregation.maxUpdateNorm, nil, "default: derived per device")
    }

    func testPrivacyBlockMapsToTheConfigurationAndIsRefusedWithItsKey() throws {
        let t = try TopologyParser.parse(minimal + "\nprivacy: {mode: central, clip: 0.5, noiseMultiplier: 1.2, sampling: poisson, rate: 0.5, maxEpsilon: 20}")
        let c = FleetPlan(t).config
        XCTAssertEqual(c.privacy.mode, .central)
        XCTAssertEqual(c.privacy.clip, 0.5)
        XCTAssertEqual(c.privacy.noiseMultiplier, 1.2)
        XCTAssertEqual(c.privacy.sampling, .poisson)
        XCTAssertEqual(c.privacy.rate, 0.5)
        XCTAssertEqual(c.privacy.maxEpsilon, 20)
        XCTAssertNoThrow(try c.validate())
        XCTAssertEqual(refusal(minimal + "\nprivacy: {clip: 0, noiseMultiplier: 1}")?.key, "privacy.clip")
        XCTAssertEqual(refusal(minimal + "\nprivacy: {noiseMultiplier: -1}")?.key, "privacy.noiseMultiplier")
        XCTAssertEqual(refusal(minimal + "\nprivacy: {noiseMultiplier: 1, targetEpsilon: 3}")?.key, "privacy.targetEpsilon")
        XCTAssertEqual(refusal(minimal + "\nprivacy: {mode: central}")?.key, "privacy.noiseMultiplier")
        XCTAssertEqual(refusal(minimal + "\nprivacy: {epsilon: 3}")?.key, "privacy.epsilon")
        let delta = refusal(minimal + "\nprivacy: {noiseMultiplier: 1, delta: 0.9}")
        XCTAssertEqual(delta?.key, "privacy.delta", "δ ≥ 1/N, found with the whole run")
        XCTAssertNotNil(delta?.line)
        let target = refusal(minimal + "\nprivacy: {targetEpsilon: 0.00001, delta: 0.00001}")
        XCTAssertEqual(target?.key, "privacy.targetEpsilon")
        XCTAssertTrue(target?.problem.contains("smallest reachable ε") ?? false, target?.problem ?? "")
        XCTAssertEqual(refusal(minimal + "\naggregation: {rule: median}\nprivacy: {noiseMultiplier: 1}")?.key, "privacy.mode", "robust rule under DP")
    }

    func testSecureAggregationBlockMapsToTheConfigurationAndIsRefusedWithItsKey() throws {
        let four = minimal.replacingOccurrences(of: "count: 2", with: "count: 4")
        let t = try TopologyParser.parse(four + "\nsecureAggregation: {mode: dealt, groupSize: 4, valueBits: 18, clip: 0.5, phaseDeadline: 2s, randomness: system}")
        let c = FleetPlan(t).config
        XCTAssertEqual(c.secureAggregation.mode, .dealt)
        XCTAssertEqual(c.secureAggregation.groupSize, 4)
        XCTAssertEqual(c.secureAggregation.valueBits, 18)
        XCTAssertEqual(c.secureAggregation.clip, 0.5)
        XCTAssertEqual(c.secureAggregation.phaseDeadlineMs, 2000)
        XCTAssertEqual(c.secureAggregation.randomness, .system)
        XCTAssertNoThrow(try c.validate())
        XCTAssertEqual(try TopologyParser.parse(four + "\nsecureAggregation: {}").secureAggregation.mode, .candidates, "an empty block means candidates")
        XCTAssertEqual(refusal(four + "\nsecureAggregation: {mode: all}")?.key, "secureAggregation.mode")
        XCTAssertEqual(refusal(four + "\nsecureAggregation: {valueBits: 31}")?.key, "secureAggregation.valueBits")
        let few = refusal(minimal + "\nsecureAggregation: {mode: candidates}")
        XCTAssertTrue(few?.problem.contains("at least 3 devices") ?? false, few?.problem ?? "")
        let median = refusal(four + "\naggregation: {rule: median}\nsecureAggregation: {}")
        XCTAssertEqual(median?.key, "secureAggregation.mode")
        XCTAssertTrue(median?.problem.contains("masked sum") ?? false, median?.problem ?? "")
        let local = refusal(four + "\nprivacy: {mode: local, noiseMultiplier: 1}\nsecureAggregation: {}")
        XCTAssertTrue(local?.problem.contains("distributed") ?? false, local?.problem ?? "")
        XCTAssertEqual(refusal(four + "\nprivacy: {mode: distributed, noiseMultiplier: 1}")?.key, "privacy.mode", "distributed noise needs secure aggregation")
        XCTAssertNoThrow(try TopologyParser.parse(four + "\nprivacy: {mode: distributed, noiseMultiplier: 1, sampling: fixed}\nsecureAggregation: {}"))
        let dgsu = refusal(four.replacingOccurrences(of: "budget: 64KB", with: "budget: 64KB, policy: static") + "\nsecureAggregation: {mode: dealt+dgsu}")
        XCTAssertTrue(dgsu?.problem.contains("dgsu") ?? false, dgsu?.problem ?? "")
        XCTAssertEqual(refusal(four + "\nsecureAggregation: {mode: dealt, groupSize: 3, threshold: 3}")?.key, "secureAggregation.threshold")
        XCTAssertEqual(refusal(four + "\ncoordinatedSchedule: on\nsecureAggregation: {mode: dealt}")?.key, "secureAggregation.mode")
    }

    func testGroupLearningRatesAreANumberOrOnePerParameterGroup() throws {
        let t = try TopologyParser.parse(minimal.replacingOccurrences(of: "budget: 64KB}", with: "budget: 64KB, lr: {head: 0.1, bias: 0.01, weights: 0.003}}"))
        XCTAssertEqual(t.groups[0].learningRate, LearningRates(head: 0.1, bias: 0.01, weights: 0.003))
        let c = FleetPlan(t).config
        XCTAssertEqual(c.resolvedDevices[0].learningRate, LearningRates(head: 0.1, bias: 0.01, weights: 0.003))
        let task = RoundPlanner.task(round: 1, device: c.resolvedDevices[0], config: c, modelVersion: 1, assignments: [])
        XCTAssertTrue(task.hasLearningRates, "the TASK carries the three rates")
        XCTAssertEqual(task.learningRates.head, 0.1)
        XCTAssertEqual(try TopologyParser.parse(minimal.replacingOccurrences(of: "budget: 64KB}", with: "budget: 64KB, lr: 0.02}")).groups[0].learningRate, 0.02)
        XCTAssertFalse(RoundPlanner.task(round: 1, device: FleetPlan(try TopologyParser.parse(minimal)).config.resolvedDevices[0], config: c, modelVersion: 1,
                                         assignments: []).hasLearningRates, "one rate: no per-group field")
        let missing = refusal(minimal.replacingOccurrences(of: "budget: 64KB}", with: "budget: 64KB, lr: {head: 0.1, weights: 0.003}}"))
        XCTAssertEqual(missing?.key, "groups[0].lr.bias")
        XCTAssertEqual(refusal(minimal.replacingOccurrences(of: "budget: 64KB}", with: "budget: 64KB, lr: {head: 0.1, bias: 0, weights: 0.003}}"))?.key, "groups[0].lr.bias")
        XCTAssertEqual(refusal(minimal.replacingOccurrences(of: "budget: 64KB}", with: "budget: 64KB, lr: {head: 0.1, bias: 0.1, weight: 0.003}}"))?.key, "groups[0].lr.weight")
    }

    func testGroupScheduleAndMasterWeightsReachTheDevices() throws {
        let t = try TopologyParser.parse(minimal.replacingOccurrences(of: "budget: 64KB}", with: "budget: 64KB, schedule: cosine}")
                                         + "\nmemory: {precision: int8, masterWeights: on}")
        XCTAssertEqual(t.groups[0].localSchedule, .cosine)
        let d = FleetPlan(t).config.resolvedDevices[0]
        XCTAssertEqual(d.localSchedule, .cosine)
        XCTAssertTrue(d.memory.masterWeights)
        XCTAssertEqual(d.memory.precision, .int8)
        XCTAssertEqual(FleetPlan(try TopologyParser.parse(minimal)).config.resolvedDevices[0].localSchedule, .constant)
        XCTAssertFalse(FleetPlan(try TopologyParser.parse(minimal)).config.resolvedDevices[0].memory.masterWeights)
        XCTAssertEqual(refusal(minimal.replacingOccurrences(of: "budget: 64KB}", with: "budget: 64KB, schedule: linear}"))?.key, "groups[0].schedule")
        XCTAssertEqual(refusal(minimal + "\nmemory: {masterWeights: sometimes}")?.key, "memory.masterWeights")
    }

    /// `rounds.lrSchedule` scales every group's rates in the TASKs, round by round, and only there.
    func testRoundScheduleDecaysTheRatesTheTasksCarry() throws {
        let text = minimal.replacingOccurrences(of: "budget: 64KB}", with: "budget: 64KB, lr: {head: 0.01, bias: 0.003, weights: 0.001}}")
        let c = FleetPlan(try TopologyParser.parse(text + "\nrounds: {count: 4, lrSchedule: cosine}")).config
        XCTAssertEqual(c.rounds.lrSchedule, .cosine)
        let d = c.resolvedDevices[0]
        func rates(_ round: UInt64) -> (Float, Float, Float) {
            let t = RoundPlanner.task(round: round, device: d, config: c, modelVersion: 1, assignments: [])
            XCTAssertTrue(t.hasLearningRates)
            XCTAssertEqual(t.learningRate, t.learningRates.weights)
            return (t.learningRates.head, t.learningRates.bias, t.learningRates.weights)
        }
        // Round 1 carries the group's rates; round r the cosine factor ½(1 + cos(π(r − 1)/4)).
        XCTAssertEqual(rates(1).0, 0.01)
        for r in 2...4 {
            let f = Float(0.5 * (1 + cos(Double.pi * Double(r - 1) / 4)))
            XCTAssertEqual(rates(UInt64(r)).0, 0.01 * f, accuracy: 1e-9)
            XCTAssertEqual(rates(UInt64(r)).1, 0.003 * f, accuracy: 1e-9)
            XCTAssertEqual(rates(UInt64(r)).2, 0.001 * f, accuracy: 1e-9)
        }
        XCTAssertLessThan(rates(4).0, rates(3).0)
        XCTAssertGreaterThan(rates(4).0, 0, "the last round still trains")
        XCTAssertEqual(rates(9).0, rates(4).0, "a round past the count keeps the last factor")
        XCTAssertEqual(d.learningRate.head, 0.01, "the device's own rates are the group's")
        // Without the key the rates are the group's every round; an unknown schedule is refused by key.
        let flat = FleetPlan(try TopologyParser.parse(text + "\nrounds: {count: 4}")).config
        XCTAssertEqual(flat.rounds.lrSchedule, .constant)
        XCTAssertEqual(RoundPlanner.task(round: 4, device: flat.resolvedDevices[0], config: flat, modelVersion: 1, assignments: []).learningRates.head, 0.01)
        XCTAssertEqual(refusal(text + "\nrounds: {count: 4, lrSchedule: linear}")?.key, "rounds.lrSchedule")
    }

    func testAnExplicitLayoutIsParsedCheckedByNameAndByBudget() throws {
        let arch = ModelZoo.architecture(.tiny, classes: 10)
        let last = arch.units.filter(\.isPointwise).last!.name
        let t = try TopologyParser.parse(minimal + "\nlayout: {weights: {\"\(last)\": 0.5}, biasLayers: 2}")
        XCTAssertEqual(t.search.explicit, ExplicitLayout(weights: [last: 0.5], biasLayers: 2))
        let plans = try BudgetCheck.plans(t, file: "t.yaml")
        XCTAssertEqual(plans.count, 1)
        let c = FleetPlan(t).config
        let layout = try DevicePlans.layout(c.resolvedDevices[0], arch: arch, resolution: c.model.resolution)
        XCTAssertEqual(layout.biasUnits.count, 2)
        XCTAssertEqual(layout.weightChannels.count, 1)
        XCTAssertEqual(refusal(minimal + "\nlayout: {weights: {conv99: 0.5}}")?.key, "layout.weights")
        XCTAssertEqual(refusal(minimal + "\nlayout: {weights: {\"\(last)\": 2}}")?.key, "layout.weights.\(last)")
        let tight = refusal(minimal.replacingOccurrences(of: "budget: 64KB", with: "budget: 2KB") + "\nlayout: {weights: {\"\(last)\": 1}, biasLayers: 10}")
        XCTAssertTrue(tight?.problem.contains("over the") ?? false, tight?.problem ?? "")
    }

    func testRoundRobinSplit() throws {
        var t = try TopologyParser.parse(minimal.replacingOccurrences(of: "count: 2", with: "count: 5"))
        t.nodes.count = 2
        XCTAssertEqual(FleetPlan(t).nodeDevices, [["g-00", "g-02", "g-04"], ["g-01", "g-03"]])
    }

    func testUnknownKeyNamesKeyLineAndAllowed() throws {
        let e = try XCTUnwrap(refusal("""
            name: t
            groups:
              - name: g
                count: 2
                budgte: 64KB
            """))
        XCTAssertEqual(e.line, 5)
        XCTAssertEqual(e.key, "groups[0].budgte")
        XCTAssertTrue(e.problem.contains("did you mean 'budget'"), e.problem)
        XCTAssertTrue(e.problem.contains("allowed here: name, count, budget"), e.problem)
        XCTAssertTrue(e.description.hasPrefix("t.yaml:5: groups[0].budgte: unknown key"), e.description)
    }

    func testUnknownTopLevelKey() throws {
        let e = try XCTUnwrap(refusal(minimal + "\nroundz: 3\n"))
        XCTAssertEqual(e.key, "roundz")
        XCTAssertEqual(e.line, 5)
        XCTAssertTrue(e.problem.contains("did you mean 'rounds'"), e.problem)
    }

    func testBadValuesAreRefusedWithWhatIsAllowed() throws {
        let cases: [(String, String, String)] = [
            ("rounds: {count: 0}", "rounds.count", "allowed 1...100000"),
            ("rounds: {count: three}", "rounds.count", "expected a whole number"),
            ("rounds: {sampleFraction: 1.5}", "rounds.sampleFraction", "out of range"),
            ("rounds: {deadline: soon}", "rounds.deadline", "250ms, 30s or 2m"),
            ("partition: {kind: zipf}", "partition.kind", "use one of iid, dirichlet, classes"),
            ("partition: {kind: dirichlet, alpha: 0}", "partition.alpha", "out of range"),
            ("aggregation: {rule: krum}", "aggregation.rule", "use one of mean, median, trimmed-mean"),
            ("encoding: f8", "encoding", "use one of f32, f16, int8"),
            ("curve: maybe", "curve", "expected true or false"),
            ("model: {name: resnet50}", "model.name", "efficientnet-lite0"),
            ("model: {weights: weights.bin}", "model.weights", "pretrained, none, or a path"),
            ("dataset: {name: mnist}", "dataset.name", "no default folder"),
            ("nodes: {count: 3}", "nodes", "every node needs at least one device"),
            ("network: {dropProbability: 0.95}", "network.dropProbability", "out of range"),
            ("faults: {killNode: 1}", "faults.killNode", "killing the only node"),
            ("sweep:\n  groups[*].policy: [dgsu, dense]", "groups[0].policy", "dense is refused"),
            ("compare: {policies: [dgsu]}", "compare", "replaced by the general sweep"),
            ("sweep: {seed: [1, 2]}", "sweep.seed", "cannot be swept"),
            ("sweep: {privacy.noiseMultiplier: 1}", "sweep.privacy.noiseMultiplier", "non-empty list"),
            ("sweep:\n  groups[3].policy: [dgsu]", "sweep.groups[3].policy", "past the end"),
            ("sweep:\n  groups.policy: [dgsu]", "sweep.groups.policy", "sweeps into a list"),
            ("sweep: {encoding: [f32, f8]}", "encoding", "use one of f32, f16, int8"),
            ("sweep: {rounds.count: [1, 1]}", "sweep.rounds.count", "listed twice"),
            ("sweep: {rounds.count: [1, 2, 3, 4, 5], rounds.minUpdates: [1, 2, 3, 4, 5], encoding: [f32, f16, int8]}", "sweep", "at most 64"),
            ("sweep: {rounds..count: [1]}", "sweep.rounds..count", "not a key path"),
            ("groups: []", "groups", "no device groups"),
        ]
        for (extra, key, message) in cases {
            let base = extra.hasPrefix("groups") ? "name: t\n" : minimal + "\n"
            guard let e = refusal(base + extra) else { continue }
            XCTAssertEqual(e.key, key, extra)
            XCTAssertTrue(e.problem.contains(message), "\(extra): \(e.problem)")
            XCTAssertNotNil(e.line, extra)
        }
    }

    func testGroupValueRefusals() throws {
        let cases: [(String, String, String)] = [
            ("{name: g, budget: lots}", "groups[0].budget", "256KB"),
            ("{name: g, policy: dense}", "groups[0].policy", "dense is refused"),
            ("{name: g, policy: lora}", "groups[0].policy", "head, bias, static, dgsu, random"),
            ("{name: g, count: 0}", "groups[0].count", "out of range"),
            ("{name: 'a b'}", "groups[0].name", "letters, digits"),
            ("{name: g, lr: -1}", "groups[0].lr", "out of range"),
        ]
        for (group, key, message) in cases {
            guard let e = refusal("name: t\ngroups:\n  - \(group)\n") else { continue }
            XCTAssertEqual(e.key, key, group)
            XCTAssertEqual(e.line, 3, group)
            XCTAssertTrue(e.problem.contains(message), "\(group): \(e.problem)")
        }
    }

    func testDuplicateKeyAndBrokenYAML() throws {
        let dup = try XCTUnwrap(refusal("name: t\nname: u\ngroups:\n  - {name: g}\n"))
        XCTAssertEqual(dup.key, "name")
        XCTAssertEqual(dup.line, 2)
        let broken = try XCTUnwrap(refusal("name: t\ngroups: [\n"))
        XCTAssertTrue(broken.problem.contains("not valid YAML"), broken.problem)
    }

    func testImpossibleBudgetNamesGroupLineAndMinimum() throws {
        let e = try XCTUnwrap(refusal("""
            name: t
            preprocessing: {resolution: 64}
            model: {name: efficientnet-lite0, weights: none}
            groups:
              - name: ok
                budget: 256KB
              - name: tiny
                count: 3
                budget: 8KB
            """))
        XCTAssertEqual(e.key, "groups[tiny].budget")
        XCTAssertEqual(e.line, 9)
        XCTAssertTrue(e.problem.contains("impossible budget for efficientnet-lite0 at 64×64"), e.problem)
        XCTAssertTrue(e.problem.contains("Allowed: at least"), e.problem)
    }

    func testMissingWeightsAndDataAreRefusedWithTheFix() throws {
        let weights = try TopologyParser.parse(minimal + "\nmodel: {name: tiny, weights: /nonexistent/w.safetensors}\n")
        XCTAssertThrowsError(try InputFiles.check(weights, file: "t.yaml")) { e in
            let e = e as? TopologyError
            XCTAssertEqual(e?.key, "model.weights")
            XCTAssertTrue(e?.problem.contains("/nonexistent/w.safetensors") ?? false, "\(String(describing: e))")
        }
        let data = try TopologyParser.parse(minimal + "\ndataset: {name: fashion-mnist, directory: /nonexistent/fm}\n")
        XCTAssertThrowsError(try InputFiles.check(data, file: "t.yaml")) { e in
            XCTAssertEqual((e as? TopologyError)?.key, "dataset")
        }
        XCTAssertNoThrow(try InputFiles.check(try TopologyParser.parse(minimal), file: "t.yaml"), "synthetic data, random tiny net")
    }

    func testSweepCoversTheGridWithTheSameSeedAndNamesEachCell() throws {
        let text = minimal + "\nseed: 7\nsweep:\n  groups[0].lr: [0.01, 0.1]\n  groups[0].policy: [static, dgsu]\n"
        let t = try TopologyParser.parse(text)
        XCTAssertEqual(t.variants.map(\.label), ["lr-0.01_policy-static", "lr-0.01_policy-dgsu", "lr-0.1_policy-static", "lr-0.1_policy-dgsu"])
        XCTAssertEqual(Set(t.cells.map(\.topology.seed)), [7], "one seed for every cell")
        XCTAssertEqual(t.cells.map(\.topology.groups[0].learningRate), [0.01, 0.01, 0.1, 0.1])
        XCTAssertEqual(t.cells.map(\.topology.groups[0].policy), [.static, .dgsu, .static, .dgsu])
        XCTAssertEqual(t.cells[3].settings, [SweepSetting(path: "groups[0].lr", value: "0.1"), SweepSetting(path: "groups[0].policy", value: "dgsu")])
        // Everything not swept is as written.
        XCTAssertEqual(t.cells[3].topology.groups[0].budget, 64 * 1024)
        // A key absent from the file is created by the sweep, and DP keys are checked per cell.
        let dp = try TopologyParser.parse(minimal + "\nprivacy: {mode: central, clip: 1}\nsweep: {privacy.noiseMultiplier: [0, 1.5]}\n")
        XCTAssertEqual(dp.cells.map(\.topology.privacy.noiseMultiplier), [0, 1.5])
        XCTAssertEqual(dp.cells.map(\.label), ["noiseMultiplier-0", "noiseMultiplier-1.5"])
        // A bad value is refused at its line in `sweep:`, naming the cell.
        let bad = refusal(minimal + "\nprivacy: {mode: central, clip: 1}\nsweep:\n  privacy.noiseMultiplier:\n    - 1\n    - -2\n")
        XCTAssertEqual(bad?.key, "privacy.noiseMultiplier")
        XCTAssertEqual(bad?.line, 9)
        XCTAssertTrue(bad?.problem.contains("in the sweep cell privacy.noiseMultiplier=-2") ?? false, bad?.problem ?? "")
        // Two axes with the same last key are named by their whole path.
        XCTAssertEqual(SweepExpansion.label(axes: [SweepAxis(path: "groups[0].lr", values: []), SweepAxis(path: "groups[1].lr", values: [])],
                                            values: ["0.1", "0.2"]), "groups0.lr-0.1_groups1.lr-0.2")
    }

    func testSweepOverEveryGroupsPolicyMakesOneVariantPerPolicy() throws {
        let t = try TopologyParser.parse(minimal + "\nsweep:\n  groups[*].policy: [head, bias, static, dgsu, random]\n")
        let v = t.variants
        XCTAssertEqual(v.map(\.label), ["policy-head", "policy-bias", "policy-static", "policy-dgsu", "policy-random"])
        XCTAssertEqual(v[2].topology.groups[0].policy, .static)
        XCTAssertTrue(v[2].topology.cells.isEmpty)
        XCTAssertEqual(t.sweep, [SweepAxis(path: "groups[*].policy", values: ["head", "bias", "static", "dgsu", "random"])])
        // A run folder of a sweep holds one subfolder per cell, named after it.
        XCTAssertEqual(t.variant(of: RunFolder(path: "runs/t-1/policy-static")).label, "policy-static")
        XCTAssertEqual(t.variant(of: RunFolder(path: "runs/t-1")).label, "policy-head", "not a cell's folder: the first run")
        XCTAssertNil(try TopologyParser.parse(minimal).variant(of: RunFolder(path: "runs/t-1")).label)
    }

    func testDurationsAndSizes() {
        XCTAssertEqual(YAMLObject.parseDuration("250ms"), 250)
        XCTAssertEqual(YAMLObject.parseDuration("30s"), 30_000)
        XCTAssertEqual(YAMLObject.parseDuration("2m"), 120_000)
        XCTAssertEqual(YAMLObject.parseDuration("1500"), 1500)
        XCTAssertNil(YAMLObject.parseDuration("-1s"))
    }
}

/// personalisation.method in a topology: the keys, and Ditto's copy against the budget.
final class PersonalisationTopologyTests: XCTestCase {
    func topology(_ method: String, budget: String = "256KB", extra: String = "") -> String {
        """
        name: p
        preprocessing: {resolution: 64}
        model: {name: efficientnet-lite0}
        groups:
          - {name: mcu, count: 2, budget: \(budget), policy: dgsu}
        layout: {weights: {_conv_head: 0.125}, biasLayers: 4}
        personalisation: {method: \(method)\(extra)}
        """
    }

    func testEveryMethodParsesAndCarriesItsSettings() throws {
        for m in PersonalisationMethod.allCases where m != .ditto {
            let t = try TopologyParser.parse(topology(m.rawValue))
            XCTAssertEqual(t.personalisation.method, m)
            _ = try BudgetCheck.plans(t)
            try FleetPlan(t).config.validate()
        }
        let t = try TopologyParser.parse(topology("fedrep", extra: ", headSteps: 7"))
        XCTAssertEqual(t.personalisation.headSteps, 7)
        XCTAssertEqual(try TopologyParser.parse(topology("finetune", extra: ", finetuneSteps: 40")).personalisation.finetuneSteps, 40)
        XCTAssertEqual(try TopologyParser.parse(topology("ditto", extra: ", lambda: 0.5")).personalisation.lambda, 0.5)
    }

    func testADittoTopologyThatCannotHoldItsCopyIsRefusedWithWhatIsMissing() throws {
        let fedper = try BudgetCheck.plans(TopologyParser.parse(topology("fedper")))
        XCTAssertLessThanOrEqual(fedper[0].peakBytes, 256 * 1024, "the layout fits without the copy")
        do {
            _ = try BudgetCheck.plans(TopologyParser.parse(topology("ditto")), file: "t.yaml")
            XCTFail("a Ditto copy of every channel of _conv_head (400 KB int8) cannot fit 256 KB")
        } catch let e as TopologyError {
            XCTAssertEqual(e.key, "groups[mcu].budget")
            XCTAssertTrue(e.problem.contains("personal copy"), e.problem)
            XCTAssertTrue(e.problem.contains("short by"), e.problem)
        }
        // With room for the copy the same layout fits, and its plan charges it.
        let roomy = try BudgetCheck.plans(TopologyParser.parse(topology("ditto", budget: "1MB")))
        XCTAssertGreaterThan(roomy[0].peakBytes, fedper[0].peakBytes + 400_000)
    }

    func testPersonalBelongsToFedPer() {
        XCTAssertThrowsError(try TopologyParser.parse(topology("fedrep", extra: ", personal: head"))) {
            XCTAssertTrue("\($0)".contains("FedPer's setting"), "\($0)")
        }
    }
}
