// Validation of ZeroMQ endpoint strings given on command lines and in topologies.

/// Checks an endpoint string before libzmq sees it, so users get a clear message.
public enum Endpoint {
    /// Returns nil when `endpoint` looks usable, otherwise what is wrong and how to fix it.
    public static func problem(with endpoint: String) -> String? {
        if endpoint.hasPrefix("tcp://") {
            let rest = endpoint.dropFirst(6)
            guard let colon = rest.lastIndex(of: ":"), colon != rest.startIndex else {
                return "endpoint '\(endpoint)' needs a host and port, e.g. tcp://127.0.0.1:5555"
            }
            let port = rest[rest.index(after: colon)...]
            if port != "*" && UInt16(port) == nil {
                return "endpoint '\(endpoint)' has port '\(port)'; use a number 1-65535 or *"
            }
            return nil
        }
        if endpoint.hasPrefix("ipc://") {
            return endpoint.count > 6 ? nil : "endpoint '\(endpoint)' needs a path, e.g. ipc:///tmp/sparsefleet.sock"
        }
        if endpoint.hasPrefix("inproc://") { return nil }
        return "endpoint '\(endpoint)' must start with tcp://, ipc:// or inproc://"
    }
}
