import Engine
import Foundation
@testable import Federation
import XCTest

/// A node reads the images of its own devices' samples only: the labels-only index partitions
/// exactly as the whole training set does, and each device's shard holds the same images.
final class NodeDataTests: XCTestCase {
    private func config(_ json: String) throws -> FederationConfig { try FederationConfig.parse(Data(json.utf8)) }

    private func checkHostedImagesEqualTheWholeSet(_ c: FederationConfig, hosted: [String]) throws {
        let whole = try FederatedData.trainingSet(c)
        let index = try FederatedData.trainingIndex(c)
        XCTAssertEqual(index.labels, whole.labels)
        XCTAssertEqual(index.classes, whole.classes)
        let shards = try FederatedData.shards(c, labels: index.labels, classes: index.classes)
        XCTAssertEqual(shards, try FederatedData.shards(c, labels: whole.labels, classes: whole.classes))
        let held = Set(hosted.flatMap { shards[$0]!.train + shards[$0]!.test })
        let (data, position) = try FederatedData.trainingImages(c, index: index, samples: held)
        XCTAssertEqual(data.count, held.count, "only the hosted devices' samples are read")
        for id in hosted {
            let shard = shards[id]!
            XCTAssertEqual(data.subset(shard.train.map { position[$0]! }).pixels, whole.subset(shard.train).pixels, id)
            XCTAssertEqual(data.subset(shard.test.map { position[$0]! }).labels, whole.subset(shard.test).labels, id)
        }
    }

    func testSyntheticHalfFleet() throws {
        let c = try config(#"{"devices": [{"id": "a"}, {"id": "b"}, {"id": "c"}, {"id": "d"}], "dataset": {"syntheticCount": 400}, "seed": 4}"#)
        try checkHostedImagesEqualTheWholeSet(c, hosted: ["a", "c"])
        try checkHostedImagesEqualTheWholeSet(c, hosted: ["d"])
    }

    func testFashionMNISTTrimmedAndShuffledHalfFleet() throws {
        try XCTSkipUnless(FileManager.default.fileExists(atPath: FashionMNIST.defaultDirectory),
                          "dataset-fashion-mnist is not installed; `make test` installs it")
        let c = try config(#"{"devices": [{"id": "a"}, {"id": "b"}, {"id": "c"}], "dataset": {"name": "fashion-mnist", "trainSamples": 900}, "partition": {"kind": "dirichlet", "alpha": 0.3}, "seed": 9}"#)
        try checkHostedImagesEqualTheWholeSet(c, hosted: ["b"])
        try checkHostedImagesEqualTheWholeSet(c, hosted: ["a", "b", "c"])
    }
}
