// `secagg-bench`: what a SecAgg+ round costs on this machine, per device and for the coordinator,
// through the real codec (see BENCHMARKS.md). Run it in release: `make bench-secagg`.
//   secagg-bench [--length L] [--devices 8,32,100] [--degree K] [--drop FRACTION]
import Federation
import Foundation

var length = 2 * 895_131   // values + counts over the DGSU candidate set of Lite0 at 64×64, 256 KB
var devices = [8, 32, 100]
var degree: Int? = nil   // default: 2⌈log2 n⌉, the O(log n) neighbourhood of SecAgg+
var drop = 0.1
var args = Array(CommandLine.arguments.dropFirst())
func fail(_ why: String) -> Never {
    FileHandle.standardError.write(Data("secagg-bench: \(why)\nusage: secagg-bench [--length L] [--devices 8,32,100] [--degree K (even)] [--drop 0.1]\n".utf8))
    exit(2)
}
while !args.isEmpty {
    let flag = args.removeFirst()
    guard let value = args.first else { fail("\(flag) needs a value") }
    args.removeFirst()
    switch flag {
    case "--length": guard let v = Int(value), v > 0 else { fail("--length must be a positive integer") }; length = v
    case "--devices": let list = value.split(separator: ",").compactMap { Int($0) }; guard !list.isEmpty, list.allSatisfy({ $0 >= 3 }) else { fail("--devices must list counts ≥ 3") }; devices = list
    case "--degree": guard let v = Int(value), v >= 2, v % 2 == 0 else { fail("--degree must be an even integer ≥ 2") }; degree = v
    case "--drop": guard let v = Double(value), (0..<0.5).contains(v) else { fail("--drop must be in [0, 0.5)") }; drop = v
    default: fail("unknown option \(flag)")
    }
}

print("SecAgg+ round, vector length \(length) (u32 ring elements), \(Int(100 * drop)) % of devices drop after dealing")
let columns = ["n", "k", "t", "b", "uplink/device", "masked msg", "downlink/device", "plain f32 UPDATE", "client s adv/deal/mask/unmask", "coordinator s", "exact"]
let widths = [5, 4, 4, 4, 14, 12, 16, 17, 30, 14, 5]
func row(_ cells: [String]) -> String { zip(cells, widths).map { $0.padding(toLength: max($1, $0.count), withPad: " ", startingAt: 0) }.joined(separator: " ") }
print(row(columns))
for n in devices {
    let k = min(degree ?? 2 * (64 - UInt64(n - 1).leadingZeroBitCount), n - 1)
    let t = k / 2 + 1
    let b = 16 + (64 - UInt64(n - 1).leadingZeroBitCount)
    let c: SecAggRoundCost
    do {
        c = try SecAggRoundCost.measure(devices: n, degree: k, threshold: t, length: length, ringBits: min(32, b), dropped: Int(Double(n) * drop))
    } catch {
        print(row(["\(n)", "\(k)", "\(t)"]) + " round refused: \(error)")
        continue
    }
    func mb(_ x: Double) -> String { String(format: "%.2f MB", x / 1_048_576) }
    print(row(["\(n)", "\(c.degree)", "\(t)", "\(c.ringBits)", mb(c.uplinkPerDevice), mb(c.maskedPerDevice),
               String(format: "%.1f KB", c.downlinkPerDevice / 1024), mb(Double(c.plainUpdateBytes)),
               c.clientSeconds.map { String(format: "%.3f", $0) }.joined(separator: "/"), String(format: "%.2f", c.serverSeconds), c.exact ? "yes" : "NO"]))
}
print("uplink/device: mean over all n (dropouts included); masked msg: one MASKED message; client s: per device and phase")
