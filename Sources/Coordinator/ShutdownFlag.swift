// Graceful shutdown: SIGINT and SIGTERM set a flag that the main loop polls.
import Foundation

/// A flag set by SIGINT or SIGTERM.
final class ShutdownFlag: @unchecked Sendable {
    private var sources: [DispatchSourceSignal] = []
    private let lock = NSLock()
    private var set = false

    /// Whether a shutdown signal has arrived.
    var isSet: Bool { lock.lock(); defer { lock.unlock() }; return set }

    /// Installs handlers for SIGINT and SIGTERM and returns the flag they set.
    static func install() -> ShutdownFlag {
        let flag = ShutdownFlag()
        for sig in [SIGINT, SIGTERM] {
            signal(sig, SIG_IGN)
            let source = DispatchSource.makeSignalSource(signal: sig, queue: .global())
            source.setEventHandler { flag.lock.lock(); flag.set = true; flag.lock.unlock() }
            source.resume()
            flag.sources.append(source)
        }
        return flag
    }
}
