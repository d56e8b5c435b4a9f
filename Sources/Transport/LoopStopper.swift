// The stop handshake of a loop on its own thread (the ZAP handler, the fault proxy): `stop()`
// asks once and waits until the loop has ended; the loop checks `isStopping` and calls
// `finished()` on its way out. Idempotent; a stop after the loop ended returns at once.
import Foundation

/// Asks a background loop to end and waits for it.
final class LoopStopper: @unchecked Sendable {
    private let lock = NSLock()
    private var stopping = false
    private var running = true
    private let done = DispatchSemaphore(value: 0)

    /// Whether `stop()` was called.
    var isStopping: Bool { lock.withLock { stopping } }

    /// Asks the loop to end and waits for it; idempotent.
    func stop() {
        let wasRunning: Bool = lock.withLock {
            stopping = true
            defer { running = false }
            return running
        }
        if wasRunning { done.wait() }
    }

    /// Called by the loop when it ends.
    func finished() { done.signal() }
}
