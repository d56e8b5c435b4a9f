// Shapes of one convolution at one input size.
//
// Engine layout (all layers): channel-major "CNHW" — a feature map is [C][N][H][W], so one
// channel of the whole batch is contiguous. A 1×1 conv is then a single GEMM
// W[Cout, Cin] · X[Cin, N·H·W] for the whole batch, which keeps the small late layers (2×2 or
// 4×4 pixels) efficient at batch 8. At batch 1 CNHW and NCHW are the same bytes.
// Conv weights keep PyTorch's layout [Cout, Cin/groups, KH, KW].

/// Explicit zero padding on each side of the input plane.
public struct Padding: Equatable, Sendable, Codable {
    /// Rows added above.
    public var top: Int
    /// Columns added on the left.
    public var left: Int
    /// Rows added below.
    public var bottom: Int
    /// Columns added on the right.
    public var right: Int

    /// Padding given side by side.
    public init(top: Int, left: Int, bottom: Int, right: Int) {
        precondition(min(top, left, bottom, right) >= 0, "Padding: negative side")
        self.top = top; self.left = left; self.bottom = bottom; self.right = right
    }

    /// The same padding `p` on all four sides (PyTorch's `padding=p`).
    public static func symmetric(_ p: Int) -> Padding { Padding(top: p, left: p, bottom: p, right: p) }
}

/// How a layer pads, resolved to a `Padding` once the input size is known.
public enum PaddingRule: Equatable, Sendable, Codable {
    /// PyTorch style: `p` on every side.
    case symmetric(Int)
    /// TensorFlow "SAME": output = ceil(input / stride), extra pixel at the bottom/right.
    case same

    /// Resolves the rule for an input of `height`×`width`.
    public func padding(height: Int, width: Int, kernel: Int, stride: Int) -> Padding {
        switch self {
        case .symmetric(let p):
            return .symmetric(p)
        case .same:
            func total(_ size: Int) -> Int {
                let out = (size + stride - 1) / stride
                return max((out - 1) * stride + kernel - size, 0)
            }
            let th = total(height), tw = total(width)
            return Padding(top: th / 2, left: tw / 2, bottom: th - th / 2, right: tw - tw / 2)
        }
    }
}

/// Every dimension of one conv applied to a batch of a given size.
public struct ConvGeometry: Equatable, Sendable {
    /// Batch size N.
    public var batch: Int
    /// Input channels.
    public var inChannels: Int
    /// Output channels.
    public var outChannels: Int
    /// Input height and width.
    public var height: Int, width: Int
    /// Kernel height and width.
    public var kernelH: Int, kernelW: Int
    /// Vertical and horizontal stride.
    public var strideH: Int, strideW: Int
    /// Zero padding.
    public var padding: Padding
    /// Channel groups (1: dense conv; inChannels: depthwise).
    public var groups: Int

    /// A geometry; preconditions check that the shapes are consistent.
    public init(batch: Int, inChannels: Int, outChannels: Int, height: Int, width: Int,
                kernelH: Int, kernelW: Int, strideH: Int = 1, strideW: Int = 1,
                padding: Padding = .symmetric(0), groups: Int = 1) {
        precondition(batch >= 0 && inChannels > 0 && outChannels > 0, "ConvGeometry: bad sizes")
        precondition(groups > 0 && inChannels % groups == 0 && outChannels % groups == 0,
                     "ConvGeometry: groups \(groups) must divide in \(inChannels) and out \(outChannels)")
        precondition(strideH > 0 && strideW > 0, "ConvGeometry: stride must be positive")
        self.batch = batch; self.inChannels = inChannels; self.outChannels = outChannels
        self.height = height; self.width = width; self.kernelH = kernelH; self.kernelW = kernelW
        self.strideH = strideH; self.strideW = strideW; self.padding = padding; self.groups = groups
        precondition(outHeight > 0 && outWidth > 0,
                     "ConvGeometry: a \(kernelH)x\(kernelW) kernel does not fit a \(height)x\(width) input with \(padding)")
    }

    /// Output height.
    @inlinable public var outHeight: Int { (height + padding.top + padding.bottom - kernelH) / strideH + 1 }
    /// Output width.
    @inlinable public var outWidth: Int { (width + padding.left + padding.right - kernelW) / strideW + 1 }
    /// Input channels seen by each output channel.
    @inlinable public var inPerGroup: Int { inChannels / groups }
    /// Output channels per group.
    @inlinable public var outPerGroup: Int { outChannels / groups }
    /// Pixels of one input plane.
    @inlinable public var inPlane: Int { height * width }
    /// Pixels of one output plane.
    @inlinable public var outPlane: Int { outHeight * outWidth }
    /// Kernel taps.
    @inlinable public var taps: Int { kernelH * kernelW }
    /// Whether this conv is a plain GEMM (1×1, stride 1, no padding, one group).
    @inlinable public var isPointwiseGEMM: Bool {
        kernelH == 1 && kernelW == 1 && strideH == 1 && strideW == 1 && groups == 1
            && padding == .symmetric(0)
    }
    /// Whether this conv is depthwise (one input channel per output channel and group).
    @inlinable public var isDepthwise: Bool { groups == inChannels && groups == outChannels }
    /// Elements of the input feature map [Cin, N, H, W].
    @inlinable public var inputCount: Int { inChannels * batch * inPlane }
    /// Elements of the output feature map [Cout, N, OH, OW].
    @inlinable public var outputCount: Int { outChannels * batch * outPlane }
    /// Elements of the weight [Cout, Cin/groups, KH, KW].
    @inlinable public var weightCount: Int { outChannels * inPerGroup * taps }
    /// Multiply-accumulates of one forward pass.
    public var macs: Int { outputCount * inPerGroup * taps }
}
