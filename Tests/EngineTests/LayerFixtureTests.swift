import XCTest
@testable import Engine

/// Every layer's forward and backward against PyTorch (Tests/EngineTests/Fixtures/layers.safetensors).
/// References were computed in float64; tolerances cover float32 accumulation: 1e-5 absolute + 1e-4 relative.
final class LayerFixtureTests: XCTestCase {
    var file: SafeTensors!

    override func setUpWithError() throws { file = try Fixtures.load("layers.safetensors") }

    func t(_ name: String) -> Tensor { file.tensors[name]! }

    /// NCHW [N, C, H, W] fixture → engine CNHW.
    func cnhw(_ x: Tensor) -> [Float] { Layout.nchwToCnhw(x.data, batch: x.shape[0], channels: x.shape[1], plane: x.shape[2...].reduce(1, *)) }
    func nchw(_ x: [Float], like: Tensor) -> [Float] { Layout.cnhwToNchw(x, batch: like.shape[0], channels: like.shape[1], plane: like.shape[2...].reduce(1, *)) }

    func testConvolutionCases() throws {
        let cases = file.metadata.keys.filter { (Fixtures.config(file, $0)["kind"] as? String) == "conv" }.sorted()
        XCTAssertGreaterThanOrEqual(cases.count, 10)
        let ws = Workspace()
        for name in cases {
            let cfg = Fixtures.config(file, name)
            let stride = cfg["stride"] as! [Int], pad = cfg["padding"] as! [Int], groups = cfg["groups"] as! Int
            let x = t("\(name).x"), w = t("\(name).weight"), y = t("\(name).y")
            let g = ConvGeometry(batch: x.shape[0], inChannels: x.shape[1], outChannels: w.shape[0],
                                 height: x.shape[2], width: x.shape[3], kernelH: w.shape[2], kernelW: w.shape[3],
                                 strideH: stride[0], strideW: stride[1],
                                 padding: Padding(top: pad[0], left: pad[1], bottom: pad[2], right: pad[3]), groups: groups)
            let xc = cnhw(x), dyc = cnhw(t("\(name).dy"))
            var out = [Float](repeating: 0, count: g.outputCount)
            Conv2D.forward(y: &out, x: xc, weight: w.data, bias: t("\(name).bias").data, g: g, ws: ws)
            assertClose(nchw(out, like: y), y.data, "\(name) y")

            var dx = [Float](repeating: 0, count: g.inputCount)
            Conv2D.backwardInput(dx: &dx, dy: dyc, weight: w.data, g: g, ws: ws)
            assertClose(nchw(dx, like: x), t("\(name).dx").data, "\(name) dx")

            var dw = [Float](repeating: 0, count: g.weightCount)
            Conv2D.backwardWeight(dweight: &dw, dy: dyc, x: xc, channels: nil, g: g, ws: ws)
            assertClose(dw, t("\(name).dweight").data, "\(name) dweight")

            var db = [Float](repeating: 0, count: g.outChannels)
            Conv2D.backwardBias(dbias: &db, dy: dyc, channels: g.outChannels, plane: g.batch * g.outPlane)
            assertClose(db, t("\(name).dbias").data, "\(name) dbias")

            if let chans = file.tensors["\(name).channels"] {
                let list = chans.data.map { Int32($0) }
                let expected = t("\(name).dweight_sparse")
                var sparse = [Float](repeating: 0, count: expected.count)
                Conv2D.backwardWeight(dweight: &sparse, dy: dyc, x: xc, channels: list, g: g, ws: ws)
                assertClose(sparse, expected.data, "\(name) dweight_sparse")
                // Packed: only the chosen input maps are kept, as on a device.
                let plane = g.batch * g.inPlane
                let kept = list.flatMap { xc[Int($0) * plane..<(Int($0) + 1) * plane] }
                var packed = [Float](repeating: 0, count: expected.count)
                Conv2D.backwardWeight(dweight: &packed, dy: dyc, x: kept, channels: list, packed: true, g: g, ws: ws)
                XCTAssertEqual(packed, sparse, "\(name): packed and gathered sparse dW must agree bit for bit")
            }
        }
    }

    func testBatchNormTraining() {
        let x = t("bn_train.x")
        let c = x.shape[1], m = x.shape[0] * x.shape[2] * x.shape[3]
        var bn = BatchNormParams(gamma: t("bn_train.gamma").data, beta: t("bn_train.beta").data,
                                 runningMean: t("bn_train.running_mean").data, runningVar: t("bn_train.running_var").data, eps: 1e-5)
        var y = [Float](repeating: 0, count: x.count)
        let saved = BatchNorm.forwardTrain(y: &y, x: cnhw(x), bn: &bn, plane: m)
        assertClose(nchw(y, like: x), t("bn_train.y").data, "bn y")
        assertClose(bn.runningMean, t("bn_train.running_mean_after").data, "running mean")
        assertClose(bn.runningVar, t("bn_train.running_var_after").data, "running var")
        var dx = [Float](repeating: 0, count: x.count), dg = [Float](repeating: 0, count: c), dbeta = dg
        BatchNorm.backwardTrain(dx: &dx, dgamma: &dg, dbeta: &dbeta, dy: cnhw(t("bn_train.dy")), saved: saved, gamma: bn.gamma, plane: m)
        assertClose(nchw(dx, like: x), t("bn_train.dx").data, abs: 1e-4, "bn dx")
        assertClose(dg, t("bn_train.dgamma").data, "bn dgamma")
        assertClose(dbeta, t("bn_train.dbeta").data, "bn dbeta")
    }

    func testBatchNormFrozen() {
        let x = t("bn_eval.x")
        let bn = BatchNormParams(gamma: t("bn_eval.gamma").data, beta: t("bn_eval.beta").data,
                                 runningMean: t("bn_eval.running_mean").data, runningVar: t("bn_eval.running_var").data, eps: 1e-3)
        let (scale, shift) = BatchNorm.frozenScaleShift(bn)
        let plane = x.shape[0] * x.shape[2] * x.shape[3]
        var y = [Float](repeating: 0, count: x.count)
        BatchNorm.forwardFrozen(y: &y, x: cnhw(x), scale: scale, shift: shift, plane: plane)
        assertClose(nchw(y, like: x), t("bn_eval.y").data, "frozen bn y")
        var dx = [Float](repeating: 0, count: x.count)
        BatchNorm.backwardFrozen(dx: &dx, dy: cnhw(t("bn_eval.dy")), scale: scale, plane: plane)
        assertClose(nchw(dx, like: x), t("bn_eval.dx").data, "frozen bn dx")
    }

    func testReLU6() {
        var x = t("relu6.x").data
        let dy = t("relu6.dy").data
        x.withUnsafeMutableBufferPointer { ReLU6.forward($0.baseAddress!, count: $0.count) }
        XCTAssertEqual(x, t("relu6.y").data)
        var dx = [Float](repeating: 0, count: x.count), dxMask = dx
        ReLU6.backward(dx: &dx, dy: dy, y: x, count: x.count)
        ReLU6.backward(dx: &dxMask, dy: dy, mask: ReLU6.mask(x, count: x.count), count: x.count)
        XCTAssertEqual(dx, t("relu6.dx").data)
        XCTAssertEqual(dxMask, dx, "the 1-bit mask must give the same gradient as the activations")
    }

    func testLinear() {
        // Fixture layout is [N, F]; the engine's is feature-major [F, N].
        let x = t("linear.x"), w = t("linear.weight"), b = t("linear.bias")
        let n = x.shape[0], f = x.shape[1], o = w.shape[0]
        let xt = Layout.nchwToCnhw(x.data, batch: n, channels: f, plane: 1)
        let dyt = Layout.nchwToCnhw(t("linear.dy").data, batch: n, channels: o, plane: 1)
        var y = [Float](repeating: 0, count: o * n)
        Linear.forward(y: &y, x: xt, weight: w.data, bias: b.data, inFeatures: f, outFeatures: o, batch: n)
        assertClose(Layout.cnhwToNchw(y, batch: n, channels: o, plane: 1), t("linear.y").data, "linear y")
        var dx = [Float](repeating: 0, count: f * n), dw = [Float](repeating: 0, count: o * f), db = [Float](repeating: 0, count: o)
        Linear.backwardInput(dx: &dx, dy: dyt, weight: w.data, inFeatures: f, outFeatures: o, batch: n)
        Linear.backwardParams(dweight: &dw, dbias: &db, dy: dyt, x: xt, inFeatures: f, outFeatures: o, batch: n)
        assertClose(Layout.cnhwToNchw(dx, batch: n, channels: f, plane: 1), t("linear.dx").data, "linear dx")
        assertClose(dw, t("linear.dweight").data, "linear dweight")
        assertClose(db, t("linear.dbias").data, "linear dbias")
    }

    func testGlobalAveragePool() {
        let x = t("avgpool.x")
        let n = x.shape[0], c = x.shape[1], plane = x.shape[2] * x.shape[3]
        var y = [Float](repeating: 0, count: c * n)
        GlobalAvgPool.forward(y: &y, x: cnhw(x), channels: c, batch: n, plane: plane)
        assertClose(Layout.cnhwToNchw(y, batch: n, channels: c, plane: 1), t("avgpool.y").data, "pool y")
        var dx = [Float](repeating: 0, count: x.count)
        GlobalAvgPool.backward(dx: &dx, dy: Layout.nchwToCnhw(t("avgpool.dy").data, batch: n, channels: c, plane: 1),
                               channels: c, batch: n, plane: plane)
        assertClose(nchw(dx, like: x), t("avgpool.dx").data, "pool dx")
    }

    func testSoftmaxCrossEntropy() {
        let logits = t("softmax_ce.logits")
        let n = logits.shape[0], c = logits.shape[1]
        let labels = t("softmax_ce.labels").data.map { Int32($0) }
        var d = [Float](repeating: 0, count: n * c)
        let loss = SoftmaxCrossEntropy.forwardBackward(dlogits: &d, logits: Layout.nchwToCnhw(logits.data, batch: n, channels: c, plane: 1),
                                                       labels: labels, classes: c)
        XCTAssertEqual(loss, t("softmax_ce.loss").data[0], accuracy: 1e-5)
        assertClose(Layout.cnhwToNchw(d, batch: n, channels: c, plane: 1), t("softmax_ce.dlogits").data, "dlogits")
    }
}
