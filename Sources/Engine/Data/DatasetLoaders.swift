// Loaders for the on-disk formats: MNIST/Fashion-MNIST gzip IDX, and the CIFAR-10 binary format.
import Foundation

/// Fashion-MNIST, found by default where Debian's `dataset-fashion-mnist` package installs it.
public enum FashionMNIST {
    /// Where Debian's `dataset-fashion-mnist` package installs the files.
    public static let defaultDirectory = "/usr/share/datasets/fashion-mnist"

    /// How a user obtains the data, appended to every error.
    public static let hint = "Install it with `apt-get install dataset-fashion-mnist` (or `make deps`), or pass the folder holding train-images-idx3-ubyte.gz and friends."

    /// Loads one split (28×28 grey, 10 classes).
    public static func load(split: DataSplit, directory: String = defaultDirectory) throws -> ImageDataset {
        try MNISTFormat.load(split: split, directory: directory, hint: hint)
    }

    /// The images of `rows` of one split only (ascending), streamed (`MNISTFormat.load(rows:)`).
    public static func load(split: DataSplit, directory: String = defaultDirectory, rows: [Int]) throws -> ImageDataset {
        try MNISTFormat.load(split: split, directory: directory, rows: rows, hint: hint)
    }
}

/// MNIST-format data sets: `{train,t10k}-{images-idx3,labels-idx1}-ubyte[.gz]`.
public enum MNISTFormat {
    /// Loads one split from `directory`; plain or gzip files are accepted.
    public static func load(split: DataSplit, directory: String, hint: String = "Pass the folder holding the MNIST IDX files (train-images-idx3-ubyte.gz, ...).") throws -> ImageDataset {
        let (imagesPath, labelsPath) = paths(split: split, directory: directory)
        let images = try IDX.read(path: imagesPath, hint: hint)
        let labels = try IDX.read(path: labelsPath, hint: hint)
        guard images.dims.count == 3 else {
            throw DataFileError.corrupt(path: imagesPath, reason: "expected [N,H,W] images, got dims \(images.dims)", hint: hint)
        }
        guard labels.dims.count == 1, labels.dims[0] == images.dims[0] else {
            throw DataFileError.corrupt(path: labelsPath, reason: "label count \(labels.dims) does not match \(images.dims[0]) images", hint: hint)
        }
        let classes = Int(labels.values.max() ?? 0) + 1
        return ImageDataset(pixels: images.values, labels: labels.values, channels: 1,
                            height: images.dims[1], width: images.dims[2], classes: max(classes, 10))
    }

    /// The images of `rows` only (ascending indices into the split), read as the file streams past:
    /// the whole decompressed image file is never held. `classes` counts the labels of the whole split.
    public static func load(split: DataSplit, directory: String, rows: [Int], hint: String = "Pass the folder holding the MNIST IDX files (train-images-idx3-ubyte.gz, ...).") throws -> ImageDataset {
        let split = try read(split: split, directory: directory, rows: rows, hint: hint)
        return ImageDataset(pixels: split.pixels, labels: rows.map { split.labels[$0] }, channels: 1,
                            height: split.header.dims[1], width: split.header.dims[2], classes: split.classes)
    }

    /// The labels of one split and its class count (at least 10), checked against the image file's
    /// header; the images are not read.
    public static func labels(split: DataSplit, directory: String, hint: String = "Pass the folder holding the MNIST IDX files (train-images-idx3-ubyte.gz, ...).") throws -> (labels: [UInt8], classes: Int) {
        let split = try read(split: split, directory: directory, rows: [], hint: hint)
        return (split.labels, split.classes)
    }

    /// The image header, the pixels of `rows`, and every label of one split, checked against each other.
    private static func read(split: DataSplit, directory: String, rows: [Int], hint: String) throws
        -> (header: IDXHeader, pixels: [UInt8], labels: [UInt8], classes: Int) {
        let (imagesPath, labelsPath) = paths(split: split, directory: directory)
        let labels = try IDX.read(path: labelsPath, hint: hint)
        let (header, pixels) = try IDX.readRows(path: imagesPath, rows: rows, hint: hint)
        guard header.dims.count == 3 else {
            throw DataFileError.corrupt(path: imagesPath, reason: "expected [N,H,W] images, got dims \(header.dims)", hint: hint)
        }
        guard labels.dims.count == 1, labels.dims[0] == header.rows else {
            throw DataFileError.corrupt(path: labelsPath, reason: "label count \(labels.dims) does not match \(header.rows) images", hint: hint)
        }
        return (header, pixels, labels.values, max(Int(labels.values.max() ?? 0) + 1, 10))
    }

    /// The image and label files of `split` in `directory` (plain when present, else `.gz`).
    static func paths(split: DataSplit, directory: String) -> (images: String, labels: String) {
        let prefix = split == .train ? "train" : "t10k"
        func path(_ stem: String) -> String {
            let base = (directory as NSString).appendingPathComponent("\(prefix)-\(stem)-ubyte")
            return FileManager.default.fileExists(atPath: base) ? base : base + ".gz"
        }
        return (path("images-idx3"), path("labels-idx1"))
    }
}

/// The CIFAR-10 binary format: records of 1 label byte + 3072 bytes (R, G, B planes of 32×32).
public enum CIFAR10 {
    /// How a user obtains the data.
    public static let hint = "Download the CIFAR-10 binary version (cifar-10-binary.tar.gz), extract it, and pass the folder holding data_batch_1.bin … test_batch.bin."

    /// Loads the training batches (`data_batch_1.bin` … `data_batch_5.bin`) or `test_batch.bin`.
    public static func load(split: DataSplit, directory: String) throws -> ImageDataset {
        let names = split == .train ? (1...5).map { "data_batch_\($0).bin" } : ["test_batch.bin"]
        var pixels: [UInt8] = [], labels: [UInt8] = []
        for name in names {
            let path = (directory as NSString).appendingPathComponent(name)
            guard let data = FileManager.default.contents(atPath: path) else { throw DataFileError.missing(path: path, hint: hint) }
            let record = 1 + 3 * 32 * 32
            guard data.count > 0, data.count % record == 0 else {
                throw DataFileError.corrupt(path: path, reason: "size \(data.count) is not a multiple of the \(record)-byte record", hint: hint)
            }
            let bytes = [UInt8](data)
            for r in 0..<(bytes.count / record) {
                let label = bytes[r * record]
                guard label < 10 else { throw DataFileError.corrupt(path: path, reason: "record \(r) has label \(label)", hint: hint) }
                labels.append(label)
                pixels.append(contentsOf: bytes[r * record + 1..<(r + 1) * record])
            }
        }
        return ImageDataset(pixels: pixels, labels: labels, channels: 3, height: 32, width: 32, classes: 10)
    }
}

/// A deterministic synthetic data set for tests: each class is a distinct oriented stripe pattern
/// with a class-specific brightness, plus seeded noise — learnable but not trivial.
public enum SyntheticImages {
    /// `count` images of `channels`×`size`×`size` over `classes` classes (labels cycle 0, 1, 2, …).
    public static func make(count: Int, classes: Int = 10, channels: Int = 1, size: Int = 28, seed: UInt64 = 0) -> ImageDataset {
        var rng = SplitMix64(seed: seed)
        var pixels = [UInt8](repeating: 0, count: count * channels * size * size)
        var labels = [UInt8](repeating: 0, count: count)
        for i in 0..<count {
            let label = i % classes
            labels[i] = UInt8(label)
            let angle = Float(label) * .pi / Float(classes)
            let (dx, dy) = (cos(angle), sin(angle))
            let freq = 0.25 + 0.05 * Float(label % 3)
            for c in 0..<channels {
                for y in 0..<size {
                    for x in 0..<size {
                        let phase = (Float(x) * dx + Float(y) * dy) * freq + Float(c)
                        let v = 128 + 90 * sin(phase) + rng.nextFloat(in: -40...40)
                        pixels[((i * channels + c) * size + y) * size + x] = UInt8(max(0, min(255, v)))
                    }
                }
            }
        }
        return ImageDataset(pixels: pixels, labels: labels, channels: channels, height: size, width: size, classes: classes)
    }
}
