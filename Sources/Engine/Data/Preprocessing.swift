// Turning 8-bit images into a model's Float input: bilinear resize, grey → 3 channels, and
// per-channel normalisation. Output layout is the engine's CNHW [C][N][H][W].
import Foundation

/// How images become model input.
public struct Preprocessing: Equatable, Sendable, Codable {
    /// Output height and width.
    public var size: Int
    /// Output channels (a grey image is repeated into each).
    public var channels: Int = 3
    /// Per-channel mean, applied to values scaled to 0...1.
    public var mean: [Float]
    /// Per-channel standard deviation.
    public var std: [Float]

    /// ImageNet normalisation at `size`×`size`, 3 channels.
    public static func imageNet(size: Int) -> Preprocessing {
        Preprocessing(size: size, channels: 3, mean: [0.485, 0.456, 0.406], std: [0.229, 0.224, 0.225])
    }

    /// Values per preprocessed image.
    public var imageSize: Int { channels * size * size }

    /// The images `indices` of `data` as one batch [C][N][size][size].
    public func batch(_ data: ImageDataset, indices: [Int]) -> [Float] {
        let n = indices.count, plane = size * size
        var out = [Float](repeating: 0, count: channels * n * plane)
        var resized = [Float](repeating: 0, count: plane)
        var source = [Float](repeating: 0, count: data.height * data.width)
        for (b, i) in indices.enumerated() {
            for c in 0..<channels {
                let sc = data.channels == 1 ? 0 : c
                let base = (i * data.channels + sc) * data.height * data.width
                for p in 0..<source.count { source[p] = Float(data.pixels[base + p]) / 255 }
                Preprocessing.resizeBilinear(&resized, size, size, source, data.height, data.width)
                let m = mean[c], s = std[c]
                let dst = (c * n + b) * plane
                for p in 0..<plane { out[dst + p] = (resized[p] - m) / s }
            }
        }
        return out
    }

    /// Bilinear resize with PyTorch's `align_corners=False` rule (no antialiasing):
    /// source coordinate = (dst + 0.5)·in/out − 0.5, clamped at 0.
    public static func resizeBilinear(_ dst: inout [Float], _ oh: Int, _ ow: Int, _ src: [Float], _ ih: Int, _ iw: Int) {
        let sy = Float(ih) / Float(oh), sx = Float(iw) / Float(ow)
        for y in 0..<oh {
            let fy = max((Float(y) + 0.5) * sy - 0.5, 0)
            let y0 = min(Int(fy), ih - 1), y1 = min(y0 + 1, ih - 1)
            let wy = fy - Float(y0)
            for x in 0..<ow {
                let fx = max((Float(x) + 0.5) * sx - 0.5, 0)
                let x0 = min(Int(fx), iw - 1), x1 = min(x0 + 1, iw - 1)
                let wx = fx - Float(x0)
                let top = src[y0 * iw + x0] * (1 - wx) + src[y0 * iw + x1] * wx
                let bottom = src[y1 * iw + x0] * (1 - wx) + src[y1 * iw + x1] * wx
                dst[y * ow + x] = top * (1 - wy) + bottom * wy
            }
        }
    }
}
