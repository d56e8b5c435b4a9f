import XCTest
@testable import Engine

/// Whole-network gradients against central finite differences (ReLU6 corners skipped), and the
/// sparse input-channel gradient against a slice of the dense one.
final class GradientCheckTests: XCTestCase {
    let arch = MobileNetV2.tiny()
    let batch = 2, size = 16

    func randomInput(seed: UInt64) -> ([Float], [Int32]) {
        var rng = SplitMix64(seed: seed)
        let x = (0..<3 * batch * size * size).map { _ in rng.nextFloat(in: -2...2) }
        return (x, (0..<batch).map { Int32($0 * 3 % 10) })
    }

    /// A folded tiny net with non-trivial biases so ReLU6s sit in all three regions.
    func network() -> Network {
        var net = Network(arch: arch, seed: 7).folded()
        var rng = SplitMix64(seed: 99)
        for i in net.units.indices { net.units[i].bias = net.units[i].bias.map { _ in rng.nextFloat(in: -0.3...0.8) } }
        return net
    }

    func loss(_ net: Network, _ x: [Float], _ labels: [Int32]) -> Double {
        let logits = ForwardRunner().logits(net, input: x, batch: batch, height: size, width: size)
        return Double(SoftmaxCrossEntropy.forwardBackward(dlogits: nil, logits: logits, labels: labels, classes: arch.classes))
    }

    /// Analytic gradient of every updated value: one SGD step at lr 1 moves w by exactly −g.
    func analyticStep(_ net: Network, _ plan: UpdatePlan, _ x: [Float], _ labels: [Int32]) throws -> Network {
        var after = net
        try Trainer().step(&after, input: x, labels: labels, height: size, width: size, plan: plan, learningRate: 1)
        return after
    }

    /// Central difference at `eps`, or nil at a ReLU6 corner: there the left and right one-sided
    /// slopes disagree and the analytic gradient is one of them, not their mean.
    func numeric(_ net: Network, _ x: [Float], _ labels: [Int32], eps: Float, set: (inout Network, Float) -> Void) -> Double? {
        var plus = net, minus = net
        set(&plus, eps); set(&minus, -eps)
        let l0 = loss(net, x, labels), lp = loss(plus, x, labels), lm = loss(minus, x, labels)
        let left = (l0 - lm) / Double(eps), right = (lp - l0) / Double(eps)
        return Swift.abs(left - right) > 1e-3 + 0.03 * Swift.abs(left + right) ? nil : (left + right) / 2
    }

    func testWholeNetworkGradientsMatchFiniteDifferences() throws {
        let net = network()
        let (x, labels) = randomInput(seed: 3)
        let all = (0..<arch.units.count)
        let plan = UpdatePlan(biasUnits: Set(all), weightChannels: Dictionary(uniqueKeysWithValues: all.map { u in
            (u, (0..<Int32(arch.units[u].inChannels / arch.units[u].groups == 1 ? arch.units[u].inChannels : arch.units[u].inChannels)).map { $0 })
        }), trainClassifier: true)
        let after = try analyticStep(net, plan, x, labels)
        var checked = 0, skipped = 0
        // Tolerance: float32 central differences at eps ≤ 1e-2 on a loss of ~2: 2e-3 absolute + 5 %.
        func check(_ analytic: Double, _ numericValue: Double?, _ what: String) {
            guard let n = numericValue else { skipped += 1; return }
            checked += 1
            XCTAssertEqual(analytic, n, accuracy: 2e-3 + 0.05 * Swift.abs(n), what)
        }
        for i in stride(from: 0, to: net.classifierWeight.count, by: 37) {
            check(Double(net.classifierWeight[i] - after.classifierWeight[i]),
                  numeric(net, x, labels, eps: 1e-3) { $0.classifierWeight[i] += $1 }, "classifier.weight[\(i)]")
        }
        for u in all {
            let w = net.units[u].weight.count, b = net.units[u].bias.count
            for i in stride(from: u % 3, to: w, by: max(1, w / 6)) {
                check(Double(net.units[u].weight[i] - after.units[u].weight[i]),
                      numeric(net, x, labels, eps: 1e-3) { $0.units[u].weight[i] += $1 }, "\(arch.units[u].name).weight[\(i)]")
            }
            for i in stride(from: 0, to: b, by: max(1, b / 3)) {
                check(Double(net.units[u].bias[i] - after.units[u].bias[i]),
                      numeric(net, x, labels, eps: 1e-3) { $0.units[u].bias[i] += $1 }, "\(arch.units[u].name).bias[\(i)]")
            }
        }
        XCTAssertGreaterThan(checked, 60, "too few coordinates checked (\(skipped) skipped at ReLU6 corners)")
    }

    func testSparseInputChannelGradientIsTheDenseSlice() throws {
        let net = network()
        let (x, labels) = randomInput(seed: 11)
        // Units: a pointwise conv (expand of block 2), a depthwise conv, and the project conv of block 3.
        let pointwise = arch.units.firstIndex { $0.name == "features.2.conv.0.0" }!
        let depthwise = arch.units.firstIndex { $0.name == "features.2.conv.1.0" }!
        let project = arch.units.firstIndex { $0.name == "features.3.conv.2" }!
        func allChannels(_ u: Int) -> [Int32] { (0..<Int32(arch.units[u].inChannels)).map { $0 } }
        let densePlan = UpdatePlan(weightChannels: [pointwise: allChannels(pointwise), depthwise: allChannels(depthwise), project: allChannels(project)])
        let subsets: [Int: [Int32]] = [pointwise: [1, 4, 5], depthwise: [0, 3, 7, 9], project: [2, 10, 11, 17]]
        let sparsePlan = UpdatePlan(weightChannels: subsets)
        let dense = try analyticStep(net, densePlan, x, labels)
        let sparse = try analyticStep(net, sparsePlan, x, labels)
        for (u, chans) in subsets {
            let spec = arch.units[u]
            let taps = spec.kernel * spec.kernel, cin = spec.inChannels / spec.groups
            for o in 0..<spec.outChannels {
                for c in 0..<cin {
                    let channel = spec.isDepthwise ? o : c
                    let i = (o * cin + c) * taps
                    for t in 0..<taps {
                        let got = sparse.units[u].weight[i + t]
                        if chans.contains(Int32(channel)) {
                            XCTAssertEqual(got, dense.units[u].weight[i + t], accuracy: 1e-6, "\(spec.name) o\(o) c\(c)")
                        } else {
                            XCTAssertEqual(got, net.units[u].weight[i + t], "\(spec.name) untouched channel \(channel) changed")
                        }
                    }
                }
            }
        }
    }

    func testFrozenPrefixCacheGivesIdenticalResults() throws {
        let net = network()
        let (x, labels) = randomInput(seed: 5)
        let project = arch.units.firstIndex { $0.name == "features.3.conv.2" }!
        let plan = UpdatePlan(biasUnits: [project, project + 1], weightChannels: [project: [0, 5, 9]])
        let start = plan.startBlock(arch)
        XCTAssertGreaterThan(start, 0)
        var uncached = net, cached = net
        let trainer = Trainer()
        let features = ForwardRunner().featuresPerSample(net, input: x, batch: batch, height: size, width: size, blocks: 0..<start)
        for _ in 0..<3 {
            let full = ForwardRunner().features(uncached, input: x, batch: batch, height: size, width: size, blocks: 0..<start)
            let a = try trainer.step(&uncached, input: x, labels: labels, height: size, width: size, plan: plan, learningRate: 0.1)
            XCTAssertEqual(full.count, features.count)
            let b = try trainer.step(&cached, input: features, inputBlock: start, labels: labels, height: size, width: size, plan: plan, learningRate: 0.1)
            XCTAssertEqual(a, b)
        }
        XCTAssertTrue(uncached == cached, "caching the frozen prefix must not change a single bit")
        XCTAssertTrue(uncached != net)
    }
}
