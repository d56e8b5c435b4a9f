// `secagg-bench`: what a SecAgg+ round costs on this machine, per device and for the coordinator,
// through the real codec (see BENCHMARKS.md). Run it in release: `make bench-secagg`.
//   secagg-bench [--length L] [--devices 8,32,100] [--degree K] [--drop FRACTION]
import Federation
import Foundation

var length = 2 * 895_131   // values + counts over the DGSU candidate set of Lite0 at 64×64, 256 KB
var devices = [8, 32, 100]
var degree = 8
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
print("n     k   t   b   uplink/device  of which masked  downlink/device  plain f32 UPDATE  client s (adv/deal/mask/unmask)    coordinator s  exact")
for n in devices {
    let k = min(degree, n - 1)
    let t = k / 2 + 1
    let b = 16 + (64 - UInt64(n - 1).leadingZeroBitCount)
    let c: SecAggRoundCost
    do {
        c = try SecAggRoundCost.measure(devices: n, degree: k, threshold: t, length: length, ringBits: min(32, b), dropped: Int(Double(n) * drop))
    } catch {
        print("\(n)     \(k)   \(t)   round refused: \(error)")
        continue
    }
    func mb(_ x: Double) -> String { String(format: "%.2f MB", x / 1_048_576) }
    print(String(format: "%-5d %-3d %-3d %-3d %-14@ %-16@ %-16@ %-17@ %@    %-14.2f %@",
                 n, c.degree, t, c.ringBits, mb(c.uplinkPerDevice) as NSString, mb(c.maskedPerDevice) as NSString,
                 String(format: "%.1f KB", c.downlinkPerDevice / 1024) as NSString, mb(Double(c.plainUpdateBytes)) as NSString,
                 c.clientSeconds.map { String(format: "%.3f", $0) }.joined(separator: "/") as NSString, c.serverSeconds, (c.exact ? "yes" : "NO") as NSString))
}
