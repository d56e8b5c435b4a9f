// The libzmq context: one per process, owning the I/O thread.
import CZmq

/// A libzmq context. Close every socket before the context is released.
public final class ZmqContext: @unchecked Sendable {
    let handle: UnsafeMutableRawPointer

    /// Creates a context with one I/O thread.
    public init() throws {
        guard let h = zmq_ctx_new() else { throw ZmqError("zmq_ctx_new") }
        handle = h
    }

    deinit {
        zmq_ctx_term(handle)
    }

    /// libzmq's version as "major.minor.patch".
    public static var version: String {
        var a: Int32 = 0, b: Int32 = 0, c: Int32 = 0
        zmq_version(&a, &b, &c)
        return "\(a).\(b).\(c)"
    }

    /// Whether libzmq was built with a capability such as "curve" or "ipc".
    public static func has(_ capability: String) -> Bool {
        zmq_has(capability) == 1
    }
}
