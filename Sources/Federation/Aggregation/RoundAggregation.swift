// The round-level decision around a rule: enough updates → aggregate; too few → skip, model
// unchanged. And the rule a configuration names.
import Wire

/// What a round's aggregation did.
public struct RoundAggregationResult: Sendable {
    /// Whether the round was skipped for too few updates.
    public var skipped: Bool
    /// The outcome (the unchanged model when skipped).
    public var outcome: AggregationOutcome
}

/// Round-level aggregation.
public enum RoundAggregation {
    /// Aggregates `input` with `rule` when it has at least `minUpdates` results, else skips.
    public static func run(_ rule: any AggregationRule, _ input: AggregationInput, minUpdates: Int) -> RoundAggregationResult {
        guard input.results.count >= minUpdates, !input.results.isEmpty else {
            return RoundAggregationResult(skipped: true, outcome: AggregationOutcome(model: input.model, state: input.state, touchedChannels: [:]))
        }
        return RoundAggregationResult(skipped: false, outcome: rule.aggregate(input))
    }

    /// The first tensor of `outcome`'s model with a NaN or infinite value: such a round must not
    /// be applied (every tensor is checked, since momentum moves untouched ones too).
    public static func nonFiniteTensor(_ outcome: AggregationOutcome, schema: ModelSchema) -> String? {
        for i in outcome.model.indices where outcome.model[i].contains(where: { !$0.isFinite }) {
            return schema.tensors[i].name
        }
        return nil
    }

    /// The rule `config` names.
    public static func rule(_ config: AggregationConfig) -> any AggregationRule {
        switch config.rule {
        case .mean:
            return config.momentum > 0
                ? ServerMomentumRule(serverLearningRate: config.serverLearningRate, momentum: config.momentum)
                : WeightedMeanRule(serverLearningRate: config.serverLearningRate)
        case .median: return CoordinateMedianRule(serverLearningRate: config.serverLearningRate, minContributors: config.minContributors)
        case .trimmedMean:
            return TrimmedMeanRule(trim: config.trim, serverLearningRate: config.serverLearningRate, minContributors: config.minContributors)
        }
    }
}
