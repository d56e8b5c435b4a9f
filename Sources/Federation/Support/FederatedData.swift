// The data every process derives from the configuration alone, deterministically: the training
// set's partition over all configured devices (sorted by id), each device's private split of its
// shard into training and test samples, and the global test set. A node only ever keeps the
// shards of the devices it hosts: data never leaves the node.
import Engine

/// One device's private data: indices into the (trimmed) training set.
public struct DeviceShard: Equatable, Sendable {
    /// Samples the device trains on.
    public var train: [Int]
    /// Samples held out as its private test split (same label distribution as `train`).
    public var test: [Int]
}

/// The training set the partition runs over, without its images: every sample's label, and where
/// the sample lies in the data set's training split.
public struct TrainingIndex: Sendable {
    /// Label of each training sample (the partition's input).
    public var labels: [UInt8]
    /// Row of each training sample in the data set's training split.
    public var splitRows: [Int]
    /// Classes of the data set.
    public var classes: Int
}

/// Loading and partitioning data from a configuration.
public enum FederatedData {
    /// The training set the partition runs over: the first `trainSamples` of a seeded shuffle (all when 0).
    public static func trainingSet(_ config: FederationConfig) throws -> ImageDataset {
        let full = try DatasetZoo.load(config.dataset.name, split: .train, directory: config.dataset.directory,
                                       syntheticCount: config.dataset.syntheticCount, seed: config.seed)
        let rows = sampleRows(config, splitCount: full.count)
        return rows.count == full.count ? full : full.subset(rows)  // all rows are in split order
    }

    /// `trainingSet`'s labels and split rows, reading no image (the coordinator, and a node before it
    /// knows which samples its devices hold).
    public static func trainingIndex(_ config: FederationConfig) throws -> TrainingIndex {
        let (labels, classes) = try DatasetZoo.labels(config.dataset.name, split: .train, directory: config.dataset.directory,
                                                      syntheticCount: config.dataset.syntheticCount, seed: config.seed)
        let rows = sampleRows(config, splitCount: labels.count)
        return TrainingIndex(labels: rows.map { labels[$0] }, splitRows: rows, classes: classes)
    }

    /// The images of the training samples `samples` only (indices into the training set), read as
    /// the data file streams past (Fashion-MNIST, MNIST): the data set holds them in split-row
    /// order, and `position` maps each sample to its index there.
    public static func trainingImages(_ config: FederationConfig, index: TrainingIndex, samples: Set<Int>) throws -> (data: ImageDataset, position: [Int: Int]) {
        let bySplitRow = samples.sorted { index.splitRows[$0] < index.splitRows[$1] }
        let data = try DatasetZoo.load(config.dataset.name, split: .train, directory: config.dataset.directory,
                                       rows: bySplitRow.map { index.splitRows[$0] }, syntheticCount: config.dataset.syntheticCount, seed: config.seed)
        return (data, Dictionary(uniqueKeysWithValues: bySplitRow.enumerated().map { ($1, $0) }))
    }

    /// Rows of the training split that form the training set, in its order: the first
    /// `trainSamples` of a seeded shuffle, or every row when 0 or at least the split's size.
    static func sampleRows(_ config: FederationConfig, splitCount: Int) -> [Int] {
        var order = Array(0..<splitCount)
        guard config.dataset.trainSamples > 0, config.dataset.trainSamples < splitCount else { return order }
        var rng = SplitMix64(seed: 0x7EA1_5EED &+ config.seed)
        order.shuffle(using: &rng)
        return Array(order.prefix(config.dataset.trainSamples))
    }

    /// The global test set the coordinator evaluates on: its first `testSamples` (all when 0).
    public static func testSet(_ config: FederationConfig) throws -> ImageDataset {
        let full = try DatasetZoo.load(config.dataset.name, split: .test, directory: config.dataset.directory,
                                       syntheticCount: config.dataset.syntheticCount, seed: config.seed)
        guard config.dataset.testSamples > 0, config.dataset.testSamples < full.count else { return full }
        return full.subset(Array(0..<config.dataset.testSamples))
    }

    /// Every configured device's shard, by device id.
    public static func shards(_ config: FederationConfig, labels: [UInt8], classes: Int) throws -> [String: DeviceShard] {
        let devices = config.resolvedDevices
        guard let rule = config.partition.rule else {
            throw ConfigError.invalid(path: "partition.kind", reason: "'\(config.partition.kind)' is not iid, dirichlet or classes")
        }
        let parts = try Partitioner.split(labels: labels, classes: classes, devices: devices.count, rule: rule, seed: config.seed)
        var out: [String: DeviceShard] = [:]
        for (i, d) in devices.enumerated() {
            var shard = parts[i]
            guard shard.count >= 2 else {
                throw ConfigError.invalid(path: "partition", reason: "device '\(d.id)' got \(shard.count) samples; it needs at least 2 (one to train, one to test). Use more training samples or fewer devices")
            }
            var rng = SplitMix64(seed: config.seed &+ 0xD1CE &+ UInt64(i) &* 0x9E37_79B9)
            shard.shuffle(using: &rng)
            let held = min(shard.count - 1, max(1, Int((Double(shard.count) * config.personalisation.testFraction).rounded())))
            out[d.id] = DeviceShard(train: Array(shard[held...]).sorted(), test: Array(shard[..<held]).sorted())
        }
        return out
    }

    /// The seed of device number `index` (in id order) for `purpose`.
    public static func deviceSeed(_ config: FederationConfig, index: Int, purpose: UInt64) -> UInt64 {
        var rng = SplitMix64(seed: config.seed ^ (purpose &* 0x2545_F491_4F6C_DD1D) &+ UInt64(index))
        return rng.next()
    }
}

/// The layout each device trains under, derived from its budget the same way on every process.
public enum DevicePlans {
    /// The architecture of the configured model for `classes` classes.
    public static func architecture(_ config: FederationConfig, classes: Int) -> Architecture {
        ModelZoo.architecture(config.model.name, classes: classes)
    }

    /// The initial global model: pretrained (or seeded) weights, folded.
    public static func initialModel(_ config: FederationConfig, classes: Int) throws -> Network {
        try ModelZoo.network(config.model.name, classes: classes, weights: config.model.weights,
                             pretrained: config.model.pretrained, seed: config.seed).folded()
    }

    /// The sparse layout `device` trains with on `arch` (budget-driven, as `node finetune`). A
    /// `bias` device keeps the fitted bias units and classifier but no weight layers: it never
    /// trains one, so none is charged to its memory, cached past, or (under DP) noised.
    public static func layout(_ device: ResolvedDevice, arch: Architecture, resolution: Int) throws -> SparseLayout {
        switch device.policy {
        case .dense, .head: return SparseLayout()
        default:
            var layout = try LayoutSearch.fit(arch, budget: device.budget, height: resolution, width: resolution,
                                              memory: device.memory, options: device.search)
            if device.policy == .bias { layout.weightChannels = [:] }
            return layout
        }
    }

    /// The block before which the network is frozen for `layout` (its cacheable prefix).
    public static func startBlock(_ layout: SparseLayout, arch: Architecture) -> Int {
        LayoutSearch.representativePlan(layout).startBlock(arch)
    }
}
