// Graceful shutdown: SIGINT and SIGTERM set a flag that the service loops poll.
import Foundation

/// A flag set by SIGINT or SIGTERM (or by `request()`).
public final class ShutdownFlag: @unchecked Sendable {
    private var sources: [DispatchSourceSignal] = []
    private let lock = NSLock()
    private var set = false

    /// A flag no signal sets (tests call `request()`).
    public init() {}

    /// Whether a shutdown was requested.
    public var isSet: Bool { lock.withLock { set } }

    /// Requests a shutdown.
    public func request() { lock.withLock { set = true } }

    /// Installs handlers for SIGINT and SIGTERM and returns the flag they set.
    public static func install() -> ShutdownFlag {
        let flag = ShutdownFlag()
        for sig in [SIGINT, SIGTERM] {
            signal(sig, SIG_IGN)
            let source = DispatchSource.makeSignalSource(signal: sig, queue: .global())
            source.setEventHandler { flag.request() }
            source.resume()
            flag.sources.append(source)
        }
        return flag
    }
}
