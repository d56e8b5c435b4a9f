import Foundation
import XCTest

/// Finds the package's built executables and runs them as real child processes.
enum ProcessHarness {
    /// The folder holding the built products (the test bundle sits beside them).
    static var productsDirectory: URL {
        var url = Bundle.main.bundleURL
        for _ in 0..<4 {
            if FileManager.default.fileExists(atPath: url.appendingPathComponent("coordinator").path) { return url }
            url = url.deletingLastPathComponent()
        }
        return Bundle.main.bundleURL.deletingLastPathComponent()
    }

    /// A process for the named product, with stdout/stderr captured to pipes.
    static func process(_ product: String, _ arguments: [String]) -> (Process, Pipe, Pipe) {
        let p = Process()
        p.executableURL = productsDirectory.appendingPathComponent(product)
        p.arguments = arguments
        let out = Pipe(), err = Pipe()
        p.standardOutput = out
        p.standardError = err
        return (p, out, err)
    }

    /// Runs a product to completion (killing it after `timeout` seconds) and returns its output.
    @discardableResult
    static func run(_ product: String, _ arguments: [String], timeout: TimeInterval = 60) throws
        -> (status: Int32, stdout: String, stderr: String)
    {
        let (p, out, err) = process(product, arguments)
        try p.run()
        let deadline = Date().addingTimeInterval(timeout)
        // Drain pipes concurrently so a chatty child cannot block on a full pipe.
        let outData = Captured(), errData = Captured()
        let group = DispatchGroup()
        group.enter(); DispatchQueue.global().async { outData.data = out.fileHandleForReading.readDataToEndOfFile(); group.leave() }
        group.enter(); DispatchQueue.global().async { errData.data = err.fileHandleForReading.readDataToEndOfFile(); group.leave() }
        while p.isRunning && Date() < deadline { usleep(10_000) }
        if p.isRunning { p.terminate() }
        p.waitUntilExit()
        group.wait()
        return (p.terminationStatus, String(decoding: outData.data, as: UTF8.self), String(decoding: errData.data, as: UTF8.self))
    }
}

/// Bytes filled in by one reader thread and read after it has finished (a DispatchGroup orders them).
final class Captured: @unchecked Sendable {
    var data = Data()
}
