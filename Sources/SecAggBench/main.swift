// `secagg-bench`: what a SecAgg+ round costs on this machine, per device and for the coordinator,
// through the real codec, for each secure-aggregation mode on the quickstart's devices
// (EfficientNet-Lite0 at 64×64, 256 KB, DGSU; see BENCHMARKS.md). The coordinator's real round
// plan (SecureRoundPlan) sets the graph, the vector lengths and the dealt blocks; the inputs are
// random ring elements. Run it in release: `make bench-secagg`.
//   secagg-bench [--devices 8,32,100] [--modes candidates,dealt,dealt+dgsu] [--drop 0.1]
import Engine
import Federation
import Foundation
import Wire

var devices = [8, 32, 100]
var modes: [SecureAggregationMode] = [.candidates, .dealt, .dealtDGSU]
var drop = 0.1
/// Share of the candidate coordinates a plain DGSU UPDATE carries (measured: the quickstart's mean
/// UPDATE, 1,390,930 B, over 895,131 candidates × 4 B).
var plainFraction = 0.388
var args = Array(CommandLine.arguments.dropFirst())
func fail(_ why: String) -> Never {
    FileHandle.standardError.write(Data("secagg-bench: \(why)\nusage: secagg-bench [--devices 8,32,100] [--modes candidates,dealt,dealt+dgsu] [--drop 0.1]\n".utf8))
    exit(2)
}
while !args.isEmpty {
    let flag = args.removeFirst()
    if flag == "--help" || flag == "-h" { fail("measures one secure round per mode and fleet size") }
    guard let value = args.first else { fail("\(flag) needs a value") }
    args.removeFirst()
    switch flag {
    case "--devices":
        let list = value.split(separator: ",").compactMap { Int($0) }
        guard !list.isEmpty, list.allSatisfy({ $0 >= 3 }) else { fail("--devices must list counts ≥ 3") }
        devices = list
    case "--modes":
        let list = value.split(separator: ",").map { SecureAggregationMode(rawValue: String($0)) }
        guard !list.isEmpty, list.allSatisfy({ $0 != nil && $0 != .off }) else { fail("--modes lists candidates, dealt and dealt+dgsu") }
        modes = list.map { $0! }
    case "--drop": guard let v = Double(value), (0..<0.5).contains(v) else { fail("--drop must be in [0, 0.5)") }; drop = v
    case "--plain-fraction": guard let v = Double(value), v > 0, v <= 1 else { fail("--plain-fraction must be in (0, 1]") }; plainFraction = v
    default: fail("unknown option \(flag)")
    }
}

/// The quickstart's devices, `n` of them, under `mode`.
func config(_ n: Int, _ mode: SecureAggregationMode) -> FederationConfig {
    var c = FederationConfig()
    c.model.name = .efficientNetLite0
    c.model.resolution = 64
    c.deviceDefaults.budget = 256 * 1024
    c.deviceDefaults.policy = .dgsu
    c.deviceDefaults.batch = 4
    c.devices = (0..<n).map { DeviceConfig(id: String(format: "dev-%03d", $0)) }
    c.secureAggregation.mode = mode
    return c
}

let arch = DevicePlans.architecture(config(3, .candidates), classes: 10)
let schema = ModelTensors.schema(arch)
let device = config(3, .candidates).resolvedDevices[0]
let layout: SparseLayout
do { layout = try DevicePlans.layout(device, arch: arch, resolution: 64) } catch { fail("the 256 KB layout does not fit: \(error)") }
print("SecAgg+ round per mode on the quickstart's devices (EfficientNet-Lite0 64×64, 256 KB, DGSU); \(Int(100 * drop)) % of devices drop after dealing")
let columns = ["mode", "n", "k", "t", "b", "masked/device", "MASKED msg", "uplink/device", "f32 same coords", "client s mask", "coordinator s", "left out", "exact"]
let widths = [11, 4, 3, 3, 3, 14, 11, 14, 16, 14, 14, 9, 5]
func row(_ cells: [String]) -> String { zip(cells, widths).map { $0.padding(toLength: max($1, $0.count), withPad: " ", startingAt: 0) }.joined(separator: " ") }
print(row(columns))

/// Plain aggregation for comparison: n sparse UPDATEs of `plainFraction` of each candidate
/// tensor's channels (random per device), through the codec, then the per-coordinate mean.
func plain(_ n: Int) throws {
    let c = config(n, .candidates)
    let candidates = c.personalisation.sharedTensors(layout, arch: arch).sorted().map { schema.tensors[$0] }
    var rng = SystemRandomNumberGenerator()
    let codec = WireCodec()
    var bytes = 0, results: [DeviceResult] = []
    for i in 0..<n {
        let tensors = candidates.map { spec -> TensorDelta in
            let k = max(1, Int((plainFraction * Double(spec.channelCount)).rounded()))
            let chans = Array(Array(0..<spec.channelCount).shuffled(using: &rng).prefix(k)).sorted()
            let selection: ChannelSelection = k == spec.channelCount ? .all : .subset(chans)
            return TensorDelta(name: spec.name, channels: selection, values: (0..<(spec.outer * k * spec.inner)).map { _ in Float.random(in: -0.01...0.01, using: &rng) })
        }
        let u = UpdateMessage(deviceID: "dev-\(i)", round: 1, baseModelVersion: 1, sampleCount: 1_200, delta: SparseDelta(tensors))
        let frames = try codec.encode(.update(u), schema: schema)
        bytes += frames.reduce(0) { $0 + $1.count }
        guard case let .update(back) = try codec.decode(frames, schema: schema) else { fail("UPDATE did not decode") }
        results.append(DeviceResult(deviceID: back.deviceID, sampleCount: 1_200, baseVersion: 1, delta: back.delta))
    }
    let model = schema.tensors.map { [Float](repeating: 0, count: $0.elementCount) }
    let t0 = DispatchTime.now().uptimeNanoseconds
    _ = WeightedMeanRule().aggregate(AggregationInput(round: 1, schema: schema, model: model, results: results))
    let seconds = Double(DispatchTime.now().uptimeNanoseconds - t0) / 1e9
    print(row(["plain", "\(n)", "-", "-", "-", "-", "-", String(format: "%.2f MB", Double(bytes) / Double(n) / 1_048_576), "-", "-", String(format: "%.2f", seconds), "-", "-"]))
}
for n in devices {
    do { try plain(n) } catch { print(row(["plain", "\(n)"]) + " failed: \(error)") }
}
for mode in modes {
    for n in devices {
        let c = config(n, mode)
        let ids = c.devices.map(\.id)
        let plan: SecureRoundPlan
        let cost: SecAggRoundCost
        do {
            plan = try SecureRoundPlan.make(round: 1, sampled: ids, config: c, layouts: Dictionary(uniqueKeysWithValues: ids.map { ($0, layout) }),
                                            weights: Dictionary(uniqueKeysWithValues: ids.map { ($0, UInt64(1_200)) }), arch: arch, schema: schema,
                                            noiseMultiplier: 0)
            cost = try SecAggRoundCost.measure(plan: plan, dropped: Int(Double(n) * drop))
        } catch {
            print(row([mode.rawValue, "\(n)"]) + " round refused: \(error)")
            continue
        }
        let perDevice = Double(ids.compactMap { plan.length(of: $0) }.reduce(0, +)) / Double(n)
        func mb(_ x: Double) -> String { String(format: "%.2f MB", x / 1_048_576) }
        print(row([mode.rawValue, "\(n)", "\(cost.degree)", "\(cost.threshold)", "\(cost.ringBits)", String(format: "%.0f", perDevice),
                   mb(cost.maskedPerDevice), mb(cost.uplinkPerDevice), mb(Double(cost.plainUpdateBytes)),
                   String(format: "%.3f", cost.clientSeconds[2]), String(format: "%.2f", cost.serverSeconds), "\(cost.leftOut)", cost.exact ? "yes" : "NO"]))
    }
}
print("masked/device: ring elements a device masks (values, then one count per channel); uplink/device: all four phases, mean over n;")
print("f32 same coords: a plain f32 UPDATE of as many values; client s mask: per device; coordinator s: relaying, checking and unmasking;")
print("left out: survivors of groups that lost more than g − 1 − t members (their group's sum is not unmasked; the others are)")
