// `node bench`: the scale benchmark of issue 7 — N virtual devices in this one process train
// rounds of DGSU tasks one after another (as `node run` does), with no network; prints
// simulated device-steps per second, time per round and resident memory per virtual device.
import ArgumentParser
import Engine
import Federation
import Foundation
import Wire

struct BenchCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bench",
        abstract: "Scale benchmark: N virtual devices in one process, device-steps/s, time per round, RSS per device.",
        discussion: """
        Example (release build):
          node bench --devices 8 --rounds 2
        EfficientNet-Lite0 (pretrained weights from `make weights`) at 64x64 on synthetic images, DGSU within --budget (default 256 KB),
        batch 8, 20 local steps per device per round. The first round includes building each device's frozen-prefix cache.
        """)

    @Option(help: "Virtual devices hosted by this process.")
    var devices: Int = 8

    @Option(help: "Rounds (every device trains one task per round).")
    var rounds: Int = 2

    @Option(help: "Local steps per task.")
    var steps: Int = 20

    @Option(help: "Batch size.")
    var batch: Int = 8

    @Option(help: "SRAM budget of every device, e.g. 256KB or 1MB. At batch 8 a 256 KB plan has room for biases only; 1MB lets DGSU train weight channels.")
    var budget: ByteSizeArgument = ByteSizeArgument(argument: "256KB")!

    @Option(help: "Training images per device (synthetic).")
    var samplesPerDevice: Int = 100

    @Option(help: "How the devices compute: int8 (the integer device, QAS updates) or fp32.")
    var precision: Precision = .int8

    @Option(help: "Also write the layout the devices train (convs by name, input channels per step) and the figures as JSON here (read by tools/bench_flower.py and tools/bench-fleet.sh).")
    var json: String? = nil

    func validate() throws {
        if devices < 1 || rounds < 1 || steps < 1 || batch < 1 || samplesPerDevice < batch {
            throw ValidationError("--devices, --rounds, --steps and --batch must be at least 1, --samples-per-device at least --batch")
        }
    }

    /// Resident set size of this process, bytes.
    static func rss() -> Int { ProcessMemory.residentBytes() }

    func run() throws {
        var c = FederationConfig()
        c.model.name = .efficientNetLite0
        c.model.resolution = 64
        c.dataset.name = .synthetic
        c.dataset.syntheticCount = Int(Double(devices * samplesPerDevice) / (1 - c.personalisation.testFraction)) + 10
        c.partition.kind = "iid"
        c.deviceDefaults.batch = batch
        c.deviceDefaults.localSteps = steps
        c.deviceDefaults.policy = .dgsu
        c.deviceDefaults.budget = budget.bytes
        c.deviceDefaults.memory.precision = precision
        c.devices = (0..<devices).map { DeviceConfig(id: "dev-\($0)") }
        try c.validate()
        let train = try FederatedData.trainingSet(c)
        let arch = DevicePlans.architecture(c, classes: train.classes)
        let net = try DevicePlans.initialModel(c, classes: train.classes)
        let shards = try FederatedData.shards(c, labels: train.labels, classes: train.classes)
        let base = Self.rss(), baseHeap = ProcessMemory.heapInUseBytes()
        var hosted: [VirtualDevice] = []
        for (i, d) in c.resolvedDevices.enumerated() {
            hosted.append(try VirtualDevice(settings: d, index: i, shard: shards[d.id]!, train: train, config: c, arch: arch, deployment: net))
        }
        let layout = hosted.first.map { "\($0.layout.biasUnits.count) bias units, \($0.layout.weightChannels.count) weight layers" } ?? ""
        print("devices \(devices), EfficientNet-Lite0 64x64, \(precision.rawValue), DGSU \(ByteSize.format(budget.bytes)) (\(layout)), batch \(batch), \(steps) local steps; RSS with model and data: \(base / 1_048_576) MiB")
        var total = 0.0, totalCPU = 0.0, roundSeconds: [Double] = []
        for r in 1...rounds {
            let start = Date(), startCPU = ProcessCPUTime.seconds()
            for d in hosted {
                var t = PBTask()
                t.round = UInt64(r); t.deviceID = d.id; t.modelVersion = 1; t.localSteps = UInt32(steps)
                t.learningRate = 0.05; t.batchSize = UInt32(batch)
                _ = try d.run(task: t, global: net, version: 1)
            }
            let s = Date().timeIntervalSince(start), cpu = ProcessCPUTime.seconds() - startCPU
            roundSeconds.append(s)
            if r > 1 { total += s; totalCPU += cpu }
            let perDevice = Double(Self.rss() - base) / Double(devices)
            let heapPerDevice = Double(ProcessMemory.heapInUseBytes() - baseHeap) / Double(devices)
            print(String(format: "round %d: %.2f s (CPU %.2f s), %.1f device-steps/s, RSS %d MiB, %.2f MB per virtual device beyond the shared model and data (heap in use %.3f MB)",
                         r, s, cpu, Double(devices * steps) / s, Self.rss() / 1_048_576, perDevice / 1_000_000, heapPerDevice / 1_000_000))
        }
        let tail = hosted.first.map { TailFlops(arch: arch, layout: $0.layout, batch: batch, height: c.model.resolution, width: c.model.resolution) }
        var peak: Double? = nil, tailPercent: Double? = nil
        let steadyRate: Double? = rounds > 1 ? Double(devices * steps * (rounds - 1)) / total : nil
        if let rate = steadyRate {
            print(String(format: "steady state (rounds 2-%d): %.2f s per round, %.1f device-steps/s (%.1f per CPU second: on a shared machine, the figure less disturbed by other processes)",
                         rounds, total / Double(rounds - 1), rate, Double(devices * steps * (rounds - 1)) / totalCPU))
            if let tail {
                let p = SgemmPeak.measure()
                peak = p; tailPercent = 100 * tail.total * rate / 1e9 / p
                print(String(format: "tail step: %.1f MFLOP (forward %.1f, input gradients %.1f, weight gradients %.1f) × %.1f steps/s = %.2f GFLOP/s = %.1f %% of this core's sgemm peak (%.1f GFLOP/s, 512x1024x512)",
                             tail.total / 1e6, tail.forward / 1e6, tail.inputGradients / 1e6, tail.weightGradients / 1e6, rate,
                             tail.total * rate / 1e9, tailPercent!, p))
            }
        }
        if let json, let first = hosted.first {
            let report = BenchReport(layout: .init(first.layout, arch: arch), devices: devices, rounds: rounds, steps: steps, batch: batch,
                                     budget: budget.bytes, precision: precision.rawValue, roundSeconds: roundSeconds,
                                     steadyDeviceStepsPerSecond: steadyRate,
                                     rssBytes: Self.rss(), baseRSSBytes: base, tailFlops: tail?.total ?? 0, sgemmPeakGFLOPS: peak,
                                     tailPercentOfSgemmPeak: tailPercent)
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
            try encoder.encode(report).write(to: URL(fileURLWithPath: json))
            print("wrote \(json)")
        }
    }
}

/// What `node bench --json` writes: the layout by name, so another engine can train the same
/// parameters, and the figures.
struct BenchReport: Codable {
    /// The trained parameters, by conv name.
    struct Layout: Codable {
        /// Convs whose bias trains.
        var biases: [String]
        /// Convs whose weight trains → (input channels trained per step, input channels).
        var weights: [String: [Int]]
        /// Whether the classifier trains.
        var classifier: Bool

        init(_ l: SparseLayout, arch: Architecture) {
            biases = l.biasUnits.map { arch.units[$0].name }
            weights = Dictionary(uniqueKeysWithValues: l.weightChannels.map { (arch.units[$0.key].name, [$0.value, arch.units[$0.key].inChannels]) })
            classifier = l.trainClassifier
        }
    }
    var layout: Layout
    var devices, rounds, steps, batch, budget: Int
    var precision: String
    var roundSeconds: [Double]
    var steadyDeviceStepsPerSecond: Double?
    var rssBytes, baseRSSBytes: Int
    var tailFlops: Double
    var sgemmPeakGFLOPS, tailPercentOfSgemmPeak: Double?
}
