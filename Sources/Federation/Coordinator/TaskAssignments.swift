// The coordinated channel schedule on the coordinator's side (`rounds.coordinatedSchedule`):
// every sampled device gets, in its TASK, the input channels of each update layer it must train
// this round (Engine's CoordinatedSchedule: disjoint rotating blocks). Devices with the same
// sparse layout share one schedule, so within a round their channels are disjoint; devices with
// different layouts (budgets) are scheduled separately. The schedule is a pure function of the
// seed and the round, so a resumed coordinator deals the same channels again.
import Engine
import Wire

/// Builds TASK channel assignments from coordinated schedules.
public struct TaskAssignments: Sendable {
    /// Layout of each device.
    public let layouts: [String: SparseLayout]
    private let schedules: [(layout: SparseLayout, schedule: CoordinatedSchedule)]

    /// One schedule per distinct layout among `layouts`, permutations drawn from `seed`.
    public init(layouts: [String: SparseLayout], arch: Architecture, seed: UInt64) {
        self.layouts = layouts
        var s: [(layout: SparseLayout, schedule: CoordinatedSchedule)] = []
        for id in layouts.keys.sorted() where !s.contains(where: { $0.layout == layouts[id]! }) {
            s.append((layouts[id]!, CoordinatedSchedule(layout: layouts[id]!, arch: arch, seed: seed &+ UInt64(s.count))))
        }
        schedules = s
    }

    /// Device → its assignments (one per update layer's weight tensor, sorted by tensor name)
    /// for the `sampled` devices of `round`.
    public func assignments(round: UInt64, sampled: [String], schema: ModelSchema) -> [String: [PBChannelAssignment]] {
        var out: [String: [PBChannelAssignment]] = [:]
        for (layout, schedule) in schedules {
            let group = sampled.filter { layouts[$0] == layout }
            guard !group.isEmpty else { continue }
            for (device, units) in schedule.assign(round: Int(round), devices: group) {
                out[device] = units.map { u, channels in
                    var a = PBChannelAssignment()
                    a.tensor = schema.tensors[2 * u].name
                    a.channels = channels.map { UInt32($0) }
                    return a
                }.sorted { $0.tensor < $1.tensor }
            }
        }
        return out
    }
}
