// `engine-bench results`: the sparse-update results table of BENCHMARKS.md — every policy
// fine-tuning ImageNet-pretrained EfficientNet-Lite0 on Fashion-MNIST at 64×64 within 256 KB,
// mean ± std over seeds (or ± the 95 % confidence interval of the mean with --ci), learning rates
// chosen on a held-out slice of the training set: one for every parameter group, or with
// --per-group one per group (classifier, conv biases, conv weights), every combination tried.
//   engine-bench results [--seeds 3] [--policies head,bias,...] [--precisions int8,fp32] [--per-group] [--ci] [--epochs 1] [--json FILE]
//     [--layout-weights NAME=RATIO,... --layout-biases N] [--age-horizon A] [--importance gradient|weight]
//     [--rates HEAD,BIAS,WEIGHTS | --head-grid …, --bias-grid …, --weights-grid …] [--schedule-grid constant,cosine] [--label TEXT]
// (RunSetup says what each does.)
// Each precision is a row per policy: int8 trains the int8 device (QAS) within the budget; fp32
// trains the same layout (the int8 device's, as an explicit layout) in fp32, whose peak is
// reported (an fp32 device does not fit 256 KB at all: its front alone needs 500 KB at 64×64).
import Engine
import Foundation

enum ResultsTable {
    struct Row {
        var label: String
        var results: [FineTuneResult] = []
        var peaks: [String: Int] = [:]
    }

    /// The value of option `name`; when it is given more than once, the last one counts (a row's
    /// own options override a shared grid, as in tools/results-table.sh).
    static func value(_ args: [String], _ name: String) -> String? {
        guard let i = args.lastIndex(of: name), i + 1 < args.count else { return nil }
        return args[i + 1]
    }

    static func meanStd(_ xs: [Double]) -> (Double, Double) {
        let m = xs.reduce(0, +) / Double(max(1, xs.count))
        let v = xs.count > 1 ? xs.map { ($0 - m) * ($0 - m) }.reduce(0, +) / Double(xs.count - 1) : 0
        return (m, v.squareRoot())
    }

    /// Two-sided 97.5 % Student-t quantiles for 1…9 degrees of freedom.
    static let t975: [Double] = [12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262]

    /// Half-width of the 95 % confidence interval of the mean of `xs`.
    static func ci95(_ xs: [Double]) -> Double {
        guard xs.count > 1 else { return 0 }
        let t = xs.count - 1 <= t975.count ? t975[xs.count - 2] : 1.96
        return t * meanStd(xs).1 / Double(xs.count).squareRoot()
    }

    static func run(arguments args: [String]) throws {
        let perGroup = args.contains("--per-group"), ci = args.contains("--ci")
        let seeds = Int(value(args, "--seeds") ?? "3") ?? 3
        guard let firstSeed = Int(value(args, "--first-seed") ?? "0"), firstSeed >= 0 else {
            Arguments.fail("--first-seed needs a whole number ≥ 0, for example --first-seed 2")
        }
        let trainSamples = Int(value(args, "--train-samples") ?? "24000") ?? 24000
        let testSamples = Int(value(args, "--test-samples") ?? "10000") ?? 10000
        let epochs = Double(value(args, "--epochs") ?? "1") ?? 1
        let policies = (value(args, "--policies") ?? "head,bias,static,dgsu,random,dense").split(separator: ",").compactMap { PolicyKind(rawValue: String($0)) }
        let withMobileNet = !args.contains("--no-mobilenet")
        let precisions = (value(args, "--precisions") ?? "int8").split(separator: ",").compactMap { Precision(rawValue: String($0)) }
        let json = value(args, "--json")
        let setup = try RunSetup(args)
        let tuner = FineTuner(log: { FileHandle.standardError.write(($0 + "\n").data(using: .utf8)!) })
        var rows: [Row] = []
        var lrChosen: [String: LearningRates] = [:]
        var scheduleChosen: [String: LearningRateSchedule] = [:]
        var int8Layouts: [PolicyKind: SparseLayout] = [:]
        var runs: [(String, ModelName, PolicyKind, Precision)] = []
        for policy in policies {
            for precision in policy == .dense ? [.fp32] : precisions {
                let base = precisions.count > 1 && policy != .dense ? "\(policy.rawValue) (\(precision.rawValue))" : policy.rawValue
                runs.append((setup.label.map { "\(base), \($0)" } ?? base, .efficientNetLite0, policy, precision))
            }
        }
        if withMobileNet { runs.append(("dgsu (MobileNetV2-w0.35, random init)", .mobileNetV2w035, .dgsu, precisions[0])) }
        for (label, model, policy, precision) in runs {
            var row = Row(label: label)
            for seed in firstSeed..<(firstSeed + seeds) {
                var c = FineTuneConfig()
                c.model = model
                c.pretrained = model == .efficientNetLite0
                c.policy = policy
                c.trainSamples = trainSamples
                c.testSamples = testSamples
                c.epochs = epochs
                c.seed = UInt64(seed)
                c.memory.precision = precision
                setup.apply(to: &c)
                if precision == .fp32 && policy != .dense && setup.explicit == nil && int8Layouts[policy] == nil && int8Layouts[.dgsu] == nil {
                    // head and bias train the classifier or the biases of the weight policies' layout
                    var reference = c
                    if policy == .head || policy == .bias { reference.policy = .dgsu }
                    int8Layouts[reference.policy] = try setup.int8Layout(reference)
                }
                if precision == .fp32 && policy != .dense && setup.explicit != nil {
                    c.budget = Int.max / 2  // an fp32 device does not fit 256 KB; its peak is reported
                }
                if precision == .fp32 && policy != .dense && setup.explicit == nil, let layout = int8Layouts[policy] ?? int8Layouts[.dgsu] {
                    let arch = ModelZoo.architecture(model, classes: 10)
                    c.search.explicit = ExplicitLayout(
                        weights: Dictionary(uniqueKeysWithValues: layout.weightChannels.map { (arch.units[$0.key].name, Double($0.value) / Double(arch.units[$0.key].inChannels)) }),
                        biasLayers: layout.biasUnits.count, classifier: layout.trainClassifier)
                    c.budget = Int.max / 2
                }
                // Devices train one sample at a time. Dense is the exception: BatchNorm in training
                // mode is degenerate at batch 1 (one value per channel at the 2×2 late layers), so
                // the dense upper bound trains at batch 8; its memory is still reported at batch 1.
                c.batch = policy == .dense ? 8 : 1
                c.search.dynamic = PolicyFactory.isDynamic(policy)
                c.gridEpochs = 0.1
                if policy == .dense { c.budget = Int.max / 2 }  // the upper bound does not fit a 256 KB device; its peak is reported
                if let lr = lrChosen[label] {
                    c.learningRates = lr
                    c.schedule = scheduleChosen[label] ?? .constant
                    c.scheduleGrid = []
                } else if let fixed = setup.rates {
                    c.learningRates = fixed
                } else if perGroup && policy != .dense {
                    // Per group: the classifier wants far more than the convs tolerate at batch 1.
                    c.learningRates = LearningRates(head: 0.01, bias: 0.001, weights: 0.0003)
                    c.headGrid = setup.headGrid ?? [0.01, 0.03]
                    if policy != .head { c.biasGrid = setup.biasGrid ?? [0.001, 0.003] }
                    if [.static, .dgsu, .random].contains(policy) { c.weightsGrid = setup.weightsGrid ?? [0.0001, 0.0003, 0.001] }
                } else {
                    c.learningRateGrid = policy == .dense ? [0.001, 0.003, 0.01, 0.03]
                        : policy == .head ? [0.003, 0.01, 0.03] : [0.0001, 0.0003, 0.001, 0.003]
                }
                FileHandle.standardError.write("== \(label) seed \(seed)\n".data(using: .utf8)!)
                let r = try tuner.run(c)
                if precision == .int8 { int8Layouts[policy] = r.layout }
                FileHandle.standardError.write(String(format: "%@ seed %d: test accuracy %.2f %%\n", label, seed, 100 * r.testAccuracy).data(using: .utf8)!)
                lrChosen[label] = r.learningRates
                scheduleChosen[label] = r.schedule
                row.results.append(r)
                if let json { try write(rows.flatMap(\.results) + row.results, to: json) }  // after every run: a stopped table keeps what it finished
                if seed == firstSeed {
                    let arch = ModelZoo.architecture(model, classes: 10)
                    let plan: UpdatePlan = policy == .dense ? .denseAll(arch) : policy == .head ? UpdatePlan(trainClassifier: true)
                        : policy == .bias ? UpdatePlan(biasUnits: Set(r.layout.biasUnits)) : LayoutSearch.representativePlan(r.layout)
                    for widths in Precision.allCases {
                        for placement in WeightPlacement.allCases {
                            let rep = MemoryPlanner.plan(arch, plan: plan, height: 64, width: 64,
                                                         options: MemoryOptions(precision: widths, placement: placement, fused: true, batch: 1),
                                                         candidateChannels: LayoutSearch.candidates(r.layout, arch: arch, dynamic: PolicyFactory.isDynamic(policy)))
                            row.peaks["\(widths.rawValue)/\(placement.rawValue)"] = rep.peak
                        }
                    }
                }
            }
            rows.append(row)
        }
        print("| policy | test accuracy % (\(ci ? "mean ± 95 % CI" : "mean ± std")) | per seed | conv weights updated per step % | over the run % | channel coverage % | peak int8/external | int8/flash | fp32/external | fp32/flash | feature memory vs dense | ms/step | lr |")
        print("| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |")
        for row in rows {
            let accuracies = row.results.map { $0.testAccuracy * 100 }
            let (acc, sd) = meanStd(accuracies)
            let accSd = ci ? ci95(accuracies) : sd
            let r0 = row.results[0]
            let (ms, _) = meanStd(row.results.map(\.msPerStep))
            let cov = meanStd(row.results.map { $0.channelCoverage * 100 }).0
            let saving = 100 * (1 - Double(r0.featureMemory) / Double(max(1, r0.denseFeatureMemory)))
            func kb(_ k: String) -> String { ByteSize.format(row.peaks[k] ?? 0) }
            print(String(format: "| %@ | %.2f ± %.2f | %@ | %.3f | %.2f | %.1f | %@ | %@ | %@ | %@ | %.1f %% less | %.2f | %@ |",
                         row.label, acc, accSd, accuracies.map { String(format: "%.2f", $0) }.joined(separator: " "), r0.convWeightsPerStep * 100, meanStd(row.results.map { $0.convWeightsOverRun * 100 }).0, cov,
                         kb("int8/external"), kb("int8/flash"), kb("fp32/external"), kb("fp32/flash"), saving, ms, "\(r0.learningRates) \(r0.schedule.rawValue)"))
        }
        if let json { try write(rows.flatMap(\.results), to: json) }
    }

    static func write(_ results: [FineTuneResult], to path: String) throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        try encoder.encode(results).write(to: URL(fileURLWithPath: path))
    }
}
