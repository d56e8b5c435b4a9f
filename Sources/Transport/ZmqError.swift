// Errors raised by the libzmq layer, carrying errno and libzmq's own message.
import CZmq

/// A failed libzmq call: which operation, and libzmq's errno text.
public struct ZmqError: Error, CustomStringConvertible, Equatable {
    /// The libzmq function or operation that failed.
    public let operation: String
    /// The errno value libzmq reported.
    public let code: Int32

    /// Captures the current `zmq_errno()` for `operation`.
    init(_ operation: String) {
        self.operation = operation
        self.code = zmq_errno()
    }

    /// Whether the failure was a timeout or would-block (EAGAIN).
    public var isTimeout: Bool { code == EAGAIN }

    /// The operation, libzmq's error text and the errno.
    public var description: String {
        "\(operation) failed: \(String(cString: zmq_strerror(code))) (errno \(code))"
    }
}
