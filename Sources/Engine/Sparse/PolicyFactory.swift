// Building a policy by name.

/// Options that only some policies read.
public struct PolicyOptions: Equatable, Sendable, Codable {
    /// How `static` picks its channels.
    public var staticRule: StaticChannelRule = .weightNorm
    /// What `dgsu` ranks by.
    public var importance: ImportanceMeasure = .gradient
    /// DGSU's age horizon A.
    public var ageHorizon: Int = 8

    /// Defaults: static by weight norm, DGSU by running gradient norm with A = 8.
    public init(staticRule: StaticChannelRule = .weightNorm, importance: ImportanceMeasure = .gradient, ageHorizon: Int = 8) {
        self.staticRule = staticRule; self.importance = importance; self.ageHorizon = ageHorizon
    }
}

/// Makes policies.
public enum PolicyFactory {
    /// A fresh policy of `kind` over `layout`, initialised from `network`.
    public static func make(_ kind: PolicyKind, layout: SparseLayout, network: Network, seed: UInt64,
                            options: PolicyOptions = PolicyOptions()) -> any UpdatePolicy {
        switch kind {
        case .dense: return DensePolicy()
        case .head: return HeadPolicy()
        case .bias: return BiasPolicy(layout: layout)
        case .static: return StaticPolicy(layout: layout, network: network, rule: options.staticRule)
        case .dgsu: return DGSUPolicy(layout: layout, network: network, measure: options.importance, ageHorizon: options.ageHorizon)
        case .random: return RandomPolicy(layout: layout, arch: network.arch, seed: seed)
        }
    }

    /// Whether `kind` changes its channels during a run (so every candidate must be writable under flash).
    public static func isDynamic(_ kind: PolicyKind) -> Bool { kind == .dgsu || kind == .random }
}
