import XCTest
@testable import Engine

/// The int8 device's training: QAS updates, the integer step against the fp32 step on the same
/// real-valued network, and its memory against the planner.
final class QuantizedTrainingTests: XCTestCase {
    let size = 16

    func setup(seed: UInt64 = 2) -> (Network, QuantizedNetwork, [Float], [Int32]) {
        let arch = MobileNetV2.tiny()
        let net = Network(arch: arch, seed: seed).folded()
        var rng = SplitMix64(seed: seed + 1)
        let x = (0..<3 * 4 * size * size).map { _ in rng.nextFloat(in: -1...1) }
        let labels: [Int32] = [0, 1, 2, 3].map { $0 % Int32(arch.classes) }
        let q = QuantizedNetwork(net, scales: ActivationScales.calibrate(net, images: x, batch: 4, height: size, width: size))
        return (net, q, x, labels)
    }

    func plan(_ arch: Architecture) -> UpdatePlan {
        let n = arch.units.count
        return UpdatePlan(biasUnits: Set((n - 4)..<n), weightChannels: [n - 1: [0, 3, 5], n - 2: [1, 2], n - 4: [0, 1, 2, 3, 4, 5, 6, 7]],
                          trainClassifier: true)
    }

    /// Nearest rounding: the int8 weight after a QAS step is the int8 of the fp32 SGD step on the
    /// real weight, s_W·W̄ − η·∂L/∂W: QAS makes int8 SGD the requantised fp32 SGD, exactly.
    func testQASStepIsTheRequantisedFP32Step() {
        var rng = SplitMix64(seed: 9)
        let rows = 6, per = 20
        var w = (0..<rows * per).map { _ in Int8(Int(rng.next() % 255) - 127) }
        let scales = (0..<rows).map { _ in rng.nextFloat(in: 0.001...0.05) }
        let g = (0..<rows * per).map { _ in rng.nextFloat(in: -2...2) }
        let lr: Float = 0.003
        let before = w
        var master: [Float]? = nil
        g.withUnsafeBufferPointer {
            QASUpdate.weights(&w, scales: scales, perRow: per, rows: nil, offsets: Array(0..<per), gradient: $0.baseAddress!, learningRate: lr,
                              rounding: QASRounding(seed: nil), tensor: 0, master: &master)
        }
        var moved = 0
        for i in w.indices {
            let s = Double(scales[i / per])
            let sgd = s * Double(before[i]) - Double(lr) * Double(g[i])
            XCTAssertEqual(Double(w[i]), max(-127, min(127, (sgd / s).rounded())), "element \(i)")
            if w[i] != before[i] { moved += 1 }
        }
        XCTAssertGreaterThan(moved, 0)
    }

    /// Stochastic rounding is unbiased: over many seeds the mean int8 update is −η·G/s_W, and it
    /// moves weights whose update is far below half a step (which nearest rounding drops).
    func testStochasticRoundingIsUnbiased() {
        let lr: Float = 1, s: Float = 0.01
        let g: [Float] = [0.001, -0.0023, 0.0049]  // updates of 0.1, −0.23, 0.49 steps
        var sums = [Double](repeating: 0, count: 3)
        let trials = 4000
        for t in 0..<trials {
            var w: [Int8] = [0, 0, 0]
            var master: [Float]? = nil
            g.withUnsafeBufferPointer {
                QASUpdate.weights(&w, scales: [s], perRow: 3, rows: nil, offsets: [0, 1, 2], gradient: $0.baseAddress!, learningRate: lr,
                                  rounding: QASRounding(seed: UInt64(t) &* 7919), tensor: 3, master: &master)
            }
            for i in 0..<3 { sums[i] += Double(w[i]) }
        }
        for i in 0..<3 {
            let want = -Double(lr * g[i] / s)
            let sd = (abs(want) * (1 - abs(want)) / Double(trials)).squareRoot()
            XCTAssertEqual(sums[i] / Double(trials), want, accuracy: 5 * sd, "element \(i)")
        }
        var w: [Int8] = [0, 0, 0]
        var master: [Float]? = nil
        g.withUnsafeBufferPointer {
            QASUpdate.weights(&w, scales: [s], perRow: 3, rows: nil, offsets: [0, 1, 2], gradient: $0.baseAddress!, learningRate: lr,
                              rounding: QASRounding(seed: nil), tensor: 3, master: &master)
        }
        XCTAssertEqual(w, [0, 0, 0], "nearest rounding drops updates below half a step")
    }

    /// The int8 step's real-valued gradients (read from fp32 master copies: master −= η·G) point
    /// the same way as the fp32 trainer's on the dequantised network; they differ only by the
    /// activations' quantisation error.
    func testInt8GradientsAgreeWithFP32OnTheDequantisedNetwork() throws {
        let (_, q0, x, labels) = setup()
        let arch = q0.arch
        let p = plan(arch)
        var q = q0
        let real = q0.dequantized()
        for u in p.weightChannels.keys { q.masters[u] = real.units[u].weight }
        q.masters[q.classifierIndex] = real.classifierWeight
        let lr: Float = 0.01
        let result = try QuantizedTrainer().step(&q, input: q.quantiseInput(x, block: 0), labels: labels, height: size, width: size, plan: p,
                                             learningRates: LearningRates(lr), rounding: QASRounding(seed: nil))
        var fp = real
        let fpResult = try Trainer().step(&fp, input: x, labels: labels, height: size, width: size, plan: p, learningRate: lr)
        XCTAssertEqual(result.loss, fpResult.loss, accuracy: 0.05 * fpResult.loss)
        func norm(_ a: [Float]) -> Double { a.reduce(0.0) { $0 + Double($1) * Double($1) }.squareRoot() }
        func cosine(_ a: [Float], _ b: [Float]) -> Double {
            let dot = zip(a, b).reduce(0.0) { $0 + Double($1.0) * Double($1.1) }
            let na = a.reduce(0.0) { $0 + Double($1) * Double($1) }.squareRoot(), nb = b.reduce(0.0) { $0 + Double($1) * Double($1) }.squareRoot()
            return dot / max(na * nb, 1e-30)
        }
        for u in p.weightChannels.keys.sorted() {
            let gi = zip(real.units[u].weight, q.masters[u]!).map { ($0 - $1) / lr }
            let gf = zip(real.units[u].weight, fp.units[u].weight).map { ($0 - $1) / lr }
            XCTAssertGreaterThan(cosine(gi, gf), 0.97, "unit \(u) weight gradient")
            XCTAssertEqual(norm(gi) / norm(gf), 1, accuracy: 0.1, "unit \(u) weight gradient magnitude")
            let norms = result.feedback.channelGradientNorms[u]!, fpNorms = fpResult.feedback.channelGradientNorms[u]!
            XCTAssertGreaterThan(cosine(norms, fpNorms), 0.97)
        }
        let gc = zip(real.classifierWeight, q.masters[q.classifierIndex]!).map { ($0 - $1) / lr }
        let gcf = zip(real.classifierWeight, fp.classifierWeight).map { ($0 - $1) / lr }
        XCTAssertGreaterThan(cosine(gc, gcf), 0.99, "classifier gradient")
        // Biases: int32 at a fine scale, so the dequantised change is the fp32 change closely.
        for u in p.biasUnits.sorted() {
            let after = q.dequantized().units[u].bias
            let gi = zip(real.units[u].bias, after).map { ($0 - $1) / lr }
            let gf = zip(real.units[u].bias, fp.units[u].bias).map { ($0 - $1) / lr }
            // The last ReLU6's mask differs where int8 rounds a small positive value to 0, and a
            // bias gradient sums every position, so it agrees less closely than the weights'.
            XCTAssertGreaterThan(cosine(gi, gf), 0.9, "unit \(u) bias gradient")
            XCTAssertEqual(norm(gi) / norm(gf), 1, accuracy: 0.15, "unit \(u) bias gradient magnitude (the QAS scaling)")
        }
    }

    /// Only the plan's channels, biases and the classifier change; everything else stays bitwise.
    func testStepTouchesOnlyThePlan() throws {
        let (_, q0, x, labels) = setup()
        var q = q0
        let p = plan(q0.arch)
        try QuantizedTrainer().step(&q, input: q.quantiseInput(x, block: 0), labels: labels, height: size, width: size, plan: p,
                                learningRates: LearningRates(0.5), rounding: QASRounding(seed: 1))
        for u in q0.arch.units.indices {
            XCTAssertEqual(q.units[u].multipliers, q0.units[u].multipliers)
            if !p.biasUnits.contains(u) { XCTAssertEqual(q.units[u].bias, q0.units[u].bias, "unit \(u) bias") }
            let spec = q0.arch.units[u], taps = spec.kernel * spec.kernel
            let chans = Set((p.weightChannels[u] ?? []).map(Int.init))
            var changed = 0
            for i in q0.units[u].weight.indices where q.units[u].weight[i] != q0.units[u].weight[i] {
                let c = spec.isDepthwise ? i / taps : (i / taps) % (spec.inChannels / spec.groups)
                XCTAssertTrue(chans.contains(c), "unit \(u) changed weight \(i) of channel \(c) outside the plan")
                changed += 1
            }
            if !chans.isEmpty { XCTAssertGreaterThan(changed, 0, "unit \(u) trained") }
        }
        XCTAssertNotEqual(q.classifierWeight, q0.classifierWeight)
    }

    /// Int8 training learns: the loss on a fixed batch falls over steps.
    func testInt8TrainingLowersTheLoss() throws {
        let (_, q0, x, labels) = setup(seed: 5)
        var q = q0
        let p = plan(q0.arch)
        let trainer = QuantizedTrainer()
        let input = q.quantiseInput(x, block: 0)
        let first = try trainer.step(&q, input: input, labels: labels, height: size, width: size, plan: p,
                                 learningRates: LearningRates(head: 0.2, bias: 0.05, weights: 0.05), rounding: QASRounding(seed: 0)).loss
        var last = first
        for s in 1..<40 {
            last = try trainer.step(&q, input: input, labels: labels, height: size, width: size, plan: p,
                                learningRates: LearningRates(head: 0.2, bias: 0.05, weights: 0.05), rounding: QASRounding(seed: UInt64(s))).loss
        }
        XCTAssertLessThan(last, 0.5 * first, "loss \(first) → \(last)")
    }
}
