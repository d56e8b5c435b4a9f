import XCTest
@testable import Wire

/// Real encoded sizes of updates against the dense f32 model.
final class WireSizeTests: XCTestCase {
    func testReportIsTheRealEncodedSize() throws {
        let delta = Fixtures.delta()
        let report = try WireSize.report(delta: delta, schema: Fixtures.schema)
        let frames = try WireCodec().encode(.update(UpdateMessage(deviceID: "device-00000", round: 1, baseModelVersion: 1, sampleCount: 1000,
                                                                  metrics: {
                                                                      var m = PBTrainingMetrics()
                                                                      m.steps = 10; m.lossFirst = 2.302; m.lossLast = 1.5
                                                                      m.peakMemoryBytes = 200_000; m.computeSeconds = 0.25
                                                                      return m
                                                                  }(), delta: delta)), schema: Fixtures.schema)
        XCTAssertEqual(report.updateBytes, frames.reduce(0) { $0 + $1.count })
        XCTAssertEqual(report.headerBytes, frames[1].count)
        XCTAssertEqual(report.updateBytes, 8 + report.headerBytes + report.payloadBytes)
        XCTAssertEqual(report.valueCount, 216 + 8 + 20 + 10)
        // f32 payload: 3+2 u16 indices and 254 values of 4 bytes.
        XCTAssertEqual(report.payloadBytes, 5 * 2 + 254 * 4)
        XCTAssertEqual(report.denseF32Bytes, Fixtures.schema.denseF32Bytes)

        let f16 = try WireSize.report(delta: delta, schema: Fixtures.schema, encoding: .f16)
        let int8 = try WireSize.report(delta: delta, schema: Fixtures.schema, encoding: .int8)
        XCTAssertEqual(f16.payloadBytes, 5 * 2 + 254 * 2)
        XCTAssertEqual(int8.payloadBytes, 4 * 4 + 5 * 2 + 254)
        XCTAssertLessThan(int8.ratio, f16.ratio)
        print("wire size, test schema (dense f32 \(report.denseF32Bytes) B): f32 \(report.updateBytes) B, f16 \(f16.updateBytes) B, int8 \(int8.updateBytes) B")
    }

    /// A MobileNetV2-like late conv stack: 2 % of the conv weights touched, biases of 4 layers.
    func testTypicalSparseUpdateOfAMobileNetSizedModel() throws {
        var specs: [TensorSpec] = []
        for (i, (cout, cin)) in [(960, 160), (160, 960), (960, 160), (320, 960), (1280, 320)].enumerated() {
            specs.append(TensorSpec(name: "conv\(i).weight", shape: [cout, cin, 1, 1]))
            specs.append(TensorSpec(name: "conv\(i).bias", shape: [cout]))
        }
        specs.append(TensorSpec(name: "classifier.weight", shape: [10, 1280]))
        specs.append(TensorSpec(name: "classifier.bias", shape: [10]))
        let schema = ModelSchema(specs)
        var tensors: [TensorDelta] = []
        for s in specs.suffix(8) where s.shape.count == 4 {
            let k = max(1, s.channelCount / 16)
            let channels = Array(stride(from: 0, to: s.channelCount, by: s.channelCount / k).prefix(k))
            tensors.append(TensorDelta(name: s.name, channels: .subset(channels), values: Fixtures.values(s.valueCount(channels: k), seed: 1)))
        }
        for s in specs.suffix(6) where s.shape.count == 1 {
            tensors.append(TensorDelta(name: s.name, channels: .all, values: Fixtures.values(s.elementCount, seed: 2)))
        }
        tensors.append(TensorDelta(name: "classifier.weight", channels: .all, values: Fixtures.values(12_800, seed: 3)))
        for encoding in ValueEncoding.allCases {
            let r = try WireSize.report(delta: SparseDelta(tensors), schema: schema, encoding: encoding)
            XCTAssertLessThan(r.ratio, 0.2)
            print("wire size, MobileNetV2-tail schema (\(schema.parameterCount) params, dense f32 \(r.denseF32Bytes) B): \(encoding) update \(r.updateBytes) B = \(String(format: "%.2f", 100 * r.ratio)) % (\(r.valueCount) values, header \(r.headerBytes) B)")
        }
    }
}
