// Models by name, with their pretrained weights where SparseFleet has them.
import Foundation

/// The models SparseFleet can build.
public enum ModelName: String, CaseIterable, Sendable, Codable {
    /// EfficientNet-Lite0 (ImageNet-pretrained weights via `make weights`).
    case efficientNetLite0 = "efficientnet-lite0"
    /// MobileNetV2 at width 0.35 (random init unless weights are given).
    case mobileNetV2w035 = "mobilenetv2-w0.35"
    /// MobileNetV2 at width 1.0.
    case mobileNetV2 = "mobilenetv2"
    /// The tiny MobileNet-style test net.
    case tiny
}

/// Builds networks by name.
public enum ModelZoo {
    /// The architecture of `name` with `classes` outputs.
    public static func architecture(_ name: ModelName, classes: Int) -> Architecture {
        switch name {
        case .efficientNetLite0: return EfficientNetLite.lite0(classes: classes)
        case .mobileNetV2w035: return MobileNetV2.architecture(classes: classes, width: 0.35)
        case .mobileNetV2: return MobileNetV2.architecture(classes: classes)
        case .tiny: return MobileNetV2.tiny(classes: classes)
        }
    }

    /// The default pretrained weights file for `name`, if SparseFleet has one.
    public static func defaultWeights(_ name: ModelName) -> String? {
        name == .efficientNetLite0 ? PretrainedWeights.efficientNetLite0Path : nil
    }

    /// A network for `classes` classes: pretrained weights (`weights`, or the default) with a fresh,
    /// seeded classifier when the class count differs, else seeded random init.
    /// - Parameter pretrained: false forces random init even when weights exist.
    public static func network(_ name: ModelName, classes: Int, weights: String? = nil, pretrained: Bool = true, seed: UInt64) throws -> Network {
        let arch = architecture(name, classes: classes)
        guard pretrained, let path = weights ?? defaultWeights(name) else { return Network(arch: arch, seed: seed) }
        guard FileManager.default.fileExists(atPath: path) else {
            throw WeightsError.unreadable(path: path, reason: "no such file")
        }
        let file = try SafeTensors.read(path: path)
        let fileClasses = file.tensors[arch.classifierBiasKey]?.shape.first
        if fileClasses == classes { return try Network.load(arch, from: file, path: path) }
        // Transfer: load the backbone, drop the source classifier, start a fresh head.
        var backbone = file
        backbone.tensors[arch.classifierWeightKey] = nil
        backbone.tensors[arch.classifierBiasKey] = nil
        return try Network.load(arch, from: backbone, path: path, ignoreClassifier: true, seed: seed)
    }
}

/// The data sets SparseFleet can load.
public enum DatasetName: String, CaseIterable, Sendable, Codable {
    /// Fashion-MNIST (Debian's `dataset-fashion-mnist`).
    case fashionMNIST = "fashion-mnist"
    /// MNIST in IDX format (user-supplied folder).
    case mnist
    /// CIFAR-10 binary (user-supplied folder).
    case cifar10
    /// Seeded synthetic stripes, for tests and smoke runs.
    case synthetic
}

/// Loads data sets by name.
public enum DatasetZoo {
    /// What a user passes for MNIST, which has no default folder.
    static let mnistFolderHint = "MNIST needs --data FOLDER holding train-images-idx3-ubyte(.gz) and friends."

    /// The default folder of a data set, if it has one.
    public static func defaultDirectory(_ name: DatasetName) -> String? {
        name == .fashionMNIST ? FashionMNIST.defaultDirectory : nil
    }

    /// Loads one split. `directory` is required for MNIST and CIFAR-10.
    public static func load(_ name: DatasetName, split: DataSplit, directory: String?, syntheticCount: Int = 2000, seed: UInt64 = 0) throws -> ImageDataset {
        switch name {
        case .fashionMNIST:
            return try FashionMNIST.load(split: split, directory: directory ?? FashionMNIST.defaultDirectory)
        case .mnist:
            guard let directory else { throw DataFileError.missing(path: "(no folder given)", hint: mnistFolderHint) }
            return try MNISTFormat.load(split: split, directory: directory)
        case .cifar10:
            guard let directory else { throw DataFileError.missing(path: "(no folder given)", hint: CIFAR10.hint) }
            return try CIFAR10.load(split: split, directory: directory)
        case .synthetic:
            return SyntheticImages.make(count: split == .train ? syntheticCount : max(200, syntheticCount / 5), classes: 10,
                                        channels: 1, size: 28, seed: split == .train ? seed : seed &+ 1)
        }
    }

    /// The images of `rows` of one split (ascending, without repeats), in that order. The IDX data
    /// sets (Fashion-MNIST, MNIST) read only those rows as the file streams past; the others load
    /// the split and keep the rows. `classes` is the whole split's.
    public static func load(_ name: DatasetName, split: DataSplit, directory: String?, rows: [Int], syntheticCount: Int = 2000,
                            seed: UInt64 = 0) throws -> ImageDataset {
        switch name {
        case .fashionMNIST:
            return try FashionMNIST.load(split: split, directory: directory ?? FashionMNIST.defaultDirectory, rows: rows)
        case .mnist:
            guard let directory else { throw DataFileError.missing(path: "(no folder given)", hint: mnistFolderHint) }
            return try MNISTFormat.load(split: split, directory: directory, rows: rows)
        case .cifar10, .synthetic:
            let all = try load(name, split: split, directory: directory, syntheticCount: syntheticCount, seed: seed)
            if let bad = rows.first(where: { $0 < 0 || $0 >= all.count }) {
                throw DataFileError.corrupt(path: directory ?? name.rawValue, reason: "row \(bad) asked for, but the split holds \(all.count) images",
                                            hint: "use at most \(all.count) samples")
            }
            return all.subset(rows)
        }
    }

    /// The labels of one split and its class count, without its images where the format allows
    /// (the IDX data sets read their label file only).
    public static func labels(_ name: DatasetName, split: DataSplit, directory: String?, syntheticCount: Int = 2000,
                              seed: UInt64 = 0) throws -> (labels: [UInt8], classes: Int) {
        switch name {
        case .fashionMNIST:
            return try MNISTFormat.labels(split: split, directory: directory ?? FashionMNIST.defaultDirectory, hint: FashionMNIST.hint)
        case .mnist:
            guard let directory else { throw DataFileError.missing(path: "(no folder given)", hint: mnistFolderHint) }
            return try MNISTFormat.labels(split: split, directory: directory)
        case .cifar10, .synthetic:
            let all = try load(name, split: split, directory: directory, syntheticCount: syntheticCount, seed: seed)
            return (all.labels, all.classes)
        }
    }
}

/// Parses sizes such as `256KB`, `1MB`, `4096` (bytes; KB = 1024 B).
public enum ByteSize {
    /// Bytes, or nil when the text is not a size.
    public static func parse(_ text: String) -> Int? {
        let t = text.trimmingCharacters(in: .whitespaces).uppercased()
        let units: [(String, Int)] = [("KIB", 1024), ("MIB", 1 << 20), ("KB", 1024), ("MB", 1 << 20), ("K", 1024), ("M", 1 << 20), ("B", 1)]
        for (suffix, scale) in units where t.hasSuffix(suffix) {
            guard let v = Double(t.dropLast(suffix.count).trimmingCharacters(in: .whitespaces)), v >= 0 else { return nil }
            return Int(v * Double(scale))
        }
        return Int(t)
    }

    /// A size as a user writes it: `262144` → `256KB`, `1048576` → `1MB`, `1000` → `1000B`
    /// (whole units only; parse(written(n)) == n).
    public static func written(_ bytes: Int) -> String {
        if bytes > 0 && bytes % (1 << 20) == 0 { return "\(bytes >> 20)MB" }
        if bytes > 0 && bytes % 1024 == 0 { return "\(bytes >> 10)KB" }
        return "\(bytes)B"
    }

    /// `262144` → `256.0 KB`.
    public static func format(_ bytes: Int) -> String {
        bytes >= 1 << 20 ? String(format: "%.2f MB", Double(bytes) / Double(1 << 20)) : String(format: "%.1f KB", Double(bytes) / 1024)
    }
}
