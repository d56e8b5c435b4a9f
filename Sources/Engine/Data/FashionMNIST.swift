// Fashion-MNIST and MNIST loaders: gzip IDX images [N, 28, 28] and labels [N].
import Foundation

/// A labelled set of single-channel 8-bit images.
public struct GreyImageSet {
    /// Pixels, [N, H, W] row-major, 0...255.
    public var pixels: [UInt8]
    /// Class labels, [N].
    public var labels: [UInt8]
    /// Image height in pixels.
    public var height: Int
    /// Image width in pixels.
    public var width: Int
    /// Number of images.
    public var count: Int { labels.count }
}

/// Which split of a data set.
public enum DataSplit: String, Sendable {
    case train, test
}

/// Loads MNIST-format data sets (Fashion-MNIST, MNIST) from gzip IDX files.
public enum FashionMNIST {
    /// Where Debian's `dataset-fashion-mnist` package installs the files.
    public static let defaultDirectory = "/usr/share/datasets/fashion-mnist"

    /// How a user obtains the data, appended to every error.
    public static let hint = "Install it with `apt-get install dataset-fashion-mnist` (or `make deps`), or pass the folder holding train-images-idx3-ubyte.gz and friends."

    /// Loads one split from `directory` (file names as in the original distribution).
    public static func load(split: DataSplit, directory: String = defaultDirectory) throws -> GreyImageSet {
        let prefix = split == .train ? "train" : "t10k"
        let imagesPath = (directory as NSString).appendingPathComponent("\(prefix)-images-idx3-ubyte.gz")
        let labelsPath = (directory as NSString).appendingPathComponent("\(prefix)-labels-idx1-ubyte.gz")
        let images = try IDX.read(path: imagesPath, hint: hint)
        let labels = try IDX.read(path: labelsPath, hint: hint)
        guard images.dims.count == 3 else {
            throw DataFileError.corrupt(path: imagesPath, reason: "expected [N,H,W] images, got dims \(images.dims)", hint: hint)
        }
        guard labels.dims.count == 1, labels.dims[0] == images.dims[0] else {
            throw DataFileError.corrupt(path: labelsPath, reason: "label count \(labels.dims) does not match \(images.dims[0]) images", hint: hint)
        }
        return GreyImageSet(pixels: images.values, labels: labels.values, height: images.dims[1], width: images.dims[2])
    }
}
