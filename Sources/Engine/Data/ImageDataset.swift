// A labelled image data set held as 8-bit pixels, [N][C][H][W], converted to Float per batch.

/// Which split of a data set.
public enum DataSplit: String, Sendable, Codable {
    case train, test
}

/// Labelled 8-bit images.
public struct ImageDataset: Sendable {
    /// Pixels, [N][C][H][W], 0...255.
    public var pixels: [UInt8]
    /// Class labels, [N].
    public var labels: [UInt8]
    /// Channels per image (1 grey, 3 RGB).
    public var channels: Int
    /// Image height.
    public var height: Int
    /// Image width.
    public var width: Int
    /// Number of classes the labels range over.
    public var classes: Int

    /// A data set; the pixel count must match.
    public init(pixels: [UInt8], labels: [UInt8], channels: Int, height: Int, width: Int, classes: Int) {
        precondition(pixels.count == labels.count * channels * height * width,
                     "ImageDataset: \(pixels.count) pixels for \(labels.count) images of \(channels)x\(height)x\(width)")
        self.pixels = pixels; self.labels = labels; self.channels = channels
        self.height = height; self.width = width; self.classes = classes
    }

    /// Number of images.
    public var count: Int { labels.count }

    /// Values per image.
    public var imageSize: Int { channels * height * width }

    /// The images at `indices`, in that order.
    public func subset(_ indices: [Int]) -> ImageDataset {
        var px = [UInt8](); px.reserveCapacity(indices.count * imageSize)
        for i in indices { px.append(contentsOf: pixels[i * imageSize..<(i + 1) * imageSize]) }
        return ImageDataset(pixels: px, labels: indices.map { labels[$0] }, channels: channels, height: height, width: width, classes: classes)
    }

    /// Images per class.
    public var classCounts: [Int] {
        var c = [Int](repeating: 0, count: classes)
        for l in labels { c[Int(l)] += 1 }
        return c
    }
}
