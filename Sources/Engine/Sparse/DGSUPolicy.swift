// Dynamic Gradient Sparse Update (Li & Chang, ISCAS 2024): the same layers and per-step channel
// budget as the static sparse update, but every step re-picks the channels by importance with
// rotation, so that over a run most channels of the update layers get trained.
//
// Score of input channel c of a weight-trained conv at step t:
//     score_c = importance_c · (1 + min(age_c, A) / A)
// where age_c counts the steps since c was last trained and A is the age horizon (default 8).
// Importance (the `measure` option):
//   - `gradient` (default): a running average of ‖∂L/∂W[:, c]‖₂ over the steps that trained c
//     (EMA with decay β = 0.5); a channel never trained yet ranks first (ties: larger weight norm),
//     so every channel is visited once before the ranking takes over;
//   - `weight`: ‖W[:, c]‖₂ of the current weights.
// The top-k scores train (ties: the longest-waiting channel first); their age resets to 0,
// every other age grows by 1.
// Stage-awareness: the layout only holds units of the late stages; the front stays frozen.

/// What DGSU ranks channels by.
public enum ImportanceMeasure: String, Sendable, Codable, CaseIterable {
    /// Running gradient norm per channel.
    case gradient
    /// Current weight norm per channel.
    case weight
}

/// A channel's rank in DGSU's choice as one comparable key: (unvisited, score, age, −channel)
/// in that order of precedence, folded into two unsigned words.
struct RankKey: Comparable {
    /// Unvisited flag above the score's order-preserving bits.
    let high: UInt64
    /// Age above the inverted channel index (a lower index ranks higher).
    let low: UInt64
    /// The channel.
    let channel: Int

    init(unvisited: Bool, score: Float, age: Int, channel: Int) {
        // A float's bits, flipped so that unsigned order is numeric order (−0 counts as +0;
        // scores are norms, never NaN).
        let bits = (score == 0 ? Float(0) : score).bitPattern
        let ordered = bits & 0x8000_0000 != 0 ? ~bits : bits | 0x8000_0000
        high = (unvisited ? 1 << 32 : 0) | UInt64(ordered)
        low = UInt64(UInt32(clamping: age)) << 32 | UInt64(UInt32.max - UInt32(truncatingIfNeeded: channel))
        self.channel = channel
    }

    static func < (a: RankKey, b: RankKey) -> Bool { (a.high, a.low) < (b.high, b.low) }
    static func == (a: RankKey, b: RankKey) -> Bool { a.high == b.high && a.low == b.low }
}

/// The dynamic sparse policy.
public struct DGSUPolicy: UpdatePolicy, Codable, Equatable {
    /// `dgsu`.
    public var name: String { "dgsu" }
    /// The layout (layers and per-step budget).
    public let layout: SparseLayout
    /// Ranking measure.
    public let measure: ImportanceMeasure
    /// Age horizon A.
    public let ageHorizon: Int
    /// EMA decay of the running gradient norm.
    public let decay: Float
    /// Unit → per-channel importance (nil entries: never trained).
    public var importance: [Int: [Float?]] { rank.mapValues { $0.map { $0.isNaN ? nil : $0 } } }
    /// Unit → per-channel importance, NaN for a channel never trained (4 bytes a channel: a node
    /// holds this for every device that has trained).
    private var rank: [Int: [Float]]
    /// Unit → per-channel weight norms (the tie-breaker, and the `weight` measure).
    public private(set) var weightNorms: [Int: [Float]]
    /// Unit → steps since each channel was last trained.
    public var ages: [Int: [Int]] { waited.mapValues { $0.map(Int.init) } }
    /// Unit → steps since each channel was last trained (saturating at Int32.max).
    private var waited: [Int: [Int32]]
    /// Unit → the only channels it may pick (a dealt block under secure aggregation's
    /// `dealt+dgsu`); nil: every channel. The others still age.
    public var allowed: [Int: Set<Int32>]? = nil

    /// A DGSU policy for `layout`, initialised from `network`'s weights.
    public init(layout: SparseLayout, network: Network, measure: ImportanceMeasure = .gradient,
                ageHorizon: Int = 8, decay: Float = 0.5) {
        precondition(ageHorizon > 0, "DGSU: age horizon must be positive")
        self.layout = layout
        self.measure = measure
        self.ageHorizon = ageHorizon
        self.decay = decay
        rank = [:]; weightNorms = [:]; waited = [:]
        for u in layout.weightChannels.keys {
            let norms = ChannelNorms.inputChannelWeightNorms(network, unit: u)
            weightNorms[u] = norms
            rank[u] = [Float](repeating: .nan, count: norms.count)
            waited[u] = [Int32](repeating: 0, count: norms.count)
        }
    }

    private enum CodingKeys: String, CodingKey { case layout, measure, ageHorizon, decay, importance, weightNorms, ages, allowed }

    /// Decodes the saved form (importance with nil for untrained channels, ages as integers).
    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        layout = try c.decode(SparseLayout.self, forKey: .layout)
        measure = try c.decode(ImportanceMeasure.self, forKey: .measure)
        ageHorizon = try c.decode(Int.self, forKey: .ageHorizon)
        decay = try c.decode(Float.self, forKey: .decay)
        rank = try c.decode([Int: [Float?]].self, forKey: .importance).mapValues { $0.map { $0 ?? .nan } }
        weightNorms = try c.decode([Int: [Float]].self, forKey: .weightNorms)
        waited = try c.decode([Int: [Int]].self, forKey: .ages).mapValues { $0.map { Int32(clamping: $0) } }
        allowed = try c.decodeIfPresent([Int: Set<Int32>].self, forKey: .allowed)
    }

    /// Encodes the saved form (importance with nil for untrained channels, ages as integers).
    public func encode(to encoder: Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(layout, forKey: .layout)
        try c.encode(measure, forKey: .measure)
        try c.encode(ageHorizon, forKey: .ageHorizon)
        try c.encode(decay, forKey: .decay)
        try c.encode(importance, forKey: .importance)
        try c.encode(weightNorms, forKey: .weightNorms)
        try c.encode(ages, forKey: .ages)
        try c.encodeIfPresent(allowed, forKey: .allowed)
    }

    /// Scores each channel and trains the top k per unit (a partial selection, not a sort).
    public mutating func nextPlan() -> UpdatePlan {
        var chans: [Int: [Int32]] = [:]
        for (u, k) in layout.weightChannels {
            let norms = weightNorms[u]!, imp = rank[u]!
            let horizon = Float(ageHorizon)
            let allowedHere = allowed?[u]
            // Each channel's rank, as one key ordered like the tuple (unvisited, score, age,
            // −index): unvisited channels (gradient measure) before every visited one, by weight
            // norm; visited ones by importance × the age bonus; ties (e.g. every channel past the
            // age horizon) to the channel waiting longest, then to the lower index.
            var keys: [RankKey] = []
            keys.reserveCapacity(norms.count)
            waited[u]!.withUnsafeBufferPointer { age in
                for c in norms.indices where allowedHere?.contains(Int32(c)) ?? true {
                    let unvisited = measure == .gradient && imp[c].isNaN
                    let score: Float
                    if unvisited {
                        score = norms[c]
                    } else {
                        let bonus = 1 + Float(min(Int(age[c]), ageHorizon)) / horizon
                        score = (measure == .weight ? norms[c] : imp[c]) * bonus
                    }
                    keys.append(RankKey(unvisited: unvisited, score: score, age: Int(age[c]), channel: c))
                }
            }
            let picked = TopK.largest(&keys, k: k).map { Int32($0.channel) }.sorted()
            chans[u] = picked
            waited[u]!.withUnsafeMutableBufferPointer { age in
                for c in age.indices where age[c] < Int32.max { age[c] += 1 }
                for c in picked { age[Int(c)] = 0 }
            }
        }
        let plan = UpdatePlan(biasUnits: Set(layout.biasUnits), weightChannels: chans, trainClassifier: layout.trainClassifier)
        return plan
    }

    /// The `weight` measure ranks by the trained channels' new norms. Under `gradient` a trained
    /// channel is visited and ranks by its gradient from then on, so its weight norm (the order of
    /// unvisited channels only) is never read again and is not measured.
    public var wantsWeightNorms: Bool { measure == .weight }

    /// Folds the step's per-channel gradient norms into the running importance, and takes up
    /// the trained channels' new weight norms (the ranking of the `weight` measure and the
    /// tie-breaker of unvisited channels follow the current weights).
    public mutating func observe(_ feedback: StepFeedback, plan: UpdatePlan) {
        for (u, norms) in feedback.channelWeightNorms {
            guard var w = weightNorms[u], let chans = plan.weightChannels[u], chans.count == norms.count else { continue }
            for (c, norm) in zip(chans, norms) where Int(c) < w.count { w[Int(c)] = norm }
            weightNorms[u] = w
        }
        for (u, norms) in feedback.channelGradientNorms {
            guard rank[u] != nil, let chans = plan.weightChannels[u], chans.count == norms.count, var imp = rank.removeValue(forKey: u) else { continue }
            for (c, norm) in zip(chans, norms) {
                let i = Int(c)
                imp[i] = imp[i].isNaN ? norm : decay * imp[i] + (1 - decay) * norm
            }
            rank[u] = imp
        }
    }

    /// Refreshes every weight norm from `network` (a device calls it when a round's global model
    /// replaces its weights; within a run, `observe` keeps the trained channels' norms current).
    public mutating func refreshWeightNorms(_ network: Network) {
        for u in layout.weightChannels.keys { weightNorms[u] = ChannelNorms.inputChannelWeightNorms(network, unit: u) }
    }
}
