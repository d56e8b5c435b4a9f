// The coordinator's refusals, one unit test each: UpdateAdmission (STALE, DUPLICATE,
// UNKNOWN_DEVICE, a tensor outside the layout, the wrong round, the wrong encoding, the norm
// bound, lying metrics, the weight) and JoinAdmission (FORBIDDEN names and devices, size,
// reconnects by key, squatters without CURVE).
@testable import Federation
import Wire
import XCTest

final class UpdateAdmissionTests: XCTestCase {
    let schema = ModelSchema([TensorSpec(name: "conv.weight", shape: [4, 6, 1, 1]), TensorSpec(name: "conv.bias", shape: [4]),
                              TensorSpec(name: "fc.weight", shape: [3, 8])])

    var admission: UpdateAdmission {
        UpdateAdmission(schema: schema, trainable: ["a": [0, 1], "b": [1]], weights: ["a": 120, "b": 80],
                        maxNorms: ["a": 10, "b": 10], localSteps: ["a": 5, "b": 5], encoding: .f32)
    }

    var round: OpenRound { OpenRound(round: 4, version: 7, sampled: ["a", "b"]) }

    func update(_ id: String = "a", round: UInt64 = 4, version: UInt64 = 7, tensor: String = "conv.bias", value: Float = 0.5,
                encoding: ValueEncoding = .f32, claimed: UInt64 = 1) -> UpdateMessage {
        UpdateMessage(deviceID: id, round: round, baseModelVersion: version, sampleCount: claimed,
                      delta: SparseDelta([TensorDelta(name: tensor, channels: .all, values: [Float](repeating: value, count: 4), encoding: encoding)]))
    }

    func refusal(_ u: UpdateMessage, owned: Bool = true, round r: OpenRound? = nil, file: StaticString = #filePath, line: UInt = #line) -> UpdateRefusal? {
        switch admission.admit(u, owned: owned, round: r ?? round) {
        case .success: return nil
        case let .failure(f): return f
        }
    }

    func testAnHonestUpdateIsWeighedByItsShardSizeNotItsClaim() throws {
        let r = try admission.admit(update(claimed: 1 << 31), owned: true, round: round).get()
        XCTAssertEqual(r.sampleCount, 120, "the configured shard size, never sample_count")
    }

    func testUnknownDevice() {
        XCTAssertEqual(refusal(update(), owned: false)?.error.code, .unknownDevice)
        XCTAssertEqual(refusal(update("zz"))?.error.code, .unknownDevice)
    }

    func testStale() {
        XCTAssertEqual(refusal(update(round: 3))?.error.code, .stale, "a closed round")
        XCTAssertEqual(refusal(update(version: 6))?.error.code, .stale, "an older base version")
        XCTAssertEqual(admission.admit(update(), owned: true, round: nil).failureCode, .stale, "no round open")
    }

    func testWrongRoundAndFutureVersion() {
        XCTAssertEqual(refusal(update(round: 5))?.error.code, .unexpectedMessage, "a round not started")
        XCTAssertEqual(refusal(update(version: 8))?.error.code, .unexpectedMessage, "a version from the future")
        var r = round
        r.sampled = ["b"]
        XCTAssertEqual(refusal(update(), round: r)?.error.code, .unexpectedMessage, "a device with no task this round")
    }

    func testDuplicate() throws {
        var r = round
        r.results["a"] = try admission.admit(update(), owned: true, round: r).get()
        XCTAssertEqual(refusal(update(), round: r)?.error.code, .duplicate)
        XCTAssertEqual(refusal(update(), round: r)?.failsTask, false, "a duplicate leaves the accepted update alone")
    }

    func testATensorOutsideTheLayoutFailsTheTask() {
        let f = refusal(update("b", tensor: "conv.weight"))
        XCTAssertEqual(f?.error.code, .schemaMismatch)
        XCTAssertEqual(f?.failsTask, true)
    }

    func testTheWrongEncodingIsRefused() {
        let f = refusal(update(encoding: .f16))
        XCTAssertEqual(f?.error.code, .malformed)
        XCTAssertEqual(f?.failsTask, true)
    }

    func testTheNormBoundIsInclusiveAndRefusesAbove() {
        XCTAssertNil(refusal(update(value: 5)), "‖Δ‖ = 10 is exactly the bound")
        let f = refusal(update(value: 5.001))
        XCTAssertEqual(f?.error.code, .outOfRange)
        XCTAssertEqual(f?.failsTask, true)
        XCTAssertEqual(refusal(update(value: 3e38))?.error.code, .outOfRange, "f64 accumulation: no overflow to a finite-looking norm")
    }

    func testLyingTrainingMetricsAreRefused() {
        var u = update()
        u.metrics.steps = 6
        XCTAssertEqual(refusal(u)?.error.code, .outOfRange, "more steps than the task asked for")
        u = update()
        u.metrics.lossLast = .infinity
        XCTAssertEqual(refusal(u)?.error.code, .outOfRange)
        u = update()
        u.metrics.accuracy = 1.5
        XCTAssertEqual(refusal(u)?.error.code, .outOfRange)
        u = update()
        u.metrics.accuracy = .nan
        XCTAssertNil(refusal(u), "NaN accuracy means not measured")
    }

    func testDefaultNormBoundScalesWithLearningRateAndSteps() {
        var c = FederationConfig()
        c.devices = [DeviceConfig(id: "a")]
        let d = c.resolvedDevices[0]
        XCTAssertEqual(c.aggregation.maxUpdateNorm(for: d), Double(d.learningRate.largest) * Double(d.localSteps) * AggregationConfig.gradientNormBound, accuracy: 1e-9)
        c.aggregation.maxUpdateNorm = 3
        XCTAssertEqual(c.aggregation.maxUpdateNorm(for: d), 3)
        c.aggregation.maxUpdateNorm = -1
        XCTAssertThrowsError(try c.validate()) { XCTAssertTrue("\($0)".contains("maxUpdateNorm"), "\($0)") }
    }

    func testMetricValuesMustBeFiniteAndAccuraciesInTheUnitInterval() {
        XCTAssertNil(MetricKey.problem(key: MetricKey.personalAfter, value: 0.5))
        XCTAssertNil(MetricKey.problem(key: MetricKey.personalFinal, value: 1))
        XCTAssertEqual(MetricKey.problem(key: MetricKey.personalAfter, value: .infinity)?.code, .outOfRange)
        XCTAssertEqual(MetricKey.problem(key: MetricKey.personalFinal, value: .nan)?.code, .outOfRange)
        XCTAssertEqual(MetricKey.problem(key: MetricKey.personalBefore, value: -0.1)?.code, .outOfRange)
        XCTAssertNil(MetricKey.problem(key: "train_loss", value: 12))
    }
}

final class JoinAdmissionTests: XCTestCase {
    let allow = CurveConfig(serverPublicKey: String(repeating: "s", count: 40), clients: [
        CurveClient(publicKey: String(repeating: "a", count: 40), node: "node-a", devices: ["d0", "d1"]),
        CurveClient(publicKey: String(repeating: "b", count: 40), node: "node-b", devices: ["d2"]),
    ])
    let keyA = String(repeating: "a", count: 40), keyB = String(repeating: "b", count: 40)

    func join(_ node: String, _ devices: [String]) -> PBJoin {
        var j = PBJoin()
        j.nodeName = node
        j.devices = devices.map { var d = PBDeviceInfo(); d.deviceID = $0; return d }
        return j
    }

    func code(_ d: JoinDecision) -> PBErrorCode? {
        if case let .refuse(e, _) = d { return e.code }
        return nil
    }

    func testTheAllowListBindsNamesAndDevicesToKeys() {
        let rules = JoinAdmission(configured: ["d0", "d1", "d2"], allowList: allow)
        XCTAssertEqual(rules.decide(join("node-a", ["d0", "d1"]), identity: [1], key: keyA, peers: [:], owner: [:]), .admit(devices: ["d0", "d1"], retire: []))
        XCTAssertEqual(code(rules.decide(join("node-a", ["d0"]), identity: [1], key: keyB, peers: [:], owner: [:])), .forbidden, "another node's name")
        XCTAssertEqual(code(rules.decide(join("node-b", ["d0"]), identity: [1], key: keyB, peers: [:], owner: [:])), .forbidden, "another node's device")
        XCTAssertEqual(code(rules.decide(join("node-a", ["d0"]), identity: [1], key: nil, peers: [:], owner: [:])), .forbidden, "no key")
        XCTAssertEqual(code(rules.decide(join("node-b", ["d2", "d9"]), identity: [1], key: keyB, peers: [:], owner: [:])), .tooLarge, "more devices than the key holds")
        XCTAssertLessThan(rules.maxHeaderBytes(key: keyB), rules.maxHeaderBytes(key: keyA), "the header bound follows the devices a key holds")
        XCTAssertGreaterThan(rules.maxHeaderBytes(key: keyA), 2 * 300, "room for two devices with 255-byte ids")
    }

    func testAReconnectingNodeIsRecognisedByItsKeyNotItsName() {
        let rules = JoinAdmission(configured: ["d0", "d1", "d2"], allowList: allow)
        let peers: [[UInt8]: PeerInfo] = [[1]: PeerInfo(name: "node-a", key: keyA, devices: ["d0", "d1"], heldVersion: 1, interval: 100, lastSent: 0)]
        let owner: [String: [UInt8]] = ["d0": [1], "d1": [1]]
        XCTAssertEqual(rules.decide(join("node-a", ["d0", "d1"]), identity: [2], key: keyA, peers: peers, owner: owner),
                       .admit(devices: ["d0", "d1"], retire: [[1]]), "same key: the old connection is retired")
        XCTAssertEqual(rules.decide(join("node-a", ["d0"]), identity: [2], key: keyA, peers: peers, owner: owner),
                       .admit(devices: ["d0"], retire: [[1]]), "one connection per key")
    }

    func testWithoutCurveNamesAreTakenAtTheirWordButDevicesMustBeConfigured() {
        let rules = JoinAdmission(configured: ["d0", "d1"], allowList: nil)
        XCTAssertFalse(rules.authenticated)
        XCTAssertEqual(code(rules.decide(join("x", ["d7"]), identity: [1], key: nil, peers: [:], owner: [:])), .unknownDevice)
        let peers: [[UInt8]: PeerInfo] = [[1]: PeerInfo(name: "node-a", key: nil, devices: ["d0"], heldVersion: 1, interval: 100, lastSent: 0)]
        XCTAssertEqual(code(rules.decide(join("other", ["d0"]), identity: [2], key: nil, peers: peers, owner: ["d0": [1]])), .unexpectedMessage,
                       "a device held by another node")
        XCTAssertEqual(rules.decide(join("node-a", ["d0"]), identity: [2], key: nil, peers: peers, owner: ["d0": [1]]),
                       .admit(devices: ["d0"], retire: [[1]]), "unauthenticated: the same name is the same node")
        XCTAssertEqual(code(rules.decide(join("x", ["d0", "d1", "d0"]), identity: [3], key: nil, peers: [:], owner: [:])), .tooLarge)
    }

    func testTheAllowListIsValidated() {
        var c = FederationConfig()
        c.devices = ["d0", "d1", "d2"].map { DeviceConfig(id: $0) }
        c.curve = allow
        XCTAssertNoThrow(try c.validate())
        c.curve!.clients[1].devices = ["d1"]
        XCTAssertThrowsError(try c.validate()) { XCTAssertTrue("\($0)".contains("already served"), "\($0)") }
        c.curve = allow
        c.curve!.clients[1].devices = []
        XCTAssertThrowsError(try c.validate()) { XCTAssertTrue("\($0)".contains("served by no node key"), "\($0)") }
        c.curve = allow
        c.curve!.clients[1].node = "node-a"
        XCTAssertThrowsError(try c.validate()) { XCTAssertTrue("\($0)".contains("listed twice"), "\($0)") }
    }
}

extension Result where Failure == UpdateRefusal {
    /// The refusal's ERROR code, if refused.
    var failureCode: PBErrorCode? {
        if case let .failure(f) = self { return f.error.code }
        return nil
    }
}
