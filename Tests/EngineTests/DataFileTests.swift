import Foundation
import XCTest
@testable import Engine

/// zlib-backed gzip reading and IDX parsing, on files the test writes and on the real data set.
final class DataFileTests: XCTestCase {
    var dir: String!

    override func setUpWithError() throws {
        dir = NSTemporaryDirectory() + "sparsefleet-data-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws {
        try? FileManager.default.removeItem(atPath: dir)
    }

    func testGzipRoundTrip() throws {
        let bytes = (0..<200_000).map { UInt8(truncatingIfNeeded: $0 &* 31 &+ ($0 >> 7)) }
        let path = dir + "/x.gz"
        try Gzip.write(bytes, to: path)
        let size = try FileManager.default.attributesOfItem(atPath: path)[.size] as! Int
        XCTAssertLessThan(size, bytes.count, "the file should really be compressed")
        XCTAssertEqual(try Gzip.read(path: path), bytes)
    }

    func testTruncatedGzipIsCorrupt() throws {
        let bytes = (0..<100_000).map { UInt8(truncatingIfNeeded: $0 &* 7919) }
        let path = dir + "/t.gz"
        try Gzip.write(bytes, to: path)
        let whole = try Data(contentsOf: URL(fileURLWithPath: path))
        try whole.prefix(whole.count / 2).write(to: URL(fileURLWithPath: path))
        XCTAssertThrowsError(try Gzip.read(path: path, hint: "regenerate it")) { error in
            guard case DataFileError.corrupt(let p, _, let hint) = error else { return XCTFail("\(error)") }
            XCTAssertEqual(p, path)
            XCTAssertEqual(hint, "regenerate it")
        }
    }

    func testMissingFileNamesPathAndFix() {
        XCTAssertThrowsError(try FashionMNIST.load(split: .train, directory: dir + "/nowhere")) { error in
            let text = "\(error)"
            XCTAssertTrue(text.contains("nowhere/train-images-idx3-ubyte.gz"), text)
            XCTAssertTrue(text.contains("apt-get install dataset-fashion-mnist"), text)
        }
    }

    func testIDXRoundTripAndLyingHeader() throws {
        let array = IDXArray(dims: [2, 3, 4], values: (0..<24).map { UInt8($0) })
        XCTAssertEqual(try IDX.decode(IDX.encode(array), path: "mem"), array)
        var lying = IDX.encode(array)
        lying[7] = 9  // claims 9 rows of 3x4 = way more than present
        XCTAssertThrowsError(try IDX.decode(lying, path: "mem"))
        XCTAssertThrowsError(try IDX.decode([0, 0, 8], path: "mem"))
    }

    func testLoadsRealFashionMNIST() throws {
        let dir = FashionMNIST.defaultDirectory
        try XCTSkipUnless(FileManager.default.fileExists(atPath: dir),
                          "dataset-fashion-mnist is not installed; `make test` installs it")
        let test = try FashionMNIST.load(split: .test, directory: dir)
        XCTAssertEqual(test.count, 10_000)
        XCTAssertEqual(test.height, 28)
        XCTAssertEqual(test.width, 28)
        XCTAssertEqual(test.pixels.count, 10_000 * 28 * 28)
        // Fashion-MNIST's test split is balanced: 1,000 images per class.
        var counts = [Int](repeating: 0, count: 10)
        for l in test.labels { counts[Int(l)] += 1 }
        XCTAssertEqual(counts, [Int](repeating: 1000, count: 10))
    }
}
