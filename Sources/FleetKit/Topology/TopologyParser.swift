// Reads a topology YAML strictly: unknown keys, wrong types and out-of-range values are refused
// with the key, the line and what is allowed. Budgets are checked separately (BudgetCheck).
import Engine
import Federation
import Foundation
import Yams

/// Parses topology files.
public enum TopologyParser {
    /// Top-level keys.
    static let topKeys = ["name", "seed", "dataset", "preprocessing", "model", "memory", "search", "groups", "partition", "rounds",
                          "layout", "aggregation", "privacy", "secureAggregation", "attacks", "encoding", "coordinatedSchedule", "curve", "personalisation", "nodes", "network",
                          "faults", "heartbeatMs", "sweep", "compare"]

    /// Reads and parses `path`.
    public static func load(path: String) throws -> Topology {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw TopologyError(file: path, line: nil, key: "", problem: "cannot read the file; check the path (topologies live in topologies/*.yaml)")
        }
        let fallback = ((path as NSString).lastPathComponent as NSString).deletingPathExtension
        return try parse(String(decoding: data, as: UTF8.self), file: path, defaultName: fallback)
    }

    /// Parses YAML text; `file` names it in errors.
    public static func parse(_ text: String, file: String = "topology", defaultName: String = "fleet") throws -> Topology {
        let root: Node
        do {
            guard let n = try Yams.compose(yaml: text) else {
                throw TopologyError(file: file, line: nil, key: "", problem: "the file is empty; start from topologies/quickstart.yaml")
            }
            root = n
        } catch let e as YamlError {
            throw TopologyError(file: file, line: yamlLine(e), key: "", problem: "not valid YAML: \(e)")
        }
        let top = try YAMLObject(root, file: file, path: "")
        try top.onlyKeys(topKeys)
        if top.value("compare") != nil {
            throw top.error("compare", "compare.policies is replaced by the general sweep; write `sweep:` with the line `groups[*].policy: [static, dgsu, random]` under it (see topologies/README.md)")
        }
        guard let sweep = try top.object("sweep") else { return try parse(root: root, text: text, file: file, defaultName: defaultName) }
        let axes = try SweepExpansion.axes(sweep)
        guard case var .mapping(base) = root else { return try parse(root: root, text: text, file: file, defaultName: defaultName) }
        base["sweep"] = nil
        var cells: [SweepCell] = []
        for combination in SweepExpansion.grid(axes.map(\.values.count)) {
            var cellRoot = Node.mapping(base)
            for (a, i) in zip(axes, combination) {
                cellRoot = try SweepExpansion.set(a.values[i], at: a.steps[...], in: cellRoot, file: file, path: "sweep.\(a.axis.path)", line: a.line)
            }
            let values = zip(axes, combination).map { $0.axis.values[$1] }
            let settings = zip(axes, values).map { SweepSetting(path: $0.axis.path, value: $1) }
            let cell: Topology
            do {
                cell = try parse(root: cellRoot, text: text, file: file, defaultName: defaultName)
            } catch var e as TopologyError {
                e.problem += " (in the sweep cell \(settings.map { "\($0.path)=\($0.value)" }.joined(separator: ", ")))"
                throw e
            }
            cells.append(SweepCell(label: SweepExpansion.label(axes: axes.map(\.axis), values: values), settings: settings, topology: cell))
        }
        var t = cells[0].topology
        t.sweep = axes.map(\.axis)
        t.cells = cells
        return t
    }

    /// Parses one topology (a file without `sweep:`, or one cell of a sweep).
    static func parse(root: Node, text: String, file: String, defaultName: String) throws -> Topology {
        let top = try YAMLObject(root, file: file, path: "")
        let name = try top.string("name", default: defaultName)
        guard !name.isEmpty, name.allSatisfy({ $0.isLetter || $0.isNumber || $0 == "-" || $0 == "_" }) else {
            throw top.error("name", "'\(name)' must be letters, digits, '-' or '_' (it names the run folder)")
        }
        let seed = try top.int("seed", default: 1, in: 0...Int.max)

        var dataset = DatasetConfig()
        if let d = try top.object("dataset") {
            try d.onlyKeys(["name", "directory", "trainSamples", "testSamples", "syntheticCount"])
            let n = try d.choice("name", DatasetName.allCases.map(\.rawValue), default: "synthetic")
            dataset.name = DatasetName(rawValue: n)!
            dataset.directory = try d.string("directory")
            dataset.trainSamples = try d.int("trainSamples", default: 0, in: 0...10_000_000)
            dataset.testSamples = try d.int("testSamples", default: 0, in: 0...10_000_000)
            dataset.syntheticCount = try d.int("syntheticCount", default: 2000, in: 20...10_000_000)
            if dataset.name == .mnist || dataset.name == .cifar10, dataset.directory == nil {
                throw d.error("name", "\(n) has no default folder; add `directory:` with the data set's files")
            }
        }
        var model = ModelConfig()
        if let p = try top.object("preprocessing") {
            try p.onlyKeys(["resolution", "normalisation"])
            model.resolution = try p.int("resolution", default: 16, in: 8...512)
            _ = try p.choice("normalisation", ["imagenet"], default: "imagenet")
        }
        if let m = try top.object("model") {
            try m.onlyKeys(["name", "weights"])
            model.name = ModelName(rawValue: try m.choice("name", ModelName.allCases.map(\.rawValue), default: "tiny"))!
            let w = try m.string("weights", default: "pretrained")
            switch w {
            case "pretrained": model.pretrained = true; model.weights = nil
            case "none", "random": model.pretrained = false; model.weights = nil
            default:
                guard w.hasSuffix(".safetensors") else {
                    throw m.error("weights", "'\(w)' is not allowed; use pretrained, none, or a path to a .safetensors file")
                }
                model.pretrained = true; model.weights = (w as NSString).expandingTildeInPath
            }
        }
        var memory = MemoryOptions()
        if let m = try top.object("memory") {
            try m.onlyKeys(["precision", "placement", "fused", "masterWeights"])
            memory.precision = Precision(rawValue: try m.choice("precision", Precision.allCases.map(\.rawValue), default: "int8"))!
            memory.placement = WeightPlacement(rawValue: try m.choice("placement", WeightPlacement.allCases.map(\.rawValue), default: "external"))!
            memory.fused = try m.bool("fused", default: true)
            memory.masterWeights = try m.bool("masterWeights", default: false)
        }
        var search = LayoutSearchOptions()
        if let s = try top.object("search") {
            try s.onlyKeys(["maxBiasUnits", "maxWeightLayers", "ratio"])
            search.maxBiasUnits = try s.int("maxBiasUnits", default: 12, in: 0...1000)
            search.maxWeightLayers = try s.int("maxWeightLayers", default: 4, in: 0...1000)
            search.ratio = try s.double("ratio", default: 0.125, in: 0...1, lowerOpen: true)
        }
        if let l = try top.object("layout") {
            search.explicit = try explicitLayout(l, model: model.name)
        }
        let groups = try parseGroups(top, file: file)

        var partition = PartitionConfig()
        partition.kind = "iid"
        if let p = try top.object("partition") {
            try p.onlyKeys(["kind", "alpha", "minShard", "classesPerDevice"])
            partition.kind = try p.choice("kind", ["iid", "dirichlet", "classes"], default: "iid")
            partition.alpha = try p.double("alpha", default: 0.5, in: 0...1000, lowerOpen: true)
            partition.minShard = try p.int("minShard", default: 20, in: 2...1_000_000)
            partition.classesPerDevice = try p.int("classesPerDevice", default: 2, in: 1...1000)
        }
        var rounds = RoundConfig()
        var simulatedDeadline: Int?
        rounds.joinWaitMs = 120_000
        rounds.deadlineMs = 120_000
        rounds.finalWaitMs = 60_000
        if let r = try top.object("rounds") {
            try r.onlyKeys(["count", "sampleFraction", "minUpdates", "deadline", "joinWait", "finalWait", "simulatedDeadline", "lrSchedule"])
            rounds.count = try r.int("count", default: 3, in: 1...100_000)
            rounds.sampleFraction = try r.double("sampleFraction", default: 1, in: 0...1, lowerOpen: true)
            rounds.minUpdates = try r.int("minUpdates", default: 1, in: 1...1_000_000)
            rounds.deadlineMs = try r.milliseconds("deadline", default: rounds.deadlineMs, in: 1...86_400_000)
            rounds.joinWaitMs = try r.milliseconds("joinWait", default: rounds.joinWaitMs, in: 1...86_400_000)
            rounds.finalWaitMs = try r.milliseconds("finalWait", default: rounds.finalWaitMs, in: 1...86_400_000)
            rounds.lrSchedule = LearningRateSchedule(rawValue: try r.choice("lrSchedule", LearningRateSchedule.allCases.map(\.rawValue), default: "constant"))!
            if r.value("simulatedDeadline") != nil {
                simulatedDeadline = try r.milliseconds("simulatedDeadline", default: 0, in: 1...864_000_000)
            }
        }
        var aggregation = AggregationConfig()
        if let a = try top.object("aggregation") {
            try a.onlyKeys(["rule", "serverLearningRate", "momentum", "trim", "maxUpdateNorm", "minContributors"])
            aggregation.rule = AggregationRuleName(rawValue: try a.choice("rule", AggregationRuleName.allCases.map(\.rawValue), default: "mean"))!
            aggregation.serverLearningRate = Float(try a.double("serverLearningRate", default: 1, in: 0...100, lowerOpen: true))
            aggregation.momentum = Float(try a.double("momentum", default: 0, in: 0...0.999))
            aggregation.trim = try a.double("trim", default: 0.1, in: 0...0.49)
            if a.value("maxUpdateNorm") != nil {
                aggregation.maxUpdateNorm = try a.double("maxUpdateNorm", default: 1, in: 0...1e12, lowerOpen: true)
            }
            aggregation.minContributors = try a.int("minContributors", default: 3, in: 1...100_000)
        }
        var privacy = PrivacyConfig()
        let privacyBlock = try top.object("privacy")
        if let p = privacyBlock {
            try p.onlyKeys(["mode", "clip", "noiseMultiplier", "targetEpsilon", "delta", "sampling", "rate", "maxEpsilon"])
            privacy.mode = PrivacyMode(rawValue: try p.choice("mode", PrivacyMode.allCases.map(\.rawValue), default: "central"))!
            privacy.clip = try p.double("clip", default: 1, in: 0...1e9, lowerOpen: true)
            if p.value("noiseMultiplier") != nil { privacy.noiseMultiplier = try p.double("noiseMultiplier", default: 1, in: 0...1e6) }
            if p.value("targetEpsilon") != nil { privacy.targetEpsilon = try p.double("targetEpsilon", default: 1, in: 0...1e6, lowerOpen: true) }
            if privacy.noiseMultiplier != nil && privacy.targetEpsilon != nil {
                throw p.error("targetEpsilon", "give noiseMultiplier or targetEpsilon, not both (targetEpsilon calibrates the noise multiplier)")
            }
            if privacy.enabled && privacy.noiseMultiplier == nil && privacy.targetEpsilon == nil {
                throw p.error("noiseMultiplier", "give noiseMultiplier (e.g. 1.0) or targetEpsilon (e.g. 8)")
            }
            if p.value("delta") != nil { privacy.delta = try p.double("delta", default: 1e-5, in: 0...1, lowerOpen: true) }
            privacy.sampling = SamplingKind(rawValue: try p.choice("sampling", SamplingKind.allCases.map(\.rawValue), default: "poisson"))!
            if p.value("rate") != nil { privacy.rate = try p.double("rate", default: 1, in: 0...1, lowerOpen: true) }
            if p.value("maxEpsilon") != nil { privacy.maxEpsilon = try p.double("maxEpsilon", default: 10, in: 0...1e6, lowerOpen: true) }
        }
        var secure = SecureAggregationConfig()
        let secureBlock = try top.object("secureAggregation")
        if let s = secureBlock {
            try s.onlyKeys(["mode", "neighbours", "threshold", "valueBits", "clip", "phaseDeadline", "groupSize", "blockFactor", "randomness"])
            secure.mode = SecureAggregationMode(rawValue: try s.choice("mode", SecureAggregationMode.allCases.map(\.rawValue), default: "candidates"))!
            if s.value("neighbours") != nil { secure.neighbours = try s.int("neighbours", default: 4, in: 2...4096) }
            if s.value("threshold") != nil { secure.threshold = try s.int("threshold", default: 3, in: 2...4096) }
            secure.valueBits = try s.int("valueBits", default: 20, in: 2...30)
            if s.value("clip") != nil { secure.clip = try s.double("clip", default: 1, in: 0...1e9, lowerOpen: true) }
            secure.phaseDeadlineMs = try s.milliseconds("phaseDeadline", default: 10_000, in: 1...3_600_000)
            secure.groupSize = try s.int("groupSize", default: 4, in: 3...64)
            secure.blockFactor = try s.int("blockFactor", default: 3, in: 1...16)
            secure.randomness = SecAggRandomness(rawValue: try s.choice("randomness", SecAggRandomness.allCases.map(\.rawValue), default: "seeded"))!
        }
        var attacks = AttacksConfig()
        if let a = try top.object("attacks") {
            try a.onlyKeys(["membership", "shadowModels"])
            attacks.membership = try a.bool("membership", default: false)
            attacks.shadowModels = try a.int("shadowModels", default: 4, in: AttacksConfig.shadowModelRange)
        }
        let encoding = EncodingName(rawValue: try top.choice("encoding", EncodingName.allCases.map(\.rawValue), default: "f32"))!
        let coordinated = try top.bool("coordinatedSchedule", default: false)
        let curve = try top.bool("curve", default: false)
        var personalisation = PersonalisationConfig()
        if let p = try top.object("personalisation") {
            try p.onlyKeys(["method", "personal", "testFraction", "finetuneSteps", "headSteps", "lambda"])
            personalisation.method = PersonalisationMethod(rawValue: try p.choice("method", PersonalisationMethod.allCases.map(\.rawValue), default: "fedper"))!
            // FedPer named as the method keeps its head personal unless `personal` says otherwise;
            // without a method, nothing is personal (plain FedAvg), as before the methods existed.
            let fedperDefault = p.value("method") != nil && personalisation.method == .fedper ? "head" : "none"
            personalisation.personal = PersonalParameters(rawValue: try p.choice("personal", PersonalParameters.allCases.map(\.rawValue), default: fedperDefault))!
            if personalisation.personal != .none, personalisation.method != .fedper {
                throw p.error("personal", "is FedPer's setting; method \(personalisation.method.rawValue) decides what is personal itself (fedrep: the head, local: everything, finetune and ditto: a separate copy). Remove `personal`, or set method: fedper")
            }
            personalisation.testFraction = try p.double("testFraction", default: 0.2, in: 0...0.9, lowerOpen: true)
            personalisation.finetuneSteps = try p.int("finetuneSteps", default: 20, in: 0...PersonalisationConfig.maxSteps)
            personalisation.headSteps = try p.int("headSteps", default: 5, in: 1...PersonalisationConfig.maxSteps)
            personalisation.lambda = try p.double("lambda", default: 0.1, in: 0...1e6)
        }
        var nodes = NodeLayout(count: 1, split: "round-robin")
        if let n = try top.object("nodes") {
            try n.onlyKeys(["count", "split"])
            nodes.count = try n.int("count", default: 1, in: 1...256)
            nodes.split = try n.choice("split", ["round-robin", "contiguous"], default: "round-robin")
        }
        let total = groups.reduce(0) { $0 + $1.count }
        if nodes.count > total {
            throw top.error("nodes", "\(nodes.count) node processes for \(total) devices; every node needs at least one device")
        }
        var network = NetworkModel(latencyMs: 50, bandwidthKbps: 1000, dropProbability: 0)
        if let n = try top.object("network") {
            try n.onlyKeys(["latencyMs", "bandwidthKbps", "dropProbability", "proxy", "duplicateProbability", "reorderProbability", "jitterMs"])
            network.latencyMs = try n.double("latencyMs", default: 50, in: 0...600_000)
            network.bandwidthKbps = try n.double("bandwidthKbps", default: 1000, in: 0...100_000_000, lowerOpen: true)
            network.dropProbability = try n.double("dropProbability", default: 0, in: 0...0.9)
            network.proxy = try n.bool("proxy", default: false)
            network.duplicateProbability = try n.double("duplicateProbability", default: 0, in: 0...1)
            network.reorderProbability = try n.double("reorderProbability", default: 0, in: 0...1)
            network.jitterMs = try n.double("jitterMs", default: 0, in: 0...60_000)
            if !network.proxy {
                for key in ["duplicateProbability", "reorderProbability", "jitterMs"] where n.value(key) != nil {
                    throw n.error(key, "applies to the real wire only; add `proxy: on` to this network block (or remove the key)")
                }
            }
            if network.proxy, network.latencyMs > 60_000 {
                throw n.error("latencyMs", "\(network.latencyMs) ms is too long for the real wire (proxy: on); allowed [0, 60000]")
            }
        }
        var faults = Faults(killNode: nil, killAfterRound: 1, corruptNode: nil, corruptRound: 1)
        if let f = try top.object("faults") {
            try f.onlyKeys(["killNode", "killAfterRound", "corruptNode", "corruptRound"])
            if f.value("killNode") != nil { faults.killNode = try f.int("killNode", default: 1, in: 1...nodes.count) }
            faults.killAfterRound = try f.int("killAfterRound", default: 1, in: 1...max(1, rounds.count - 1))
            if f.value("corruptNode") != nil { faults.corruptNode = try f.int("corruptNode", default: 1, in: 1...nodes.count) }
            faults.corruptRound = try f.int("corruptRound", default: 1, in: 1...rounds.count)
            if faults.killNode != nil, nodes.count < 2 {
                throw f.error("killNode", "killing the only node leaves no devices; use nodes.count of 2 or more")
            }
        }
        let heartbeat = try top.int("heartbeatMs", default: 500, in: 10...60_000)
        var t = Topology(name: name, about: about(text), seed: UInt64(seed), dataset: dataset, model: model, memory: memory, search: search,
                        groups: groups, partition: partition, rounds: rounds, aggregation: aggregation, encoding: encoding,
                        coordinatedSchedule: coordinated, curve: curve, personalisation: personalisation, nodes: nodes,
                        simulatedDeadlineMs: simulatedDeadline, network: network, faults: faults, heartbeatMs: heartbeat)
        t.privacy = privacy
        t.secureAggregation = secure
        t.attacks = attacks
        if let p = privacyBlock {
            // The rules that need the whole run (δ < 1/N, a reachable target ε, no robust rule),
            // refused at the line of the key they concern.
            let config = FleetPlan(t).config
            do {
                try config.privacy.validate(config)
            } catch let ConfigError.invalid(path, reason) {
                throw p.error(path.hasPrefix("privacy.") ? String(path.dropFirst("privacy.".count)) : "mode",
                              path.hasPrefix("privacy.") ? reason : "\(path): \(reason)")
            }
        }
        if secureBlock != nil || privacy.mode == .distributed {
            // Secure aggregation's rules need the whole run too (a mean rule, at least 3 devices, the ring).
            let config = FleetPlan(t).config
            do {
                try config.secureAggregation.validate(config)
            } catch let ConfigError.invalid(path, reason) {
                if let s = secureBlock, path.hasPrefix("secureAggregation.") {
                    throw s.error(String(path.dropFirst("secureAggregation.".count)), reason)
                }
                if let p = privacyBlock, path == "privacy.mode" { throw p.error("mode", reason) }
                throw (secureBlock ?? top).error(secureBlock == nil ? "privacy" : "mode", "\(path): \(reason)")
            }
        }
        return t
    }

    /// Why `dense` is refused.
    static let denseRefusal = "dense is refused by the federation (it needs BatchNorm in training mode and the whole model on each device); use head, bias, static, dgsu or random"

    /// The device groups.
    static func parseGroups(_ top: YAMLObject, file: String) throws -> [DeviceGroup] {
        guard let list = try top.list("groups"), !list.isEmpty else {
            throw TopologyError(file: file, line: top.node.mark?.line, key: "groups",
                                problem: "no device groups; add `groups:` with at least one `- {name: mcu, count: 8, budget: 256KB}`")
        }
        var groups: [DeviceGroup] = []
        for (i, node) in list.enumerated() {
            let g = try YAMLObject(node, file: file, path: "groups[\(i)]")
            try g.onlyKeys(["name", "count", "budget", "policy", "localSteps", "batch", "lr", "schedule", "mflops"])
            let name = try g.string("name", default: "group\(i)")
            guard !name.isEmpty, name.allSatisfy({ $0.isLetter || $0.isNumber || $0 == "-" || $0 == "_" }) else {
                throw g.error("name", "'\(name)' must be letters, digits, '-' or '_' (it prefixes device ids)")
            }
            if groups.contains(where: { $0.name == name }) { throw g.error("name", "'\(name)' is used by two groups; names must be unique") }
            let policyText = try g.string("policy", default: "dgsu")
            guard let policy = PolicyKind(rawValue: policyText) else {
                throw g.error("policy", "'\(policyText)' is not a policy; use one of head, bias, static, dgsu, random")
            }
            guard policy != .dense else { throw g.error("policy", denseRefusal) }
            groups.append(DeviceGroup(
                name: name, count: try g.int("count", default: 1, in: 1...100_000),
                budget: try g.bytes("budget", default: 256 * 1024, in: 1024...(64 << 20)), policy: policy,
                localSteps: try g.int("localSteps", default: 10, in: 1...100_000), batch: try g.int("batch", default: 1, in: 1...1024),
                learningRate: try learningRates(g),
                localSchedule: LearningRateSchedule(rawValue: try g.choice("schedule", LearningRateSchedule.allCases.map(\.rawValue), default: "constant"))!,
                mflops: try g.double("mflops", default: 100, in: 0...1e9, lowerOpen: true),
                budgetLine: (g.value("budget") ?? node).mark?.line))
        }
        return groups
    }

    /// `layout:`, a hand-written layout: `weights` (conv name → fraction of its input channels
    /// per step), `biasLayers` (biases of the last n convs) and `classifier` (on). The names are
    /// checked against `model` here, the memory against each group's budget by BudgetCheck.
    static func explicitLayout(_ l: YAMLObject, model: ModelName) throws -> ExplicitLayout {
        try l.onlyKeys(["weights", "biasLayers", "classifier"])
        var weights: [String: Double] = [:]
        if let w = try l.object("weights") {
            for e in w.entries { weights[e.key] = try w.double(e.key, default: 0.125, in: 0...1, lowerOpen: true) }
        }
        let explicit = ExplicitLayout(weights: weights, biasLayers: try l.int("biasLayers", default: 0, in: 0...10_000),
                                      classifier: try l.bool("classifier", default: true))
        do {
            _ = try explicit.layout(ModelZoo.architecture(model, classes: 10))
        } catch let e as ExplicitLayoutError {
            throw l.error(e.description.contains("biasLayers") ? "biasLayers" : "weights", e.description)
        }
        return explicit
    }

    /// A group's `lr`: one number for every parameter group, or `{head: …, bias: …, weights: …}`.
    static func learningRates(_ g: YAMLObject) throws -> LearningRates {
        guard let v = g.value("lr"), case .mapping = v else {
            return LearningRates(Float(try g.double("lr", default: 0.05, in: 0...10, lowerOpen: true)))
        }
        let m = try YAMLObject(v, file: g.file, path: YAMLObject.join(g.path, "lr"))
        try m.onlyKeys(["head", "bias", "weights"])
        for key in ["head", "bias", "weights"] where m.value(key) == nil {
            throw m.error(key, "missing; give all three rates, e.g. {head: 0.1, bias: 0.01, weights: 0.003}, or one number for all")
        }
        func rate(_ key: String) throws -> Float { Float(try m.double(key, default: 0.05, in: 0...10, lowerOpen: true)) }
        return LearningRates(head: try rate("head"), bias: try rate("bias"), weights: try rate("weights"))
    }

    /// The opening comment block of the file, without the `#` marks.
    static func about(_ text: String) -> String {
        var lines: [String] = []
        for line in text.split(separator: "\n", omittingEmptySubsequences: false) {
            let t = line.trimmingCharacters(in: .whitespaces)
            guard t.hasPrefix("#") else { break }
            lines.append(String(t.dropFirst()).trimmingCharacters(in: .whitespaces))
        }
        return lines.joined(separator: " ").trimmingCharacters(in: .whitespaces)
    }

    /// The line of a Yams error, when it has one.
    static func yamlLine(_ e: YamlError) -> Int? {
        switch e {
        case let .scanner(_, _, mark, _), let .parser(_, _, mark, _): return mark.line
        default: return nil
        }
    }
}
