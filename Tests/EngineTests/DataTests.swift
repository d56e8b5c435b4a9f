import Foundation
import XCTest
@testable import Engine

/// Preprocessing, loaders and partitioners.
final class DataTests: XCTestCase {
    func testBilinearResizeMatchesPyTorchRule() {
        // torch.nn.functional.interpolate([[0,1],[2,3]], size=4, mode='bilinear', align_corners=False)
        let expected: [Float] = [0, 0.25, 0.75, 1, 0.5, 0.75, 1.25, 1.5, 1.5, 1.75, 2.25, 2.5, 2, 2.25, 2.75, 3]
        var out = [Float](repeating: 0, count: 16)
        Preprocessing.resizeBilinear(&out, 4, 4, [0, 1, 2, 3], 2, 2)
        XCTAssertEqual(out, expected)
        var same = [Float](repeating: 0, count: 9)
        let src: [Float] = (0..<9).map { Float($0) }
        Preprocessing.resizeBilinear(&same, 3, 3, src, 3, 3)
        XCTAssertEqual(same, src, "resizing to the same size is the identity")
    }

    func testGreyBecomesThreeNormalisedChannels() {
        let data = ImageDataset(pixels: [0, 255, 51, 102], labels: [3], channels: 1, height: 2, width: 2, classes: 10)
        let p = Preprocessing(size: 2, channels: 3, mean: [0.5, 0, 0.2], std: [0.5, 1, 0.1])
        let x = p.batch(data, indices: [0])
        XCTAssertEqual(x.count, 12)
        XCTAssertEqual(Array(x[0..<4]), [-1, 1, -0.6, -0.2].map { Float($0) }, accuracy: 1e-6)
        XCTAssertEqual(Array(x[4..<8]), [0, 1, 0.2, 0.4], accuracy: 1e-6)
        XCTAssertEqual(x[8], -2, accuracy: 1e-5)
    }

    func testPartitionersAreDeterministicAndComplete() throws {
        let data = SyntheticImages.make(count: 1000, classes: 10, size: 4, seed: 1)
        for rule in [Partitioning.iid, .dirichlet(alpha: 0.1, minShard: 10), .dirichlet(alpha: 100, minShard: 10)] {
            let a = try Partitioner.split(labels: data.labels, classes: 10, devices: 16, rule: rule, seed: 42)
            let b = try Partitioner.split(labels: data.labels, classes: 10, devices: 16, rule: rule, seed: 42)
            let c = try Partitioner.split(labels: data.labels, classes: 10, devices: 16, rule: rule, seed: 43)
            XCTAssertEqual(a, b, "\(rule): same seed, same shards")
            XCTAssertNotEqual(a, c, "\(rule): another seed, other shards")
            XCTAssertEqual(a.flatMap { $0 }.sorted(), Array(0..<1000), "\(rule): every sample dealt exactly once")
            if case .dirichlet = rule { XCTAssertTrue(a.allSatisfy { $0.count >= 10 }) }
        }
        // α = 0.1 is far more skewed than α = 100: compare the mean number of classes per device.
        func classesPerDevice(_ shards: [[Int]]) -> Double {
            Double(shards.map { Set($0.map { data.labels[$0] }).count }.reduce(0, +)) / Double(shards.count)
        }
        let skewed = try Partitioner.split(labels: data.labels, classes: 10, devices: 16, rule: .dirichlet(alpha: 0.1, minShard: 10), seed: 1)
        let even = try Partitioner.split(labels: data.labels, classes: 10, devices: 16, rule: .dirichlet(alpha: 100, minShard: 10), seed: 1)
        XCTAssertLessThan(classesPerDevice(skewed), classesPerDevice(even))
    }

    func testClassesPerDevice() throws {
        let data = SyntheticImages.make(count: 600, classes: 10, size: 4, seed: 2)
        let shards = try Partitioner.split(labels: data.labels, classes: 10, devices: 5, rule: .classesPerDevice(2), seed: 9)
        for s in shards { XCTAssertEqual(Set(s.map { data.labels[$0] }).count, 2) }
        XCTAssertEqual(shards.flatMap { $0 }.count, 600)
        XCTAssertThrowsError(try Partitioner.split(labels: data.labels, classes: 10, devices: 5, rule: .classesPerDevice(11), seed: 9))
        XCTAssertThrowsError(try Partitioner.split(labels: data.labels, classes: 10, devices: 100, rule: .dirichlet(alpha: 1, minShard: 7), seed: 9)) { error in
            XCTAssertTrue("\(error)".contains("min shard"), "\(error)")
        }
    }

    func testCIFAR10BinaryLoader() throws {
        let dir = NSTemporaryDirectory() + "sf-cifar-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        var bytes: [UInt8] = []
        for r in 0..<3 { bytes.append(UInt8(r + 4)); bytes += [UInt8](repeating: UInt8(r * 10), count: 3072) }
        try Data(bytes).write(to: URL(fileURLWithPath: dir + "/test_batch.bin"))
        let test = try CIFAR10.load(split: .test, directory: dir)
        XCTAssertEqual(test.labels, [4, 5, 6])
        XCTAssertEqual(test.channels, 3)
        XCTAssertEqual(test.pixels[3072], 10)
        try Data(bytes.prefix(100)).write(to: URL(fileURLWithPath: dir + "/test_batch.bin"))
        XCTAssertThrowsError(try CIFAR10.load(split: .test, directory: dir)) { XCTAssertTrue("\($0)".contains("record"), "\($0)") }
        XCTAssertThrowsError(try CIFAR10.load(split: .train, directory: dir)) { XCTAssertTrue("\($0)".contains("data_batch_1.bin"), "\($0)") }
    }

    func testSyntheticDataIsDeterministic() {
        XCTAssertEqual(SyntheticImages.make(count: 20, seed: 5).pixels, SyntheticImages.make(count: 20, seed: 5).pixels)
        XCTAssertEqual(SyntheticImages.make(count: 20, classes: 4).classCounts, [5, 5, 5, 5])
    }
}

func XCTAssertEqual(_ a: [Float], _ b: [Float], accuracy: Float, file: StaticString = #filePath, line: UInt = #line) {
    XCTAssertEqual(a.count, b.count, file: file, line: line)
    for (x, y) in zip(a, b) { XCTAssertEqual(x, y, accuracy: accuracy, file: file, line: line) }
}
