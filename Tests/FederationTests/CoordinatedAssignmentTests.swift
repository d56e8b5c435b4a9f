import Engine
@testable import Federation
import Wire
import XCTest

/// `rounds.coordinatedSchedule`: the coordinator deals disjoint channels, and a device trains
/// exactly the channels its TASK assigns.
final class CoordinatedAssignmentTests: XCTestCase {
    /// The end-to-end tests' 4-device synthetic fleet (tiny net, 16×16), coordinated.
    func config() throws -> FederationConfig {
        try FederationConfig.parse(Data(#"""
        {"seed": 11, "model": {"name": "tiny", "resolution": 16}, "dataset": {"name": "synthetic", "syntheticCount": 600},
         "partition": {"kind": "dirichlet", "alpha": 1.0, "minShard": 20},
         "deviceDefaults": {"localSteps": 4, "batch": 4, "learningRate": 0.05},
         "devices": [{"id": "dev-0"}, {"id": "dev-1"}, {"id": "dev-2"}, {"id": "dev-3"}],
         "rounds": {"count": 2, "coordinatedSchedule": true}}
        """#.utf8))
    }

    func testARoundsDevicesGetDisjointChannelsAndTheDeviceTrainsExactlyThem() throws {
        let c = try config()
        XCTAssertTrue(c.rounds.coordinatedSchedule)
        let train = try FederatedData.trainingSet(c)
        let arch = DevicePlans.architecture(c, classes: train.classes)
        let schema = ModelTensors.schema(arch)
        var layouts: [String: SparseLayout] = [:]
        for d in c.resolvedDevices { layouts[d.id] = try DevicePlans.layout(d, arch: arch, resolution: c.model.resolution) }
        let layout = layouts["dev-0"]!
        XCTAssertFalse(layout.weightChannels.isEmpty, "the tiny net's plan must update some conv weights")
        XCTAssertTrue(layout.weightChannels.contains { 4 * $0.value <= arch.units[$0.key].inChannels },
                      "some update layer must have room for 4 disjoint blocks, or the disjointness check below is vacuous")
        let assigner = TaskAssignments(layouts: layouts, arch: arch, seed: 5)
        let devices = ["dev-0", "dev-1", "dev-2", "dev-3"]
        for round in UInt64(1)...3 {
            let a = assigner.assignments(round: round, sampled: devices, schema: schema)
            XCTAssertEqual(Set(a.keys), Set(devices))
            for (u, k) in layout.weightChannels {
                let name = schema.tensors[2 * u].name
                let channelCount = arch.units[u].inChannels
                var seen = Set<UInt32>(), total = 0
                for d in devices {
                    let chans = a[d]!.first { $0.tensor == name }!.channels
                    XCTAssertEqual(chans.count, k)
                    total += chans.count
                    seen.formUnion(chans)
                }
                if devices.count * k <= channelCount {
                    XCTAssertEqual(seen.count, total, "round \(round), \(name): the devices' channels overlap")
                }
            }
            XCTAssertEqual(assigner.assignments(round: round, sampled: devices.reversed(), schema: schema), a, "order of the sample does not matter")
        }

        // A device trains exactly the assigned channels (and its own policy's state stays put).
        let shards = try FederatedData.shards(c, labels: train.labels, classes: train.classes)
        let device = try VirtualDevice(settings: c.device("dev-1")!, index: 1, shard: shards["dev-1"]!, train: train, config: c, arch: arch)
        let net = try DevicePlans.initialModel(c, classes: train.classes)
        var task = PBTask()
        task.round = 2
        task.deviceID = "dev-1"
        task.modelVersion = 1
        task.localSteps = 4
        task.learningRate = 0.05
        task.batchSize = 4
        task.assignments = assigner.assignments(round: 2, sampled: devices, schema: schema)["dev-1"]!
        let outcome = try device.run(task: task, global: net, version: 1)
        for a in task.assignments {
            let sent = outcome.update.delta.tensors.first { $0.name == a.tensor }
            XCTAssertNotNil(sent, "\(a.tensor) was assigned but not sent")
            if case let .subset(list)? = sent?.channels {
                XCTAssertEqual(list, a.channels.map(Int.init), "\(a.tensor): the device trained other channels than assigned")
            } else {
                XCTAssertEqual(a.channels.count, schema[a.tensor]!.channelCount, "\(a.tensor): all channels sent, not all assigned")
            }
        }

        // An assignment that does not fit the device's layout is refused with the reason.
        task.assignments = [task.assignments[0]]
        if layout.weightChannels.count > 1 {
            XCTAssertThrowsError(try device.run(task: task, global: net, version: 1)) { XCTAssertTrue("\($0)".contains("update layers"), "\($0)") }
        }
    }
}
