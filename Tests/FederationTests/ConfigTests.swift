import Engine
@testable import Federation
import Wire
import XCTest

/// The configuration file: defaults, overrides, validation messages; data and model helpers.
final class ConfigTests: XCTestCase {
    func parse(_ json: String) throws -> FederationConfig { try FederationConfig.parse(Data(json.utf8)) }

    func testGivenFieldsOverrideDefaultsAndTheRestStay() throws {
        let c = try parse(#"{"devices": [{"id": "a"}, {"id": "b", "budget": 1000, "policy": "static"}], "rounds": {"count": 5}, "deviceDefaults": {"memory": {"precision": "fp32"}}, "partition": {"kind": "iid"}}"#)
        XCTAssertEqual(c.rounds.count, 5)
        XCTAssertEqual(c.rounds.deadlineMs, RoundConfig().deadlineMs)
        XCTAssertEqual(c.deviceDefaults.memory.precision, .fp32)
        XCTAssertEqual(c.deviceDefaults.memory.placement, .external)
        XCTAssertEqual(c.partition.rule, .iid)
        let b = c.device("b")!
        XCTAssertEqual(b.budget, 1000)
        XCTAssertEqual(b.policy, .static)
        XCTAssertFalse(b.search.dynamic)
        XCTAssertEqual(c.device("a")!.budget, 256 * 1024)
        XCTAssertNoThrow(try c.validate())
        XCTAssertEqual(try parse(String(decoding: c.json(), as: UTF8.self)), c, "a written configuration reads back equal")
    }

    func testValidationNamesTheProblemAndTheFix() throws {
        XCTAssertThrowsError(try parse("{}").validate()) { XCTAssertTrue("\($0)".contains("no devices configured"), "\($0)") }
        XCTAssertThrowsError(try parse(#"{"devices": [{"id": "a"}, {"id": "a"}]}"#).validate()) { XCTAssertTrue("\($0)".contains("appears twice"), "\($0)") }
        XCTAssertThrowsError(try parse(#"{"devices": [{"id": "a", "policy": "dense"}]}"#).validate()) { XCTAssertTrue("\($0)".contains("dense"), "\($0)") }
        XCTAssertThrowsError(try parse(#"{"devices": [{"id": "a"}], "partition": {"kind": "zipf"}}"#).validate()) { XCTAssertTrue("\($0)".contains("zipf"), "\($0)") }
        XCTAssertThrowsError(try parse(#"{"devices": [{"id": "a"}], "curve": {"serverPublicKey": "short", "clients": []}}"#).validate()) {
            XCTAssertTrue("\($0)".contains("fleet keys"), "\($0)")
        }
        XCTAssertThrowsError(try parse(#"{"rounds": {"count": "three"}}"#)) { XCTAssertTrue("\($0)".contains("rounds.count"), "\($0)") }
    }

    func testShadowModelsAreCheckedAgainstTheirRange() throws {
        let c = try parse(#"{"devices": [{"id": "a"}], "attacks": {"membership": true}}"#)
        XCTAssertEqual(c.attacks.shadowModels, 4, "the default")
        XCTAssertNoThrow(try c.validate())
        for n in [2, 64] { XCTAssertNoThrow(try parse(#"{"devices": [{"id": "a"}], "attacks": {"shadowModels": \#(n)}}"#).validate()) }
        for n in [0, 1, 65, -3] {
            XCTAssertThrowsError(try parse(#"{"devices": [{"id": "a"}], "attacks": {"membership": true, "shadowModels": \#(n)}}"#).validate()) {
                XCTAssertEqual("\($0)", "configuration attacks.shadowModels: \(n) is out of range; allowed 2...64 (LiRA's shadow models per device group, default 4)")
            }
        }
    }

    func testShardsAreDeterministicDisjointAndSplitIntoPrivateTrainAndTest() throws {
        var c = try parse(#"{"devices": [{"id": "d0"}, {"id": "d1"}, {"id": "d2"}], "dataset": {"syntheticCount": 300}}"#)
        c.seed = 3
        let train = try FederatedData.trainingSet(c)
        let a = try FederatedData.shards(c, labels: train.labels, classes: train.classes)
        let b = try FederatedData.shards(c, labels: train.labels, classes: train.classes)
        XCTAssertEqual(a, b)
        var all: [Int] = []
        for (_, s) in a {
            XCTAssertFalse(s.test.isEmpty)
            XCTAssertTrue(Set(s.train).isDisjoint(with: s.test))
            all += s.train + s.test
        }
        XCTAssertEqual(all.count, Set(all).count, "shards overlap")
        XCTAssertEqual(all.count, train.count)
    }

    func testModelTensorsRoundTripAndSchemaAxes() throws {
        let net = Network(arch: MobileNetV2.tiny(classes: 10), seed: 1).folded()
        let schema = ModelTensors.schema(net.arch)
        let values = ModelTensors.values(net)
        XCTAssertEqual(values.count, schema.tensors.count)
        for (v, s) in zip(values, schema.tensors) { XCTAssertEqual(v.count, s.elementCount, s.name) }
        XCTAssertEqual(ModelTensors.network(net.arch, values: values), net)
        for (i, u) in net.arch.units.enumerated() { XCTAssertEqual(schema.tensors[2 * i].channelAxis, u.isDepthwise ? 0 : 1) }
    }

    func testDistribution() {
        let d = Distribution((1...20).map(Double.init))!
        XCTAssertEqual(d.mean, 10.5)
        XCTAssertEqual(d.p10, 2)
        XCTAssertEqual(d.worst, 1)
        XCTAssertNil(Distribution([]))
    }

    func testGlobalModelSendsPatchesFromKeptVersionsAndSnapshotsOtherwise() {
        let net = Network(arch: MobileNetV2.tiny(classes: 10), seed: 2).folded()
        var g = GlobalModel(net, keep: 2)
        XCTAssertNil(g.message(from: 1))
        var next = g.values
        next[1][0] += 1
        g.advance(to: next)
        guard case .patch(baseVersion: 1)? = g.message(from: 1)?.form else { return XCTFail("expected a patch from version 1") }
        XCTAssertEqual(g.message(from: 1)?.tensors.map(\.name), [g.schema.tensors[1].name])
        g.advance(to: next)
        g.advance(to: next)
        guard case .snapshot? = g.message(from: 1)?.form else { return XCTFail("version 1 is no longer kept: expected a snapshot") }
        guard case .snapshot? = g.message(from: 0)?.form else { return XCTFail("a node without a model needs a snapshot") }
    }
}
