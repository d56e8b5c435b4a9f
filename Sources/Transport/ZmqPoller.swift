// zmq_poll over several sockets at once: which of them have an inbound message waiting.
import CZmq

/// Waits on many sockets together.
public enum ZmqPoller {
    /// Waits up to `milliseconds` (-1: forever, 0: do not wait) until at least one of `sockets`
    /// has an inbound message; returns the indices of those that do, ascending (empty on a
    /// timeout, or when a signal interrupted the wait: the caller checks its flags).
    public static func readable(_ sockets: [ZmqSocket], milliseconds: Int) throws -> [Int] {
        guard !sockets.isEmpty else { return [] }
        var items = sockets.map { zmq_pollitem_t(socket: $0.handle, fd: 0, events: Int16(ZMQ_POLLIN), revents: 0) }
        let rc = items.withUnsafeMutableBufferPointer { zmq_poll($0.baseAddress, Int32($0.count), milliseconds) }
        if rc < 0 && zmq_errno() == EINTR { return [] }
        guard rc >= 0 else { throw ZmqError("zmq_poll") }
        return items.indices.filter { items[$0].revents & Int16(ZMQ_POLLIN) != 0 }
    }
}
