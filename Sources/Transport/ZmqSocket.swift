// A libzmq socket with multipart send/receive, timeouts, linger and high-water marks.
import CZmq

/// The socket types SparseFleet uses.
public enum ZmqSocketType {
    case router, dealer, pair
    /// Reply socket; used by the ZAP authentication handler.
    case rep

    var raw: Int32 {
        switch self {
        case .router: return ZMQ_ROUTER
        case .dealer: return ZMQ_DEALER
        case .pair: return ZMQ_PAIR
        case .rep: return ZMQ_REP
        }
    }
}

/// One libzmq socket. Not thread-safe: use it from one thread at a time.
public final class ZmqSocket: @unchecked Sendable {
    let handle: UnsafeMutableRawPointer
    private let context: ZmqContext  // keeps the context alive while the socket lives
    private var closed = false

    /// Creates a socket with linger 0, so closing never blocks on unsent messages.
    public init(context: ZmqContext, type: ZmqSocketType) throws {
        guard let h = zmq_socket(context.handle, type.raw) else { throw ZmqError("zmq_socket") }
        self.handle = h
        self.context = context
        try setOption(ZMQ_LINGER, Int32(0))
    }

    deinit { close() }

    /// Closes the socket; further use is a programming error.
    public func close() {
        if !closed {
            zmq_close(handle)
            closed = true
        }
    }

    /// Binds to an endpoint such as `tcp://127.0.0.1:5555` or `ipc:///tmp/x.sock`.
    public func bind(_ endpoint: String) throws {
        guard zmq_bind(handle, endpoint) == 0 else { throw ZmqError("zmq_bind(\(endpoint))") }
    }

    /// Connects to an endpoint; libzmq reconnects in the background.
    public func connect(_ endpoint: String) throws {
        guard zmq_connect(handle, endpoint) == 0 else { throw ZmqError("zmq_connect(\(endpoint))") }
    }

    /// The endpoint actually bound (resolves `tcp://127.0.0.1:*` to a real port).
    public var lastEndpoint: String {
        var buf = [CChar](repeating: 0, count: 512)
        var len = buf.count
        _ = zmq_getsockopt(handle, ZMQ_LAST_ENDPOINT, &buf, &len)
        return String(cString: buf)
    }

    /// Sets an integer socket option.
    public func setOption(_ option: Int32, _ value: Int32) throws {
        var v = value
        guard zmq_setsockopt(handle, option, &v, MemoryLayout<Int32>.size) == 0 else {
            throw ZmqError("zmq_setsockopt(\(option))")
        }
    }

    /// Sets a bytes/string socket option (identities, CURVE keys).
    public func setOption(_ option: Int32, bytes: [UInt8]) throws {
        let rc = bytes.withUnsafeBytes { zmq_setsockopt(handle, option, $0.baseAddress, $0.count) }
        guard rc == 0 else { throw ZmqError("zmq_setsockopt(\(option))") }
    }

    /// Sets the routing identity a ROUTER peer sees for this socket (set before connecting).
    public func setIdentity(_ identity: [UInt8]) throws {
        try setOption(ZMQ_ROUTING_ID, bytes: identity)
    }

    /// Milliseconds a receive waits before throwing a timeout (-1: forever).
    public func setReceiveTimeout(milliseconds: Int) throws {
        try setOption(ZMQ_RCVTIMEO, Int32(milliseconds))
    }

    /// Milliseconds a send waits before throwing a timeout (-1: forever).
    public func setSendTimeout(milliseconds: Int) throws {
        try setOption(ZMQ_SNDTIMEO, Int32(milliseconds))
    }

    /// Caps queued messages per peer in each direction, so a slow peer cannot exhaust memory.
    public func setHighWaterMarks(send: Int, receive: Int) throws {
        try setOption(ZMQ_SNDHWM, Int32(send))
        try setOption(ZMQ_RCVHWM, Int32(receive))
    }

    /// Caps the size of one inbound message frame; larger ones drop the connection (ZMQ_MAXMSGSIZE).
    public func setMaxMessageSize(bytes: Int) throws {
        var v = Int64(bytes)
        guard zmq_setsockopt(handle, ZMQ_MAXMSGSIZE, &v, MemoryLayout<Int64>.size) == 0 else {
            throw ZmqError("zmq_setsockopt(ZMQ_MAXMSGSIZE)")
        }
    }

    /// Sends all frames as one multipart message.
    public func send(_ frames: [[UInt8]]) throws {
        precondition(!frames.isEmpty, "send: a message needs at least one frame")
        for (i, frame) in frames.enumerated() {
            let flags: Int32 = i < frames.count - 1 ? ZMQ_SNDMORE : 0
            let rc = frame.withUnsafeBytes { zmq_send(handle, $0.baseAddress, $0.count, flags) }
            guard rc >= 0 else { throw ZmqError("zmq_send") }
        }
    }

    /// Receives one whole multipart message, waiting at most the receive timeout.
    public func receive() throws -> [[UInt8]] { try receiveWithUserID().frames }

    /// Receives one whole multipart message and the "User-Id" metadata of its connection (what
    /// the ZAP handler returned for it; empty without ZAP).
    public func receiveWithUserID() throws -> (frames: [[UInt8]], userID: String) {
        var frames: [[UInt8]] = []
        var user = ""
        var msg = zmq_msg_t()
        zmq_msg_init(&msg)
        defer { zmq_msg_close(&msg) }
        repeat {
            guard zmq_msg_recv(&msg, handle, 0) >= 0 else { throw ZmqError("zmq_msg_recv") }
            let size = zmq_msg_size(&msg)
            let bytes = [UInt8](UnsafeRawBufferPointer(start: zmq_msg_data(&msg), count: size))
            frames.append(bytes)
            // A ROUTER's identity frame carries no metadata; the message frames do.
            if user.isEmpty, let p = zmq_msg_gets(&msg, "User-Id") { user = String(cString: p) }
        } while zmq_msg_more(&msg) == 1
        return (frames, user)
    }

    /// Waits up to `milliseconds` for an inbound message; true when one is ready.
    public func poll(milliseconds: Int) throws -> Bool {
        var item = zmq_pollitem_t(socket: handle, fd: 0, events: Int16(ZMQ_POLLIN), revents: 0)
        let rc = zmq_poll(&item, 1, milliseconds)
        if rc < 0 && zmq_errno() == EINTR { return false }  // a signal arrived; the caller checks its flags
        guard rc >= 0 else { throw ZmqError("zmq_poll") }
        return rc > 0 && (item.revents & Int16(ZMQ_POLLIN)) != 0
    }
}
