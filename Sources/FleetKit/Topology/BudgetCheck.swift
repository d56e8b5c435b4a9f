// Every group's budget against its model and resolution, through the same layout search and
// memory planner the devices use: a group whose smallest step does not fit is refused.
import Engine
import Federation

/// What one group's devices will train and how much SRAM a step needs.
public struct GroupPlan: Codable, Equatable, Sendable {
    /// Group name.
    public var group: String
    /// Devices in the group.
    public var devices: Int
    /// Policy.
    public var policy: String
    /// Budget, bytes.
    public var budgetBytes: Int
    /// Planner's peak SRAM of one training step, bytes.
    public var peakBytes: Int
    /// Where the peak occurs.
    public var peakAt: String
    /// Conv units whose bias trains.
    public var biasLayers: Int
    /// Conv units whose weights train (channel subsets).
    public var weightLayers: Int
    /// Conv weights one step updates, % of all conv weights.
    public var convWeightsPerStepPercent: Double
    /// Training FLOPs of one sample (forward of the whole net + backward of the trained tail).
    public var flopsPerSample: Double
    /// How the devices compute and are counted: int8 or fp32 (nil in summaries before 2026-12-02).
    public var precision: String? = nil
}

/// Checks and plans device memory.
public enum BudgetCheck {
    /// Classes of every supported data set.
    static let classes = 10

    /// The plan of every group; throws a `TopologyError` at the budget line of a group that cannot fit.
    public static func plans(_ t: Topology, file: String = "topology") throws -> [GroupPlan] {
        let arch = ModelZoo.architecture(t.model.name, classes: classes)
        let res = t.model.resolution
        let geo = arch.geometries(batch: 1, height: res, width: res)
        let unitFlops = geo.map { g in 2.0 * Double(g.outChannels * g.inPerGroup * g.kernelH * g.kernelW * g.outHeight * g.outWidth) }
        let forward = unitFlops.reduce(0, +) + 2.0 * Double(arch.classes * arch.features)
        let convWeights = Double(SparseLayout.convWeightCount(arch))
        var out: [GroupPlan] = []
        for g in t.groups {
            var d = DeviceConfig(id: g.name)
            d.budget = g.budget; d.policy = g.policy; d.batch = g.batch; d.localSteps = g.localSteps; d.learningRate = g.learningRate
            var defaults = DeviceDefaults()
            defaults.memory = t.memory
            defaults.memory.personalCopy = t.personalisation.method.holdsPersonalCopy
            defaults.search = t.search
            let resolved = ResolvedDevice(d, defaults: defaults)
            let ditto = resolved.memory.personalCopy
            /// Ditto's share of a refusal: what its personal copy needs, and how much is missing.
            func copyNote(_ layout: SparseLayout?, missing: Int) -> String {
                guard ditto else { return "" }
                let copy = layout.map { StepBuffers.personalCopyBytes(arch, plan: LayoutSearch.representativePlan($0), options: resolved.memory,
                                                                      candidateChannels: LayoutSearch.candidates($0, arch: arch, dynamic: resolved.search.dynamic)) }
                return " With personalisation.method ditto the device also holds a personal copy of everything it can update\(copy.map { " (\(ByteSize.format($0)) for this layout)" } ?? ""); the budget is short by \(ByteSize.format(missing)). Raise the budget, train fewer layers (a dynamic policy's copy holds every channel of its update layers), or choose another method."
            }
            let layout: SparseLayout
            do {
                layout = try DevicePlans.layout(resolved, arch: arch, resolution: res)
            } catch let e as BudgetTooSmall {
                throw TopologyError(file: file, line: g.budgetLine, key: "groups[\(g.name)].budget",
                                    problem: "impossible budget for \(arch.name) at \(res)×\(res): \(e.description) Allowed: at least \(ByteSize.format(e.smallestPeak)) here.\(copyNote(nil, missing: e.smallestPeak - g.budget))")
            } catch let e as ExplicitLayoutError {
                throw TopologyError(file: file, line: g.budgetLine, key: "groups[\(g.name)].budget", problem: "group \(g.name): \(e.description)\(copyNote(e.layout, missing: e.missingBytes ?? 0))")
            }
            let report = LayoutSearch.report(layout, arch: arch, height: res, width: res, memory: resolved.memory, dynamic: resolved.search.dynamic)
            guard report.peak <= g.budget else {
                throw TopologyError(file: file, line: g.budgetLine, key: "groups[\(g.name)].budget",
                                    problem: "impossible budget for \(arch.name) at \(res)×\(res): a \(g.policy.rawValue) step needs \(ByteSize.format(report.peak)) at \(report.peakAt), over by \(report.peak - g.budget) B. Raise the budget to at least \(ByteSize.format(report.peak)) or lower preprocessing.resolution.\(copyNote(layout, missing: report.peak - g.budget))")
            }
            var perStep = 0
            for (u, k) in layout.weightChannels {
                let s = arch.units[u]
                perStep += (s.isDepthwise ? 1 : s.outChannels) * k * s.kernel * s.kernel
            }
            let start = LayoutSearch.representativePlan(layout).startBlock(arch)
            let firstUnit = start < arch.blocks.count ? arch.blocks[start].units.lowerBound : arch.units.count
            let backward = 2 * unitFlops[firstUnit...].reduce(0, +) + 4.0 * Double(arch.classes * arch.features)
            out.append(GroupPlan(group: g.name, devices: g.count, policy: g.policy.rawValue, budgetBytes: g.budget, peakBytes: report.peak,
                                 peakAt: report.peakAt, biasLayers: layout.biasUnits.count, weightLayers: layout.weightChannels.count,
                                 convWeightsPerStepPercent: 100 * Double(perStep) / convWeights, flopsPerSample: forward + backward,
                                 precision: t.memory.precision.rawValue))
        }
        return out
    }
}
