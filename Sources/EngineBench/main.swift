// `engine-bench`: speed of the training engine on this machine (see BENCHMARKS.md).
// Prints ms per forward pass and per sparse training step, GFLOP/s of the pointwise convs,
// and the machine's single-thread sgemm peak. Run it in release: `swift run -c release engine-bench`.
import CKernels
import Engine
import Foundation

/// Median wall time in milliseconds of `body` over `runs` runs after `warmup` runs.
func medianMs(runs: Int, warmup: Int = 3, _ body: () -> Void) -> Double {
    for _ in 0..<warmup { body() }
    var times: [Double] = []
    for _ in 0..<runs {
        let t0 = DispatchTime.now().uptimeNanoseconds
        body()
        times.append(Double(DispatchTime.now().uptimeNanoseconds - t0) / 1e6)
    }
    return times.sorted()[times.count / 2]
}

/// The benchmark's sparse step, the same layers as tools/bench_pytorch.py: the classifier, the
/// biases of every conv in the last 4 inverted-residual blocks and the head, and the weights of
/// the 1×1 convs of the last 2 blocks for a fraction `ratio` of their input channels.
func benchmarkPlan(_ arch: Architecture, ratio: Double) -> UpdatePlan {
    let blocks = arch.blocks
    let head = blocks.count - 1
    var bias = Set<Int>(blocks[head].units)
    for b in (head - 4)..<head { bias.formUnion(blocks[b].units) }
    var weights: [Int: [Int32]] = [:]
    for b in (head - 2)..<head {
        for u in blocks[b].units where arch.units[u].isPointwise {
            let k = max(1, Int((Double(arch.units[u].inChannels) * ratio).rounded()))
            weights[u] = (0..<Int32(k)).map { $0 }
        }
    }
    return UpdatePlan(biasUnits: bias, weightChannels: weights, trainClassifier: true)
}

/// Runs a subcommand; an error (a layout that does not fit, a bad option value) ends it with its
/// message and status 1, not a crash report.
func exitOnError(_ body: () throws -> Void) -> Never {
    do {
        try body()
        exit(0)
    } catch {
        FileHandle.standardError.write("engine-bench: \(error)\n".data(using: .utf8)!)
        exit(1)
    }
}

if CommandLine.arguments.dropFirst().first == "int8" {
    Arguments.check(Array(CommandLine.arguments.dropFirst(2)), command: "int8")
    exitOnError { try Int8Check.run(arguments: Array(CommandLine.arguments.dropFirst(2))) }
}
if CommandLine.arguments.dropFirst().first == "results" {
    Arguments.check(Array(CommandLine.arguments.dropFirst(2)), command: "results")
    exitOnError { try ResultsTable.run(arguments: Array(CommandLine.arguments.dropFirst(2))) }
}
Arguments.check(Array(CommandLine.arguments.dropFirst()), command: "")

let quick = CommandLine.arguments.contains("--quick")
let runs = quick ? 5 : 30
print("engine-bench — OpenBLAS \(BLAS.coreName), \(BLAS.threads) BLAS thread(s), \(runs) runs per figure (median)")

// 1. sgemm peak at a pointwise-conv-like shape.
print(String(format: "sgemm peak 512x1024x512: %.1f GFLOP/s", SgemmPeak.measure(runs: runs)))

let models: [(String, Architecture, Int)] = [
    ("EfficientNet-Lite0", EfficientNetLite.lite0(classes: 10), 64),
    ("EfficientNet-Lite0", EfficientNetLite.lite0(classes: 10), 128),
    ("MobileNetV2-w0.35", MobileNetV2.architecture(classes: 10, width: 0.35), 128),
]
print("")
print("| model | input | batch | forward ms | sparse step ms (25 % channels) | step ms (all channels) | pointwise GFLOP/s |")
print("| --- | --- | --- | --- | --- | --- | --- |")
for (name, arch, size) in models {
    let net = Network(arch: arch, seed: 1).folded()
    for batch in [1, 8] {
        var rng = SplitMix64(seed: 2)
        let x = (0..<3 * batch * size * size).map { _ in rng.nextFloat(in: -1...1) }
        let labels = (0..<batch).map { Int32($0 % 10) }
        let runner = ForwardRunner()
        let fwd = medianMs(runs: runs) { _ = runner.logits(net, input: x, batch: batch, height: size, width: size) }
        let trainer = Trainer()
        trainer.frontPerSample = false  // batched front, like PyTorch's step
        var trained = net
        let sparse = benchmarkPlan(arch, ratio: 0.25), full = benchmarkPlan(arch, ratio: 1)
        let stepSparse = medianMs(runs: runs) {  // unbudgeted: the step cannot be refused
            _ = try! trainer.step(&trained, input: x, labels: labels, height: size, width: size, plan: sparse, learningRate: 1e-4)
        }
        let stepFull = medianMs(runs: runs) {
            _ = try! trainer.step(&trained, input: x, labels: labels, height: size, width: size, plan: full, learningRate: 1e-4)
        }
        // Pointwise convs alone: time each 1×1 conv's forward GEMM.
        let geos = arch.geometries(batch: batch, height: size, width: size)
        var flops = 0.0, ms = 0.0
        let ws = Workspace()
        for (u, spec) in arch.units.enumerated() where spec.isPointwise {
            let g = geos[u]
            let input = [Float](repeating: 0.1, count: g.inputCount)
            var out = [Float](repeating: 0, count: g.outputCount)
            let w = net.units[u].weight, b = net.units[u].bias
            ms += medianMs(runs: max(5, runs / 3)) { Conv2D.forward(y: &out, x: input, weight: w, bias: b, g: g, ws: ws) }
            flops += 2.0 * Double(g.macs)
        }
        print(String(format: "| %@ | %d | %d | %.2f | %.2f | %.2f | %.1f |", name, size, batch, fwd, stepSparse, stepFull, flops / ms / 1e6))
    }
}

// The int8 GEMM at the int8 device's pointwise shapes (m = out channels, n = pixels × batch, k = in
// channels): the Swift loop against AVX-512 VNNI, where the CPU has it.
print("")
print("int8 GEMM kernel in use: \(Int8Kernels.gemmKernel)")
print("| m | n | k | portable µs | portable GOP/s | vnni µs | vnni GOP/s | speed-up |")
print("| --- | --- | --- | --- | --- | --- | --- | --- |")
for (m, n, k) in [(1152, 4, 192), (192, 4, 1152), (1280, 4, 320), (1152, 32, 192), (192, 32, 1152), (96, 1024, 16), (144, 256, 24), (10, 1, 1280)] {
    var rng = SplitMix64(seed: 3)
    let a = (0..<m * k).map { _ in Int8(truncatingIfNeeded: rng.next()) }, b = (0..<k * n).map { _ in Int8(truncatingIfNeeded: rng.next()) }
    var c = [Int32](repeating: 0, count: m * n)
    let ws = Int8Workspace()
    let reps = max(1, 2_000_000 / (m * n * k))
    func time(_ kernel: (Int, Int, Int, UnsafePointer<Int8>, UnsafePointer<Int8>, UnsafeMutablePointer<Int32>, Int8Workspace) -> Void) -> Double {
        medianMs(runs: max(5, runs)) {
            a.withUnsafeBufferPointer { ab in b.withUnsafeBufferPointer { bb in c.withUnsafeMutableBufferPointer { cb in
                for _ in 0..<reps { kernel(m, n, k, ab.baseAddress!, bb.baseAddress!, cb.baseAddress!, ws) }
            } } }
        } / Double(reps)
    }
    let portable = time { Int8Kernels.gemmPortable(m: $0, n: $1, k: $2, a: $3, b: $4, c: $5, ws: $6) }
    let ops = 2.0 * Double(m * n * k)
    if Int8Kernels.cpuHasVNNI {
        let vnni = time { Int8Kernels.gemmVNNI(m: $0, n: $1, k: $2, a: $3, b: $4, c: $5, ws: $6) }
        print(String(format: "| %d | %d | %d | %.1f | %.1f | %.1f | %.1f | %.1f× |", m, n, k, portable * 1000, ops / portable / 1e6, vnni * 1000, ops / vnni / 1e6, portable / vnni))
    } else {
        print(String(format: "| %d | %d | %d | %.1f | %.1f | – | – | – |", m, n, k, portable * 1000, ops / portable / 1e6))
    }
}

if CommandLine.arguments.contains("--gemm-shapes") {
    // The 1×1 convs of the trainable tail (EfficientNet-Lite0 at 64×64: 2×2 and 4×4 planes at batch 1
    // and 8, so 4 to 128 columns): OpenBLAS against the unpacked AVX-512 kernels (`Kernels`).
    print("")
    print("fp32 GEMMs of the tail's 1×1 convs, GFLOP/s (AVX-512 kernels: \(Kernels.cpuHasAVX512 ? "available" : "not on this CPU"))")
    print("| out ch × in ch × columns | OpenBLAS y = W·x | AVX-512 y = W·x | OpenBLAS dx = Wᵀ·dy | AVX-512 dx = Wᵀ·dy | AVX-512 dx from int8 W |")
    print("| --- | --- | --- | --- | --- | --- |")
    for (m, k, n) in [(1152, 192, 4), (192, 1152, 4), (1280, 320, 4), (1152, 192, 32), (192, 1152, 32), (320, 1152, 32), (1280, 320, 32), (1152, 192, 128), (672, 112, 256)] {
        var rng = SplitMix64(seed: 1)
        let w = (0..<(m * k)).map { _ in rng.nextFloat(in: -1...1) }, x = (0..<(k * n)).map { _ in rng.nextFloat(in: -1...1) }
        let dy = (0..<(m * n)).map { _ in rng.nextFloat(in: -1...1) }
        let q = (0..<(m * k)).map { _ in Int8(Int(rng.next() % 255) - 127) }, scales = [Float](repeating: 0.01, count: m)
        var y = [Float](repeating: 0, count: m * n), dx = [Float](repeating: 0, count: k * n)
        let flop = 2.0 * Double(m * n * k)
        func rate(_ body: () -> Void) -> Double { flop / medianMs(runs: 100, body) / 1e6 }
        let blasF = rate { BLAS.sgemm(m: m, n: n, k: k, a: w, lda: k, b: x, ldb: n, c: &y, ldc: n) }
        let blasB = rate { BLAS.sgemm(transA: true, m: k, n: n, k: m, a: w, lda: k, b: dy, ldb: n, c: &dx, ldc: n) }
        guard Kernels.cpuHasAVX512 else {
            print(String(format: "| %d × %d × %d | %.1f | – | %.1f | – | – |", m, k, n, blasF, blasB))
            continue
        }
        let f = rate { sf_sgemm_nn(m, k, n, w, x, &y) }, b = rate { sf_sgemm_tn(m, k, n, w, dy, &dx) }, b8 = rate { sf_sgemm_tn_i8(m, k, n, q, scales, dy, &dx) }
        print(String(format: "| %d × %d × %d | %.1f | %.1f | %.1f | %.1f | %.1f |", m, k, n, blasF, f, blasB, b, b8))
    }
}
