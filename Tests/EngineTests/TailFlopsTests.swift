// TailFlops against counts written out by hand from EfficientNet-Lite0's shapes at 64×64.
@testable import Engine
import XCTest

final class TailFlopsTests: XCTestCase {
    let arch = EfficientNetLite.lite0(classes: 10)
    let batch = 8
    /// The classifier's multiply-adds × 2 at batch 8: 1280 features → 10 classes.
    var classifier: Double { 2.0 * 8 * 10 * 1280 }
    /// `_conv_head` (1×1, 320 → 1280) on its 2×2 output (64 / 32), × 2 at batch 8.
    var head: Double { 2.0 * 8 * 2 * 2 * 320 * 1280 }

    func testClassifierOnlyCountsTheClassifierForwardAndItsWeightGradient() {
        let f = TailFlops(arch: arch, layout: SparseLayout(), batch: batch, height: 64, width: 64)
        XCTAssertEqual(f.forward, classifier)
        XCTAssertEqual(f.inputGradients, 0, "nothing below the classifier trains")
        XCTAssertEqual(f.weightGradients, classifier)
    }

    func testTheHeadConvsWeightsByHand() throws {
        let u = try XCTUnwrap(arch.units.firstIndex { $0.name == "_conv_head" })
        let full = TailFlops(arch: arch, layout: SparseLayout(biasUnits: [u], weightChannels: [u: 320]), batch: batch, height: 64, width: 64)
        XCTAssertEqual(full.forward, head + classifier)
        XCTAssertEqual(full.inputGradients, classifier, "the gradient reaches the head's output through the classifier only")
        XCTAssertEqual(full.weightGradients, head + classifier)
        // 40 of 320 input channels: an eighth of the head's weight gradient.
        let sparse = TailFlops(arch: arch, layout: SparseLayout(weightChannels: [u: 40]), batch: batch, height: 64, width: 64)
        XCTAssertEqual(sparse.weightGradients, head / 8 + classifier)
        XCTAssertEqual(sparse.total, full.total - head * 7 / 8)
    }

    func testALowerLayerAddsItsBlocksForwardAndTheInputGradientsAboveIt() throws {
        // `_blocks.15._project_conv` (1152 → 320, 2×2): the forward starts at block 15's expand conv.
        let p = try XCTUnwrap(arch.units.firstIndex { $0.name == "_blocks.15._project_conv" })
        let f = TailFlops(arch: arch, layout: SparseLayout(weightChannels: [p: 144]), batch: batch, height: 64, width: 64)
        let expand = 2.0 * 8 * 4 * 192 * 1152, depthwise = 2.0 * 8 * 4 * 1152 * 9, project = 2.0 * 8 * 4 * 1152 * 320
        XCTAssertEqual(f.forward, expand + depthwise + project + head + classifier)
        XCTAssertEqual(f.inputGradients, head + classifier)
        XCTAssertEqual(f.weightGradients, project * 144 / 1152 + classifier)
    }
}
