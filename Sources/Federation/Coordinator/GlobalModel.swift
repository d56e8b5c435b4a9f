// The coordinator's global model: the current folded weights, their version, a few past
// versions (to send PATCHes to nodes that hold them), and the MODEL message a node needs.
import Engine
import Wire

/// The global model and its recent history.
public struct GlobalModel {
    /// The wire schema.
    public let schema: ModelSchema
    /// The architecture.
    public let arch: Architecture
    /// Current version (≥ 1).
    public private(set) var version: UInt64 = 1
    /// Current weights, one dense array per schema tensor.
    public private(set) var values: [[Float]]
    /// How many past versions to keep for PATCHes.
    public let keep: Int
    private var history: [UInt64: [[Float]]] = [:]
    private let template: Network

    /// Version 1 of `net` (folded), keeping `keep` versions.
    public init(_ net: Network, keep: Int) {
        arch = net.arch
        template = net
        schema = ModelTensors.schema(net.arch)
        values = ModelTensors.values(net)
        self.keep = keep
        history[1] = values
    }

    /// Restores version `version` with `values` (from a checkpoint); no past versions are kept,
    /// so nodes holding an older version get a SNAPSHOT.
    public init(_ net: Network, keep: Int, restoring values: [[Float]], version: UInt64) {
        self.init(net, keep: keep)
        history = [version: values]
        self.values = values
        self.version = version
    }

    /// The current weights as a network.
    public var network: Network { ModelTensors.network(arch, values: values, template: template) }

    /// Installs the next version.
    public mutating func advance(to next: [[Float]]) {
        version += 1
        values = next
        history[version] = next
        for v in history.keys where v + UInt64(keep) <= version { history[v] = nil }
    }

    /// The MODEL bringing a node from `held` (0: nothing) to the current version, or nil when
    /// it already holds it: a PATCH when `held` is still kept, else a SNAPSHOT.
    public func message(from held: UInt64) -> ModelMessage? {
        if held == version { return nil }
        if held != 0, held < version, let old = history[held] {
            return ModelPatching.patch(version: version, baseVersion: held, schema: schema, old: old, new: values)
        }
        return ModelMessage.snapshot(version: version, schema: schema, values: values)
    }
}
