import Foundation
import XCTest
@testable import Engine

/// Loads the PyTorch reference fixtures in Tests/EngineTests/Fixtures (see its README.md).
enum Fixtures {
    /// The fixtures folder, found next to this source file.
    static let directory = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Fixtures")

    /// Reads one fixture file.
    static func load(_ name: String) throws -> SafeTensors {
        try SafeTensors.read(path: directory.appendingPathComponent(name).path)
    }

    /// Case configuration stored as JSON in the file's metadata.
    static func config(_ file: SafeTensors, _ name: String) -> [String: Any] {
        guard let text = file.metadata[name], let data = text.data(using: .utf8),
              let obj = try? JSONSerialization.jsonObject(with: data) as? [String: Any] else { return [:] }
        return obj
    }
}

/// Asserts two float arrays agree within `abs + rel·|expected|` elementwise, reporting the worst.
func assertClose(_ actual: [Float], _ expected: [Float], abs: Float = 1e-5, rel: Float = 1e-4,
                 _ what: String, file: StaticString = #filePath, line: UInt = #line) {
    XCTAssertEqual(actual.count, expected.count, "\(what): count", file: file, line: line)
    guard actual.count == expected.count else { return }
    var worst = 0, worstExcess: Float = -1
    for i in 0..<actual.count {
        let excess = Swift.abs(actual[i] - expected[i]) - (abs + rel * Swift.abs(expected[i]))
        if excess > worstExcess || actual[i].isNaN { worstExcess = actual[i].isNaN ? .infinity : excess; worst = i }
    }
    XCTAssertLessThanOrEqual(worstExcess, 0, "\(what): index \(worst) got \(actual[worst]) expected \(expected[worst])", file: file, line: line)
}
