// Command-line value types shared by the node's subcommands.
import ArgumentParser
import Engine

extension ModelName: ExpressibleByArgument {}
extension DatasetName: ExpressibleByArgument {}
extension PolicyKind: ExpressibleByArgument {}
extension LearningRateSchedule: ExpressibleByArgument {}
extension Precision: ExpressibleByArgument {}
extension WeightPlacement: ExpressibleByArgument {}
extension StaticChannelRule: ExpressibleByArgument {}
extension ImportanceMeasure: ExpressibleByArgument {}

/// A byte size on the command line: `256KB`, `1MB`, `65536`.
struct ByteSizeArgument: ExpressibleByArgument, CustomStringConvertible {
    let bytes: Int
    init?(argument: String) {
        guard let b = ByteSize.parse(argument), b > 0 else { return nil }
        bytes = b
    }
    /// How `--help` shows a default: as a user writes it (256KB).
    var defaultValueDescription: String { ByteSize.written(bytes) }
    var description: String { defaultValueDescription }
}

/// Memory-model options shared by `finetune` and `plan`.
struct MemoryArguments: ParsableArguments {
    @Option(help: "SRAM budget of the device, e.g. 256KB (KB = 1024 bytes).")
    var budget: ByteSizeArgument = ByteSizeArgument(argument: "256KB")!

    @Option(help: "How the device computes and is counted: int8 (integer forward, int8 weights and activations, fp32 gradients, QAS updates, as on an MCU) or fp32.")
    var precision: Precision = .int8

    @Flag(help: "int8 only: keep fp32 master copies of the updatable weights (4 bytes each, charged) instead of updating the int8 weights with stochastic rounding.")
    var masterWeights = false

    @Option(help: "Where weights live: external (writable external memory; weights don't count) or flash (read-only; updatable weights need SRAM copies).")
    var placement: WeightPlacement = .external

    @Flag(help: "Keep gradient buffers until the end of the step instead of applying each update as soon as it exists.")
    var unfused = false

    @Option(help: "Most conv biases to train, counted from the last conv.")
    var maxBiasUnits: Int = 12

    @Option(help: "Most convs whose weights train.")
    var maxWeightLayers: Int = 4

    @Option(help: "Fraction of each weight layer's input channels trained per step.")
    var ratio: Double = 0.125

    func validate() throws {
        if ratio <= 0 || ratio > 1 { throw ValidationError("--ratio must be in (0, 1], got \(ratio)") }
        if maxBiasUnits < 0 || maxWeightLayers < 0 { throw ValidationError("--max-bias-units and --max-weight-layers must be ≥ 0") }
    }

    func options(batch: Int) -> MemoryOptions {
        MemoryOptions(precision: precision, placement: placement, fused: !unfused, batch: batch, masterWeights: masterWeights)
    }

    func search(dynamic: Bool) -> LayoutSearchOptions {
        LayoutSearchOptions(maxBiasUnits: maxBiasUnits, maxWeightLayers: maxWeightLayers, ratio: ratio, dynamic: dynamic)
    }
}
