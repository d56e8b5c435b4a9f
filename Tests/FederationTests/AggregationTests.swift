import Engine
@testable import Federation
import Wire
import XCTest

/// Each rule against a naive per-coordinate reference, plus arrival-order independence.
final class AggregationTests: XCTestCase {
    /// A schema with a conv weight (sliced on axis 1), a depthwise weight (axis 0), a bias and a linear layer.
    let schema = ModelSchema([
        TensorSpec(name: "conv.weight", shape: [4, 6, 1, 1]),
        TensorSpec(name: "dw.weight", shape: [5, 1, 3, 3], channelAxis: 0),
        TensorSpec(name: "conv.bias", shape: [4]),
        TensorSpec(name: "fc.weight", shape: [3, 8]),
    ])

    /// A seeded random model.
    func model(_ seed: UInt64) -> [[Float]] {
        var rng = SplitMix64(seed: seed)
        return schema.tensors.map { t in (0..<t.elementCount).map { _ in rng.nextFloat(in: -1...1) } }
    }

    /// Seeded random results: each device touches a random subset of channels of random tensors.
    func results(_ n: Int, seed: UInt64) -> [DeviceResult] {
        var rng = SplitMix64(seed: seed)
        return (0..<n).map { k in
            var deltas: [TensorDelta] = []
            for spec in schema.tensors where rng.next() % 4 != 0 {
                let chans = (0..<spec.channelCount).filter { _ in rng.next() % 2 == 0 }
                guard !chans.isEmpty else { continue }
                let sel: ChannelSelection = chans.count == spec.channelCount ? .all : .subset(chans)
                let values = (0..<spec.valueCount(channels: chans.count)).map { _ in rng.nextFloat(in: -0.5...0.5) }
                deltas.append(TensorDelta(name: spec.name, channels: sel, values: values))
            }
            return DeviceResult(deviceID: "dev-\(k)", sampleCount: 1 + rng.next() % 50, baseVersion: 1, delta: SparseDelta(deltas))
        }
    }

    /// Naive reference: (tensor, flat index) → [(device, n_k, Δ)], devices in id order.
    func contributions(_ results: [DeviceResult]) -> [[Int: [(Double, Float)]]] {
        var out = schema.tensors.map { _ in [Int: [(Double, Float)]]() }
        for r in results.sorted(by: { $0.deviceID < $1.deviceID }) {
            for t in r.delta.tensors {
                let i = schema.position(of: t.name)!
                let spec = schema.tensors[i]
                let chans: [Int]
                switch t.channels {
                case .all: chans = Array(0..<spec.channelCount)
                case let .subset(c): chans = c
                }
                // Walk the packed [outer, k, inner] layout explicitly.
                var s = 0
                for o in 0..<spec.outer {
                    for c in chans {
                        for e in 0..<spec.inner {
                            let j = (o * spec.channelCount + c) * spec.inner + e
                            out[i][j, default: []].append((Double(r.sampleCount), t.values[s]))
                            s += 1
                        }
                    }
                }
            }
        }
        return out
    }

    func referenceMean(_ m: [[Float]], _ results: [DeviceResult], lr: Float) -> [[Float]] {
        var out = m
        for (i, coords) in contributions(results).enumerated() {
            for (j, list) in coords {
                let num = list.reduce(0.0) { $0 + $1.0 * Double($1.1) }
                let den = list.reduce(0.0) { $0 + $1.0 }
                out[i][j] += lr * Float(num / den)
            }
        }
        return out
    }

    func testWeightedMeanMatchesNaiveReference() {
        let m = model(1), rs = results(5, seed: 2)
        for lr: Float in [1, 0.5] {
            let got = WeightedMeanRule(serverLearningRate: lr).aggregate(AggregationInput(round: 1, schema: schema, model: m, results: rs)).model
            let want = referenceMean(m, rs, lr: lr)
            for i in m.indices { for j in m[i].indices { XCTAssertEqual(got[i][j], want[i][j], accuracy: 1e-6, "tensor \(i) [\(j)]") } }
        }
    }

    func testUntouchedCoordinatesNeverChangeAndOneDeviceIsNotDiluted() {
        let m = model(3)
        // One device touches channel 2 of conv.weight; another touches channel 5 only.
        let a = DeviceResult(deviceID: "a", sampleCount: 10, baseVersion: 1,
                             delta: SparseDelta([TensorDelta(name: "conv.weight", channels: .subset([2]), values: [1, 1, 1, 1])]))
        let b = DeviceResult(deviceID: "b", sampleCount: 30, baseVersion: 1,
                             delta: SparseDelta([TensorDelta(name: "conv.weight", channels: .subset([5]), values: [2, 2, 2, 2])]))
        let out = WeightedMeanRule().aggregate(AggregationInput(round: 1, schema: schema, model: m, results: [a, b]))
        for o in 0..<4 {
            XCTAssertEqual(out.model[0][o * 6 + 2], m[0][o * 6 + 2] + 1, "a channel touched by one device takes its whole delta")
            XCTAssertEqual(out.model[0][o * 6 + 5], m[0][o * 6 + 5] + 2)
            for c in [0, 1, 3, 4] { XCTAssertEqual(out.model[0][o * 6 + c].bitPattern, m[0][o * 6 + c].bitPattern) }
        }
        for i in 1..<m.count { XCTAssertEqual(out.model[i], m[i]) }
        XCTAssertEqual(out.touchedChannels, [0: [2, 5]])
    }

    func testServerMomentumMatchesNaiveReferenceOverRounds() {
        var m = model(4), ref = m
        var state = ServerState()
        var v = schema.tensors.map { [Float](repeating: 0, count: $0.elementCount) }
        let rule = ServerMomentumRule(serverLearningRate: 0.7, momentum: 0.9)
        for round in 1...3 {
            let rs = results(4, seed: UInt64(10 + round))
            let out = rule.aggregate(AggregationInput(round: UInt64(round), schema: schema, model: m, results: rs, state: state))
            m = out.model; state = out.state
            for (i, coords) in contributions(rs).enumerated() {
                for (j, list) in coords {
                    let g = Float(list.reduce(0.0) { $0 + $1.0 * Double($1.1) } / list.reduce(0.0) { $0 + $1.0 })
                    v[i][j] = 0.9 * v[i][j] + g
                    ref[i][j] += 0.7 * v[i][j]
                }
            }
        }
        for i in m.indices { for j in m[i].indices { XCTAssertEqual(m[i][j], ref[i][j], accuracy: 1e-5) } }
    }

    func testMedianMatchesNaiveReference() {
        let m = model(5), rs = results(6, seed: 6)
        let out = CoordinateMedianRule().aggregate(AggregationInput(round: 1, schema: schema, model: m, results: rs))
        let got = out.model
        var want = m
        var held = 0
        for (i, coords) in contributions(rs).enumerated() {
            for (j, list) in coords {
                guard list.count >= 3 else { held += 1; continue }  // minContributors (default 3)
                let v = list.map { Double($0.1) }.sorted()
                let med = v.count % 2 == 1 ? v[v.count / 2] : (v[v.count / 2 - 1] + v[v.count / 2]) / 2
                want[i][j] += Float(med)
            }
        }
        XCTAssertGreaterThan(held, 0, "the fixture has coordinates with fewer than 3 contributors")
        XCTAssertEqual(out.heldBackCoordinates, held)
        for i in m.indices { for j in m[i].indices { XCTAssertEqual(got[i][j], want[i][j], accuracy: 1e-6) } }
    }

    /// Issue 11: a device alone on a coordinate is its own median; robust rules leave such a
    /// coordinate unchanged and count it, and move it once enough devices touch it.
    func testRobustRulesHoldBackCoordinatesWithTooFewContributors() {
        let m = [[Float]](schema.tensors.map { [Float](repeating: 0, count: $0.elementCount) })
        func bias(_ id: String, _ values: [Float], channels: [Int]) -> DeviceResult {
            DeviceResult(deviceID: id, sampleCount: 1, baseVersion: 1,
                         delta: SparseDelta([TensorDelta(name: "conv.bias", channels: .subset(channels), values: values)]))
        }
        // Channel 0: three honest devices; channel 3: the attacker alone, with 1e30.
        let rs = [bias("a", [1], channels: [0]), bias("b", [2], channels: [0]), bias("c", [3], channels: [0]),
                  bias("rogue", [1, 1e30], channels: [0, 3])]
        for rule in [CoordinateMedianRule() as any AggregationRule, TrimmedMeanRule(trim: 0.25)] {
            let out = rule.aggregate(AggregationInput(round: 1, schema: schema, model: m, results: rs))
            XCTAssertEqual(out.model[2][3], 0, "\(rule.name): the lone contribution must not move the model")
            XCTAssertEqual(out.heldBackCoordinates, 1, rule.name)
            XCTAssertLessThanOrEqual(abs(out.model[2][0]), 3, rule.name)
        }
        let permissive = CoordinateMedianRule(minContributors: 1).aggregate(AggregationInput(round: 1, schema: schema, model: m, results: rs))
        XCTAssertEqual(permissive.model[2][3], 1e30, "with minContributors 1 the attacker is the median: the reason for the default")
    }

    func testTrimmedMeanMatchesNaiveReference() {
        let m = model(7), rs = results(9, seed: 8)
        let got = TrimmedMeanRule(trim: 0.2).aggregate(AggregationInput(round: 1, schema: schema, model: m, results: rs)).model
        var want = m
        for (i, coords) in contributions(rs).enumerated() {
            for (j, list) in coords {
                guard list.count >= 3 else { continue }  // minContributors (default 3)
                let v = list.map { Double($0.1) }.sorted()
                var t = Int(0.2 * Double(v.count))
                while v.count - 2 * t < 1 { t -= 1 }
                let kept = v[t..<(v.count - t)]
                want[i][j] += Float(kept.reduce(0, +) / Double(kept.count))
            }
        }
        for i in m.indices { for j in m[i].indices { XCTAssertEqual(got[i][j], want[i][j], accuracy: 1e-6) } }
    }

    func testTrimmedMeanDropsAnOutlier() {
        let m = [[Float]](schema.tensors.map { [Float](repeating: 0, count: $0.elementCount) })
        let rs = (0..<5).map { k in
            DeviceResult(deviceID: "d\(k)", sampleCount: 1, baseVersion: 1,
                         delta: SparseDelta([TensorDelta(name: "conv.bias", channels: .all, values: [Float](repeating: k == 4 ? 1000 : 1, count: 4))]))
        }
        let out = TrimmedMeanRule(trim: 0.2).aggregate(AggregationInput(round: 1, schema: schema, model: m, results: rs))
        XCTAssertEqual(out.model[2], [1, 1, 1, 1])
        XCTAssertEqual(CoordinateMedianRule().aggregate(AggregationInput(round: 1, schema: schema, model: m, results: rs)).model[2], [1, 1, 1, 1])
    }

    func testArrivalOrderGivesBitwiseIdenticalModels() {
        let m = model(9), rs = results(7, seed: 10)
        let rules: [any AggregationRule] = [WeightedMeanRule(), WeightedMeanRule(serverLearningRate: 0.3), ServerMomentumRule(momentum: 0.5),
                                            CoordinateMedianRule(), TrimmedMeanRule(trim: 0.25)]
        for rule in rules {
            let base = rule.aggregate(AggregationInput(round: 1, schema: schema, model: m, results: rs)).model
            var rng = SplitMix64(seed: 11)
            for _ in 0..<10 {
                let shuffled = rs.shuffled(using: &rng)
                let got = rule.aggregate(AggregationInput(round: 1, schema: schema, model: m, results: shuffled)).model
                XCTAssertEqual(got.map { $0.map(\.bitPattern) }, base.map { $0.map(\.bitPattern) }, "\(rule.name) depends on arrival order")
            }
        }
    }

    func testTooFewUpdatesSkipsTheRoundWithTheModelUnchanged() {
        let m = model(12), rs = results(2, seed: 13)
        let skipped = RoundAggregation.run(WeightedMeanRule(), AggregationInput(round: 1, schema: schema, model: m, results: rs), minUpdates: 3)
        XCTAssertTrue(skipped.skipped)
        XCTAssertEqual(skipped.outcome.model, m)
        let ran = RoundAggregation.run(WeightedMeanRule(), AggregationInput(round: 1, schema: schema, model: m, results: rs), minUpdates: 2)
        XCTAssertFalse(ran.skipped)
        XCTAssertNotEqual(ran.outcome.model, m)
    }

    func testConfigNamesTheRule() {
        var c = AggregationConfig()
        XCTAssertTrue(RoundAggregation.rule(c) is WeightedMeanRule)
        c.momentum = 0.9
        XCTAssertTrue(RoundAggregation.rule(c) is ServerMomentumRule)
        c.rule = .median
        XCTAssertTrue(RoundAggregation.rule(c) is CoordinateMedianRule)
        c.rule = .trimmedMean
        XCTAssertTrue(RoundAggregation.rule(c) is TrimmedMeanRule)
    }
}
