// Membership inference on a real (tiny) network, end to end: per-example losses from
// Evaluator.perExample, scored by Privacy's loss-threshold attack. A known leak — the tiny net
// fitted to 16 samples for many epochs — is found (AUC well above 0.5); a known non-leak — two
// sets the network never saw — is chance, within 4 null standard errors of the AUC.
//
// References: S. Yeom et al., CSF 2018 (overfitting implies a loss-threshold leak); H. B. Mann,
// D. R. Whitney 1947 (the AUC's null variance m·n·(m + n + 1)/12, RankAUC.nullStandardError).

import XCTest
@testable import Engine
import Privacy

final class MembershipLeakTests: XCTestCase {
    let arch = MobileNetV2.tiny()
    /// One synthetic distribution: 0..<16 train, 16..<216 held out, 216..<416 and 416..<616 never seen.
    let data = SyntheticImages.make(count: 616, classes: 10, size: 16, seed: 31)
    let pre = Preprocessing(size: 16, channels: 3, mean: [0.5, 0.5, 0.5], std: [0.25, 0.25, 0.25])
    let members = Array(0..<16), heldOut = Array(16..<216)
    let unseenA = Array(216..<416), unseenB = Array(416..<616)

    /// Every bias, every conv weight channel and the classifier of the folded tiny net.
    var everything: UpdatePlan {
        UpdatePlan(biasUnits: Set(arch.units.indices),
                   weightChannels: Dictionary(uniqueKeysWithValues: arch.units.indices.map { u in
                       (u, (0..<Int32(arch.units[u].inChannels)).map { $0 })
                   }),
                   trainClassifier: true)
    }

    /// The tiny net fitted to `members` with full-batch SGD.
    func overfitted(steps: Int) throws -> (Network, Float) {
        var net = Network(arch: arch, seed: 2).folded()
        let input = pre.batch(data, indices: members), labels = members.map { Int32(data.labels[$0]) }
        let trainer = Trainer()
        var loss: Float = .infinity
        for _ in 0..<steps {
            loss = try trainer.step(&net, input: input, labels: labels, height: 16, width: 16, plan: everything, learningRate: 0.05).loss
        }
        return (net, loss)
    }

    func losses(_ net: Network, _ indices: [Int]) -> [Double] {
        Evaluator.perExample(net, data: data, indices: indices, preprocessing: pre).losses
    }

    func testLossAttackFindsTheOverfittedMembersAndNotTheUnseen() throws {
        let (net, trainLoss) = try overfitted(steps: 300)
        let before = parameterBits(net)
        let leak = LossThresholdAttack.metrics(memberLosses: losses(net, members), nonMemberLosses: losses(net, heldOut))
        let null = LossThresholdAttack.metrics(memberLosses: losses(net, unseenA), nonMemberLosses: losses(net, unseenB))
        print(String(format: "membership leak: train loss %.4f; AUC members/held-out %.4f (advantage %.3f, TPR@1%% %.3f); "
                     + "AUC unseen/unseen %.4f (null SE %.4f)", trainLoss, leak.auc, leak.advantage, leak.tprAtFPR1Percent,
                     null.auc, null.aucNullStandardError))
        XCTAssertEqual(parameterBits(net), before, "scoring must not change the model")
        XCTAssertLessThan(trainLoss, 0.1, "the net should have memorised its 16 samples (0.037 measured)")
        XCTAssertGreaterThan(leak.auc, 0.9, "a memorising model leaks its members")
        // 200 + 200: null SE √(401/(12·200·200)) = 0.0289; 4 SE = 0.116.
        XCTAssertEqual(null.auc, 0.5, accuracy: 4 * null.aucNullStandardError, "neither set was trained on")
    }

    func testUntrainedModelLeaksNothing() {
        let net = Network(arch: arch, seed: 2).folded()
        let null = LossThresholdAttack.metrics(memberLosses: losses(net, unseenA), nonMemberLosses: losses(net, heldOut))
        print(String(format: "membership leak: untrained AUC %.4f (null SE %.4f)", null.auc, null.aucNullStandardError))
        XCTAssertEqual(null.auc, 0.5, accuracy: 4 * null.aucNullStandardError)
    }
}
