// How a device's SRAM is counted: byte widths, where weights live, fused updates, batch.

/// Byte-width regime of a device.
public enum Precision: String, Sendable, Codable, CaseIterable {
    /// int8 activations and weights, fp32 gradients and updates (as on an MCU).
    case int8
    /// fp32 everywhere.
    case fp32
}

/// Where the model's weights live.
public enum WeightPlacement: String, Sendable, Codable, CaseIterable {
    /// Read-only flash: every weight that may be updated needs a writable copy in SRAM
    /// (for dynamic policies, every candidate channel of every update layer).
    case flash
    /// Writable external memory: weights never count against on-chip SRAM (the paper's
    /// "within 256 KB" reading).
    case external
}

/// The options of the memory model.
public struct MemoryOptions: Hashable, Sendable, Codable {
    /// Byte widths.
    public var precision: Precision = .int8
    /// Weight placement.
    public var placement: WeightPlacement = .external
    /// Apply each layer's update as soon as its gradient exists, then free the gradient buffer.
    public var fused: Bool = true
    /// Samples per step. The frozen front runs one sample at a time and stores its outputs; the
    /// trainable tail runs on the whole batch.
    public var batch: Int = 1
    /// int8 devices: keep an fp32 master copy of every weight that may be updated (4 bytes each,
    /// in SRAM), update it, and round the int8 weights from it. Off: the int8 weights are updated
    /// in place with stochastic rounding and nothing else is held.
    public var masterWeights: Bool = false
    /// Ditto's personal model: a second copy of every parameter the device can update (the
    /// candidate channels of its update layers, its trained biases and classifier) at the weight
    /// width, held in SRAM whatever the placement.
    public var personalCopy: Bool = false

    /// Defaults: int8, external weights, fused, batch 1, no master weights, no personal copy.
    public init(precision: Precision = .int8, placement: WeightPlacement = .external, fused: Bool = true, batch: Int = 1,
                masterWeights: Bool = false, personalCopy: Bool = false) {
        self.precision = precision; self.placement = placement; self.fused = fused; self.batch = batch
        self.masterWeights = masterWeights; self.personalCopy = personalCopy
    }

    enum CodingKeys: String, CodingKey { case precision, placement, fused, batch, masterWeights, personalCopy }

    /// Decodes, with every key optional (absent keys keep the defaults).
    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        precision = try c.decodeIfPresent(Precision.self, forKey: .precision) ?? .int8
        placement = try c.decodeIfPresent(WeightPlacement.self, forKey: .placement) ?? .external
        fused = try c.decodeIfPresent(Bool.self, forKey: .fused) ?? true
        batch = try c.decodeIfPresent(Int.self, forKey: .batch) ?? 1
        masterWeights = try c.decodeIfPresent(Bool.self, forKey: .masterWeights) ?? false
        personalCopy = try c.decodeIfPresent(Bool.self, forKey: .personalCopy) ?? false
    }

    /// Whether the step holds fp32 master weights (int8 devices configured with them).
    public var holdsMasters: Bool { masterWeights && precision == .int8 }

    /// Bytes per activation value.
    public var activationBytes: Int { precision == .int8 ? 1 : 4 }
    /// Bytes per gradient value (always fp32).
    public var gradientBytes: Int { 4 }
    /// Bytes per writable weight value.
    public var weightBytes: Int { precision == .int8 ? 1 : 4 }
    /// Bytes per writable bias value (int32 accumulators on int8 devices, fp32 otherwise).
    public var biasBytes: Int { 4 }
}
