import Foundation
import XCTest
@testable import Engine

/// Reading chosen rows of an IDX file as it streams: the same bytes as decoding the whole file and
/// keeping those rows, and a typed refusal of rows the file does not hold or a file that lies.
final class IDXRowsTests: XCTestCase {
    var dir: String!

    override func setUpWithError() throws {
        dir = NSTemporaryDirectory() + "sparsefleet-idxrows-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws { try? FileManager.default.removeItem(atPath: dir) }

    /// 50 images of 5×3 with distinct bytes, and their labels, as an MNIST-format folder.
    private func writeSplit(gzip: Bool) throws -> ImageDataset {
        let images = IDXArray(dims: [50, 5, 3], values: (0..<750).map { UInt8(truncatingIfNeeded: $0 &* 37 &+ $0 >> 8) })
        let labels = IDXArray(dims: [50], values: (0..<50).map { UInt8(($0 * 7) % 10) })
        for (name, array) in [("train-images-idx3-ubyte", images), ("train-labels-idx1-ubyte", labels)] {
            let bytes = IDX.encode(array)
            if gzip { try Gzip.write(bytes, to: dir + "/" + name + ".gz") } else { try Data(bytes).write(to: URL(fileURLWithPath: dir + "/" + name)) }
        }
        return try MNISTFormat.load(split: .train, directory: dir)
    }

    func testChosenRowsEqualTheWholeFilesRows() throws {
        for gzip in [true, false] {
            let whole = try writeSplit(gzip: gzip)
            for rows in [[], [0], [49], [0, 1, 2], [3, 17, 18, 40, 49], Array(0..<50)] {
                let part = try MNISTFormat.load(split: .train, directory: dir, rows: rows)
                let expected = whole.subset(rows)
                XCTAssertEqual(part.pixels, expected.pixels, "rows \(rows), gzip \(gzip)")
                XCTAssertEqual(part.labels, expected.labels)
                XCTAssertEqual([part.height, part.width, part.channels, part.classes], [5, 3, 1, whole.classes])
            }
            try? FileManager.default.removeItem(atPath: dir)
            try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        }
    }

    func testLabelsWithoutImagesMatchTheWholeSplit() throws {
        let whole = try writeSplit(gzip: true)
        let (labels, classes) = try MNISTFormat.labels(split: .train, directory: dir)
        XCTAssertEqual(labels, whole.labels)
        XCTAssertEqual(classes, whole.classes)
    }

    func testRowsTheFileDoesNotHoldAreRefusedByName() throws {
        _ = try writeSplit(gzip: true)
        let path = dir + "/train-images-idx3-ubyte.gz"
        for (rows, words) in [([50], "row 50 asked for, but the file holds rows 0..<50"), ([-1, 3], "row -1"),
                              ([4, 4], "ascend without repeats (4 then 4)"), ([9, 2], "(9 then 2)")] {
            XCTAssertThrowsError(try IDX.readRows(path: path, rows: rows)) { error in
                guard case DataFileError.corrupt(let p, let reason, _) = error else { return XCTFail("\(error)") }
                XCTAssertEqual(p, path)
                XCTAssertTrue(reason.contains(words), reason)
            }
        }
    }

    func testAHeaderThatPromisesMoreRowsThanTheDataHoldsIsRefused() throws {
        var bytes = IDX.encode(IDXArray(dims: [4, 2, 2], values: Array(repeating: 7, count: 16)))
        bytes[7] = 9  // claims 9 rows
        let path = dir + "/lying.gz"
        try Gzip.write(bytes, to: path)
        XCTAssertEqual(try IDX.readRows(path: path, rows: [0, 3]).values, Array(repeating: 7, count: 8), "the rows that exist read")
        XCTAssertThrowsError(try IDX.readRows(path: path, rows: [0, 6])) { error in
            XCTAssertTrue("\(error)".contains("header promises 9 rows of 4 values, but the data ends in row 4"), "\(error)")
        }
        XCTAssertThrowsError(try IDX.readRows(path: dir + "/absent.gz", rows: [0])) { error in
            guard case DataFileError.missing = error else { return XCTFail("\(error)") }
        }
    }

    func testRealFashionMNISTRowsEqualTheWholeLoad() throws {
        try XCTSkipUnless(FileManager.default.fileExists(atPath: FashionMNIST.defaultDirectory),
                          "dataset-fashion-mnist is not installed; `make test` installs it")
        let whole = try FashionMNIST.load(split: .test)
        let rows = [0, 1, 999, 5000, 9999]
        let part = try FashionMNIST.load(split: .test, rows: rows)
        XCTAssertEqual(part.pixels, whole.subset(rows).pixels)
        XCTAssertEqual(part.labels, whole.subset(rows).labels)
        XCTAssertEqual(try DatasetZoo.labels(.fashionMNIST, split: .test, directory: nil).labels, whole.labels)
    }
}
