// `node finetune`: one device fine-tunes alone with any policy, inside its memory budget.
import ArgumentParser
import Engine
import Foundation

struct FinetuneCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "finetune",
        abstract: "Fine-tune one simulated device with a sparse-update policy and report accuracy, coverage and memory.",
        discussion: """
        Example: node finetune --policy dgsu --budget 256KB --epochs 1
        Learning rates given with --lr-grid are tried on a held-out slice of the training set (never the test set).
        Each parameter group can have its own rate: --lr-head (the classifier), --lr-bias (conv biases) and --lr-weights (conv weights) override --lr for their group, and --lr-head-grid, --lr-bias-grid and --lr-weights-grid search every combination on the held-out slice.

        Example: node finetune --lr-head-grid 0.03,0.1,0.3 --lr-weights-grid 0.001,0.003 --lr-bias 0.01
        """)

    @Option(help: "Model: \(ModelName.allCases.map(\.rawValue).joined(separator: ", ")).")
    var model: ModelName = .efficientNetLite0

    @Option(help: "Weights (safetensors). Default: the ImageNet-pretrained EfficientNet-Lite0 from `make weights`.")
    var weights: String?

    @Flag(help: "Start from random weights instead of pretrained ones.")
    var randomInit = false

    @Option(help: "Data set: \(DatasetName.allCases.map(\.rawValue).joined(separator: ", ")).")
    var dataset: DatasetName = .fashionMNIST

    @Option(help: "Folder of the data set (default for fashion-mnist: /usr/share/datasets/fashion-mnist).")
    var data: String?

    @Option(help: "Input resolution (square); images are resized bilinearly, grey repeated to 3 channels, ImageNet-normalised.")
    var resolution: Int = 64

    @Option(help: "Training samples (after the validation slice is held out).")
    var trainSamples: Int = 24_000

    @Option(help: "Held-out training samples for learning-rate selection.")
    var validationSamples: Int = 2_000

    @Option(help: "Test samples evaluated at the end.")
    var testSamples: Int = 10_000

    @Option(help: "Policy: \(PolicyKind.allCases.map(\.rawValue).joined(separator: ", ")).")
    var policy: PolicyKind = .dgsu

    @Option(help: "How static picks channels: first or weight-norm.")
    var staticRule: StaticChannelRule = .weightNorm

    @Option(help: "What dgsu ranks channels by: gradient (running gradient norm) or weight.")
    var importance: ImportanceMeasure = .gradient

    @OptionGroup var memory: MemoryArguments

    @Option(help: "Passes over the training samples.")
    var epochs: Double = 1

    @Option(help: "Samples per step (the memory budget applies to a step at this batch; MCUs train one sample at a time).")
    var batch: Int = 1

    @Option(help: "SGD learning rate (no momentum).")
    var lr: Float = 0.05

    @Option(help: "Comma-separated learning rates to try on the validation slice first, e.g. 0.01,0.03,0.1.")
    var lrGrid: String?

    @Option(help: "How the learning rates change over the run: constant, cosine (to 0), step (×0.1 at 50 % and 75 %).")
    var schedule: LearningRateSchedule = .constant

    @Option(help: "Comma-separated schedules to try on the validation slice with the learning rates, e.g. constant,cosine.")
    var scheduleGrid: String?

    @Option(help: "The classifier's learning rate (default: --lr).")
    var lrHead: Float?

    @Option(help: "The conv biases' learning rate (default: --lr).")
    var lrBias: Float?

    @Option(help: "The conv weights' learning rate (default: --lr).")
    var lrWeights: Float?

    @Option(help: "Comma-separated classifier learning rates to search on the validation slice.")
    var lrHeadGrid: String?

    @Option(help: "Comma-separated conv-bias learning rates to search on the validation slice.")
    var lrBiasGrid: String?

    @Option(help: "Comma-separated conv-weight learning rates to search on the validation slice.")
    var lrWeightsGrid: String?

    @Option(help: "An explicit layout instead of the budget-driven search: conv layers whose weights train, with their fraction of input channels per step, e.g. _blocks.15._project_conv=0.25,_blocks.14._project_conv=0.125 (tiny-training's manual_weight_idx / weight_update_ratio).")
    var layoutWeights: String?

    @Option(help: "With --layout-weights: how many of the last convs train their biases (tiny-training's n_bias_update).")
    var layoutBiases: Int = 0

    @Option(help: "Random seed (data order, classifier init, random policy).")
    var seed: UInt64 = 0

    @Flag(help: "Recompute the frozen front every step instead of caching its features (identical results, slower).")
    var noCache = false

    @Option(help: "Also write the result as JSON to this file.")
    var json: String?

    func validate() throws {
        if resolution < 8 { throw ValidationError("--resolution must be at least 8") }
        if batch < 1 { throw ValidationError("--batch must be at least 1") }
        if epochs <= 0 { throw ValidationError("--epochs must be positive") }
        if lr <= 0 { throw ValidationError("--lr must be positive") }
        if let lrGrid, parseGrid(lrGrid) == nil { throw ValidationError("--lr-grid must be comma-separated positive numbers, got '\(lrGrid)'") }
        for (flag, v) in [("--lr-head", lrHead), ("--lr-bias", lrBias), ("--lr-weights", lrWeights)] {
            if let v, !(v.isFinite && v > 0) { throw ValidationError("\(flag) must be positive, got \(v)") }
        }
        for (flag, v) in [("--lr-head-grid", lrHeadGrid), ("--lr-bias-grid", lrBiasGrid), ("--lr-weights-grid", lrWeightsGrid)] {
            if let v, parseGrid(v) == nil { throw ValidationError("\(flag) must be comma-separated positive numbers, got '\(v)'") }
        }
        if let layoutWeights, parseLayout(layoutWeights) == nil {
            throw ValidationError("--layout-weights must be comma-separated name=ratio pairs with ratios in (0, 1], e.g. _blocks.15._project_conv=0.25; got '\(layoutWeights)'")
        }
        if let scheduleGrid, parseSchedules(scheduleGrid) == nil {
            throw ValidationError("--schedule-grid must be comma-separated schedules (\(LearningRateSchedule.allCases.map(\.rawValue).joined(separator: ", "))), got '\(scheduleGrid)'")
        }
        if layoutBiases < 0 { throw ValidationError("--layout-biases must be 0 or more") }
        if layoutWeights == nil && layoutBiases != 0 { throw ValidationError("--layout-biases goes with --layout-weights (an explicit layout)") }
        let perGroup = [lrHeadGrid, lrBiasGrid, lrWeightsGrid].contains { $0 != nil }
        if perGroup && lrGrid != nil { throw ValidationError("--lr-grid searches one rate for all groups; use it or the per-group grids (--lr-head-grid, ...), not both") }
    }

    func parseLayout(_ s: String) -> [String: Double]? {
        var out: [String: Double] = [:]
        for pair in s.split(separator: ",") {
            let parts = pair.split(separator: "=", maxSplits: 1).map { $0.trimmingCharacters(in: .whitespaces) }
            guard parts.count == 2, !parts[0].isEmpty, let r = Double(parts[1]), r > 0, r <= 1 else { return nil }
            out[parts[0]] = r
        }
        return out.isEmpty ? nil : out
    }

    func parseSchedules(_ s: String) -> [LearningRateSchedule]? {
        let v = s.split(separator: ",").map { LearningRateSchedule(rawValue: $0.trimmingCharacters(in: .whitespaces)) }
        return v.isEmpty || v.contains(nil) ? nil : v.map { $0! }
    }

    func parseGrid(_ s: String) -> [Float]? {
        let v = s.split(separator: ",").compactMap { Float($0.trimmingCharacters(in: .whitespaces)) }
        return v.isEmpty || v.contains { $0 <= 0 } ? nil : v
    }

    func run() throws {
        var c = FineTuneConfig()
        c.model = model; c.weights = weights; c.pretrained = !randomInit
        c.dataset = dataset; c.dataDirectory = data; c.resolution = resolution
        c.trainSamples = trainSamples; c.validationSamples = validationSamples; c.testSamples = testSamples
        c.policy = policy; c.policyOptions = PolicyOptions(staticRule: staticRule, importance: importance)
        c.budget = memory.budget.bytes; c.memory = memory.options(batch: batch)
        c.search = memory.search(dynamic: PolicyFactory.isDynamic(policy))
        if let layoutWeights, let weights = parseLayout(layoutWeights) {
            c.search.explicit = ExplicitLayout(weights: weights, biasLayers: layoutBiases)
        }
        c.epochs = epochs; c.batch = batch; c.learningRate = lr; c.learningRateGrid = lrGrid.flatMap(parseGrid) ?? []
        if lrHead != nil || lrBias != nil || lrWeights != nil {
            c.learningRates = LearningRates(head: lrHead ?? lr, bias: lrBias ?? lr, weights: lrWeights ?? lr)
        }
        c.schedule = schedule
        c.scheduleGrid = scheduleGrid.flatMap(parseSchedules) ?? []
        c.headGrid = lrHeadGrid.flatMap(parseGrid) ?? []
        c.biasGrid = lrBiasGrid.flatMap(parseGrid) ?? []
        c.weightsGrid = lrWeightsGrid.flatMap(parseGrid) ?? []
        c.seed = seed; c.useCache = !noCache
        let result: FineTuneResult
        do {
            result = try FineTuner().run(c)
        } catch let error as MemoryOverflow {
            throw ValidationError(error.description)
        } catch let error as BudgetTooSmall {
            throw ValidationError(error.description)
        } catch let error as ExplicitLayoutError {
            throw ValidationError(error.description)
        } catch let error as DataFileError {
            throw ValidationError(error.description)
        } catch let error as WeightsError {
            throw ValidationError(error.description)
        }
        print("")
        print(String(format: "test accuracy        %.2f %% (loss %.4f) on %d samples", result.testAccuracy * 100, result.testLoss, c.testSamples))
        print("learning rate        \(result.learningRates), \(result.schedule.rawValue) schedule")
        print(String(format: "conv weights updated %.3f %% per step, %.2f %% over the run", result.convWeightsPerStep * 100, result.convWeightsOverRun * 100))
        print(String(format: "channel coverage     %.1f %% of the update layers' channels", result.channelCoverage * 100))
        for (name, cov) in result.coveragePerLayer.sorted(by: { $0.key < $1.key }) {
            print(String(format: "  %-30@ %.1f %%", name as NSString, cov * 100))
        }
        print("peak memory          \(ByteSize.format(result.measuredPeak)) measured, \(ByteSize.format(result.plannedPeak)) planned, budget \(ByteSize.format(c.budget))")
        print(String(format: "feature memory       %@ vs %@ dense (%.1f %% less)", ByteSize.format(result.featureMemory), ByteSize.format(result.denseFeatureMemory),
                     100 * (1 - Double(result.featureMemory) / Double(max(1, result.denseFeatureMemory)))))
        print(String(format: "speed                %.2f ms per step (batch %d)", result.msPerStep, batch))
        if let json {
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
            try encoder.encode(result).write(to: URL(fileURLWithPath: json))
            print("wrote \(json)")
        }
    }
}
