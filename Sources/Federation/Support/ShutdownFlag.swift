// Graceful shutdown: SIGINT and SIGTERM set a flag that the service loops poll.
import Foundation

/// A flag set by SIGINT or SIGTERM (or by `request()`).
public final class ShutdownFlag: @unchecked Sendable {
    private var sources: [DispatchSourceSignal] = []
    private let lock = NSLock()
    private var count = 0

    /// A flag no signal sets (tests call `request()`).
    public init() {}

    /// Whether a shutdown was requested.
    public var isSet: Bool { lock.withLock { count > 0 } }

    /// How many shutdowns were requested (a second signal can mean "now, not after this round").
    public var requests: Int { lock.withLock { count } }

    /// Requests a shutdown.
    public func request() { lock.withLock { count += 1 } }

    /// Installs handlers for SIGINT and SIGTERM and returns the flag they set.
    public static func install() -> ShutdownFlag {
        let flag = ShutdownFlag()
        for sig in [SIGINT, SIGTERM] {
            signal(sig, SIG_IGN)
            let source = DispatchSource.makeSignalSource(signal: sig, queue: .global())
            // Signals that arrive together are coalesced into one event; `data` counts them.
            // (The handler holds its source: both live as long as the process.)
            source.setEventHandler {
                for _ in 0..<max(1, Int(source.data)) { flag.request() }
            }
            source.resume()
            flag.sources.append(source)
        }
        return flag
    }
}
