// MobileNetV2 (Sandler et al. 2018) with torchvision's `mobilenet_v2` parameter names.
// Padding k/2 symmetric, BatchNorm ε 1e-5, ReLU6, residual when stride 1 and in == out.

/// Builders for the MobileNetV2 family, including the tiny test net.
public enum MobileNetV2 {
    /// torchvision's default inverted-residual table: (expand t, channels c, repeats n, stride s).
    public static let defaultSetting: [(t: Int, c: Int, n: Int, s: Int)] = [
        (1, 16, 1, 1), (6, 24, 2, 2), (6, 32, 3, 2), (6, 64, 4, 2), (6, 96, 3, 1), (6, 160, 3, 2), (6, 320, 1, 1),
    ]

    /// torchvision's `_make_divisible`: round to a multiple of `divisor`, never below 90 % of `v`.
    public static func makeDivisible(_ v: Double, _ divisor: Int) -> Int {
        var newV = max(divisor, Int(v + Double(divisor) / 2) / divisor * divisor)
        if Double(newV) < 0.9 * v { newV += divisor }
        return newV
    }

    /// A MobileNetV2 with torchvision's construction rules.
    /// - Parameters:
    ///   - stemChannels/lastChannel: override torchvision's 32·width and 1280·max(1, width).
    public static func architecture(classes: Int, width: Double = 1.0,
                                    setting: [(t: Int, c: Int, n: Int, s: Int)] = defaultSetting,
                                    stemChannels: Int? = nil, lastChannel: Int? = nil,
                                    roundNearest: Int = 8, name: String? = nil) -> Architecture {
        var units: [ConvUnitSpec] = []
        var blocks: [BlockSpec] = []
        func unit(_ name: String, _ bn: String, _ cin: Int, _ cout: Int, k: Int, s: Int, groups: Int = 1, relu: Bool) -> ConvUnitSpec {
            ConvUnitSpec(name: name, bnName: bn, inChannels: cin, outChannels: cout, kernel: k, stride: s,
                         groups: groups, padding: .symmetric((k - 1) / 2), relu6: relu, bnEps: 1e-5)
        }
        var input = stemChannels ?? makeDivisible(32 * width, roundNearest)
        let last = lastChannel ?? makeDivisible(1280 * max(1.0, width), roundNearest)
        units.append(unit("features.0.0", "features.0.1", 3, input, k: 3, s: 2, relu: true))
        blocks.append(BlockSpec(name: "features.0", units: 0..<1, residual: false, stage: 0))
        var feature = 1
        for (stage, row) in setting.enumerated() {
            let out = makeDivisible(Double(row.c) * width, roundNearest)
            for i in 0..<row.n {
                let stride = i == 0 ? row.s : 1
                let hidden = Int((Double(input) * Double(row.t)).rounded(.toNearestOrEven))
                let p = "features.\(feature).conv"
                let first = units.count
                var idx = 0
                if row.t != 1 {
                    units.append(unit("\(p).0.0", "\(p).0.1", input, hidden, k: 1, s: 1, relu: true))
                    idx = 1
                }
                units.append(unit("\(p).\(idx).0", "\(p).\(idx).1", hidden, hidden, k: 3, s: stride, groups: hidden, relu: true))
                units.append(unit("\(p).\(idx + 1)", "\(p).\(idx + 2)", hidden, out, k: 1, s: 1, relu: false))
                blocks.append(BlockSpec(name: "features.\(feature)", units: first..<units.count,
                                        residual: stride == 1 && input == out, stage: stage + 1))
                input = out
                feature += 1
            }
        }
        let head = units.count
        units.append(unit("features.\(feature).0", "features.\(feature).1", input, last, k: 1, s: 1, relu: true))
        blocks.append(BlockSpec(name: "features.\(feature)", units: head..<head + 1, residual: false, stage: setting.count + 1))
        let label = name ?? (width == 1.0 ? "mobilenetv2" : "mobilenetv2-w\(width)")
        return Architecture(name: label, units: units, blocks: blocks, classes: classes, classifierName: "classifier.1")
    }

    /// The tiny MobileNet-style net used by fast tests and fixtures (`tools/reference/models.py`
    /// builds the same): stem 8, table [(1,8,1,1), (2,12,1,2), (2,12,1,1)], head 32, 3×16×16 input.
    public static func tiny(classes: Int = 10) -> Architecture {
        architecture(classes: classes, setting: [(1, 8, 1, 1), (2, 12, 1, 2), (2, 12, 1, 1)],
                     stemChannels: 8, lastChannel: 32, roundNearest: 4, name: "tiny")
    }
}
