import Engine
@testable import Federation
import Wire
import XCTest

/// `node run --state-dir`: a device restored from its saved state carries on exactly where it was.
final class DeviceStateTests: XCTestCase {
    /// The tiny synthetic fleet with one device per stateful policy and a personal head.
    func config() throws -> FederationConfig {
        try FederationConfig.parse(Data(#"""
        {"seed": 11, "model": {"name": "tiny", "resolution": 16}, "dataset": {"name": "synthetic", "syntheticCount": 600},
         "partition": {"kind": "dirichlet", "alpha": 1.0, "minShard": 20},
         "deviceDefaults": {"localSteps": 5, "batch": 4, "learningRate": 0.05},
         "devices": [{"id": "dev-0", "policy": "dgsu"}, {"id": "dev-1", "policy": "random"}, {"id": "dev-2", "policy": "static"}],
         "personalisation": {"personal": "head+biases"},
         "rounds": {"count": 2}}
        """#.utf8))
    }

    func testARestoredDeviceTrainsTheSameNextRoundAsAnUninterruptedOne() throws {
        let c = try config()
        let train = try FederatedData.trainingSet(c)
        let arch = DevicePlans.architecture(c, classes: train.classes)
        let shards = try FederatedData.shards(c, labels: train.labels, classes: train.classes)
        let net = try DevicePlans.initialModel(c, classes: train.classes)
        let folder = NSTemporaryDirectory() + "sf-devstate-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
        let store = try DeviceStateStore(folder: folder)
        defer { try? FileManager.default.removeItem(atPath: folder) }
        func task(_ round: UInt64, _ id: String) -> PBTask {
            var t = PBTask()
            t.round = round; t.deviceID = id; t.modelVersion = round; t.localSteps = 5; t.learningRate = 0.05; t.batchSize = 4
            return t
        }
        for (index, id) in ["dev-0", "dev-1", "dev-2"].enumerated() {
            func device() throws -> VirtualDevice {
                try VirtualDevice(settings: c.device(id)!, index: index, shard: shards[id]!, train: train, config: c, arch: arch)
            }
            // Uninterrupted: two rounds (global model unchanged between them, enough to test the state).
            let plain = try device()
            _ = try plain.run(task: task(1, id), global: net, version: 1)
            let expected = try plain.run(task: task(2, id), global: net, version: 2)

            // Interrupted: one round, save, a fresh device restores, second round.
            let first = try device()
            let r1 = try first.run(task: task(1, id), global: net, version: 1)
            try store.save(first.state(lastResult: r1))
            XCTAssertNotEqual(r1.update.delta, expected.update.delta, "\(id): the second round must depend on the state, or this test proves nothing")
            let saved = try XCTUnwrap(store.load(id))
            XCTAssertEqual(saved.lastResult?.outcome.update.delta, r1.update.delta, "\(id): the cached update must survive bitwise")
            let restarted = try device()
            try restarted.restore(saved)
            let got = try restarted.run(task: task(2, id), global: net, version: 2)
            XCTAssertEqual(got.update.delta, expected.update.delta, "\(id): a restored device must train what it would have trained")
            XCTAssertEqual(got.personalBefore, expected.personalBefore, "\(id): personal parameters must survive")
            XCTAssertEqual(got.personalAfter, expected.personalAfter)
        }
        XCTAssertNil(try store.load("dev-3"))
    }

    func testAStateOfAnotherPolicyIsRefusedWithTheFix() throws {
        let c = try config()
        let train = try FederatedData.trainingSet(c)
        let arch = DevicePlans.architecture(c, classes: train.classes)
        let shards = try FederatedData.shards(c, labels: train.labels, classes: train.classes)
        let d = try VirtualDevice(settings: c.device("dev-0")!, index: 0, shard: shards["dev-0"]!, train: train, config: c, arch: arch)
        var s = d.state(lastResult: nil)
        s.policyKind = "random"
        XCTAssertThrowsError(try d.restore(s)) { XCTAssertTrue("\($0)".contains("delete its file in --state-dir"), "\($0)") }
    }
}
