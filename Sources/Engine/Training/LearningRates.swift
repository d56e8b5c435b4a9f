// SGD learning rates per parameter group: the classifier (head), the conv biases, and the conv
// weights (with, in dense training, BatchNorm's scale and shift). The classifier usually wants a
// much larger rate than the convs tolerate (BENCHMARKS.md). One number means the same rate for
// all three; in JSON a rate is either a number or {"head": …, "bias": …, "weights": …}.

/// Learning rates per parameter group.
public struct LearningRates: Equatable, Hashable, Sendable, Codable, CustomStringConvertible, ExpressibleByFloatLiteral {
    /// The classifier's weight and bias.
    public var head: Float
    /// Conv biases.
    public var bias: Float
    /// Conv weights (and BatchNorm γ, β in dense training).
    public var weights: Float

    /// Three rates.
    public init(head: Float, bias: Float, weights: Float) { self.head = head; self.bias = bias; self.weights = weights }

    /// One rate for every group.
    public init(_ rate: Float) { self.init(head: rate, bias: rate, weights: rate) }

    /// `0.05` stands for 0.05 in every group.
    public init(floatLiteral value: Float) { self.init(value) }

    /// Whether all three are equal.
    public var isUniform: Bool { head == bias && bias == weights }

    /// The largest of the three.
    public var largest: Float { max(head, bias, weights) }

    /// The group whose rate is not finite and > 0, if any.
    public var problem: String? {
        for (name, r) in [("head", head), ("bias", bias), ("weights", weights)] where !(r.isFinite && r > 0) {
            return "the \(name) learning rate must be finite and > 0, got \(r)"
        }
        return nil
    }

    /// `0.05`, or `head 0.1, bias 0.01, weights 0.003`.
    public var description: String {
        isUniform ? "\(head)" : "head \(head), bias \(bias), weights \(weights)"
    }

    enum CodingKeys: String, CodingKey { case head, bias, weights }

    /// A number, or an object with all three keys.
    public init(from decoder: Decoder) throws {
        if let single = try? decoder.singleValueContainer(), let rate = try? single.decode(Float.self) {
            self.init(rate)
            return
        }
        let c = try decoder.container(keyedBy: CodingKeys.self)
        self.init(head: try c.decode(Float.self, forKey: .head), bias: try c.decode(Float.self, forKey: .bias),
                  weights: try c.decode(Float.self, forKey: .weights))
    }

    /// A number when uniform, else the object.
    public func encode(to encoder: Encoder) throws {
        if isUniform {
            var c = encoder.singleValueContainer()
            try c.encode(head)
        } else {
            var c = encoder.container(keyedBy: CodingKeys.self)
            try c.encode(head, forKey: .head); try c.encode(bias, forKey: .bias); try c.encode(weights, forKey: .weights)
        }
    }
}
