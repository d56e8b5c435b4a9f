// Splitting a data set across devices, deterministically from a seed.
import Foundation

/// How samples are dealt to devices.
public enum Partitioning: Equatable, Sendable, Codable {
    /// Uniformly shuffled, equal shards.
    case iid
    /// Per-class proportions drawn from Dirichlet(α) per device; every shard gets at least `minShard` samples.
    case dirichlet(alpha: Double, minShard: Int)
    /// Each device sees only `k` classes.
    case classesPerDevice(Int)
}

/// Errors from partitioning.
public enum PartitionError: Error, CustomStringConvertible, Equatable {
    case impossible(String)
    public var description: String {
        switch self { case .impossible(let s): return "cannot partition: \(s)" }
    }
}

/// Deterministic partitioners.
public enum Partitioner {
    /// Index lists, one per device, over `labels`. Same seed, same shards.
    public static func split(labels: [UInt8], classes: Int, devices: Int, rule: Partitioning, seed: UInt64) throws -> [[Int]] {
        guard devices > 0 else { throw PartitionError.impossible("need at least one device") }
        var rng = SplitMix64(seed: seed)
        switch rule {
        case .iid:
            var order = Array(labels.indices)
            order.shuffle(using: &rng)
            return (0..<devices).map { d in stride(from: d, to: order.count, by: devices).map { order[$0] } }
        case let .classesPerDevice(k):
            guard k >= 1 && k <= classes else { throw PartitionError.impossible("classes per device must be in 1...\(classes), got \(k)") }
            var byClass = (0..<classes).map { c in labels.indices.filter { Int(labels[$0]) == c } }
            for c in byClass.indices { byClass[c].shuffle(using: &rng) }
            // Device d takes classes d·k, d·k+1, … (mod classes); each class is shared evenly by its holders.
            let holders = (0..<classes).map { c in (0..<devices).filter { d in (0..<k).contains { (d * k + $0) % classes == c } } }
            var shards = [[Int]](repeating: [], count: devices)
            for c in 0..<classes where !holders[c].isEmpty {
                for (j, i) in byClass[c].enumerated() { shards[holders[c][j % holders[c].count]].append(i) }
            }
            for d in shards.indices { shards[d].sort() }
            return shards
        case let .dirichlet(alpha, minShard):
            guard alpha > 0 else { throw PartitionError.impossible("Dirichlet alpha must be > 0, got \(alpha)") }
            guard minShard * devices <= labels.count else {
                throw PartitionError.impossible("\(devices) devices × min shard \(minShard) exceeds \(labels.count) samples; lower min_shard or the device count")
            }
            var byClass = (0..<classes).map { c in labels.indices.filter { Int(labels[$0]) == c } }
            // Resample until every shard reaches the minimum (the usual FL benchmark recipe).
            for _ in 0..<1000 {
                var shards = [[Int]](repeating: [], count: devices)
                for c in 0..<classes {
                    byClass[c].shuffle(using: &rng)
                    let p = dirichlet(alpha: alpha, count: devices, rng: &rng)
                    var start = 0
                    for d in 0..<devices {
                        let end = d == devices - 1 ? byClass[c].count : min(byClass[c].count, start + Int((p[d] * Double(byClass[c].count)).rounded()))
                        shards[d].append(contentsOf: byClass[c][start..<max(start, end)])
                        start = max(start, end)
                    }
                }
                if shards.allSatisfy({ $0.count >= minShard }) { return shards.map { $0.sorted() } }
            }
            throw PartitionError.impossible("no Dirichlet(\(alpha)) draw gave every device \(minShard) samples in 1000 tries; raise alpha or lower min_shard")
        }
    }

    /// One Dirichlet(α,…,α) draw via normalised Gamma(α, 1) samples.
    static func dirichlet(alpha: Double, count: Int, rng: inout SplitMix64) -> [Double] {
        let g = (0..<count).map { _ in gamma(alpha, &rng) }
        let s = g.reduce(0, +)
        return s > 0 ? g.map { $0 / s } : [Double](repeating: 1 / Double(count), count: count)
    }

    /// Gamma(shape, 1) by Marsaglia–Tsang, boosted for shape < 1.
    static func gamma(_ shape: Double, _ rng: inout SplitMix64) -> Double {
        func uniform() -> Double { (Double(rng.next() >> 11) + 0.5) / Double(1 << 53) }
        if shape < 1 { return gamma(shape + 1, &rng) * pow(uniform(), 1 / shape) }
        let d = shape - 1.0 / 3, c = 1 / (9 * d).squareRoot()
        while true {
            var x = 0.0, v = 0.0
            repeat {
                // Standard normal by Box–Muller.
                x = (-2 * log(uniform())).squareRoot() * cos(2 * .pi * uniform())
                v = 1 + c * x
            } while v <= 0
            v = v * v * v
            let u = uniform()
            if log(u) < 0.5 * x * x + d - d * v + d * log(v) { return d * v }
        }
    }
}
