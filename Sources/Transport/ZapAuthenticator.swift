// A ZAP handler (ZeroMQ RFC 27): a REP socket on inproc://zeromq.zap.01 served by a background
// thread, admitting only CURVE clients whose public key is on the allow list.
import Foundation

/// Admits CURVE clients by public key for every CURVE server socket on one context.
/// Create it before binding the server; one per context. Stops on `stop()` or deinit.
public final class ZapAuthenticator: @unchecked Sendable {
    /// The well-known endpoint libzmq sends ZAP requests to.
    public static let endpoint = "inproc://zeromq.zap.01"

    private let core: ZapCore

    /// Starts a handler on `context` admitting exactly `allowedClientKeys` (Z85). When
    /// `domain` is given, requests for other ZAP domains are refused too.
    public init(context: ZmqContext, allowedClientKeys: Set<String>, domain: String? = nil) throws {
        for key in allowedClientKeys where !Curve.isValidKey(key) {
            throw CurveError.invalidKey("allowed client key '\(key.prefix(8))…'")
        }
        let socket = try ZmqSocket(context: context, type: .rep)
        try socket.bind(ZapAuthenticator.endpoint)
        let core = ZapCore(socket: socket, allowed: allowedClientKeys, domain: domain)
        self.core = core
        let thread = Thread { core.serve() }  // the thread owns the core until it finishes
        thread.name = "sparsefleet-zap"
        thread.start()
    }

    deinit { stop() }

    /// Connections admitted so far.
    public var admittedCount: Int { core.lock.withLock { core.admitted } }
    /// Connections refused so far.
    public var refusedCount: Int { core.lock.withLock { core.refused } }
    /// The Z85 public keys refused so far (for an "unknown device key" log line).
    public var refusedKeysSeen: [String] { core.lock.withLock { core.refusedKeys } }

    /// Stops the handler thread and closes its socket; idempotent.
    public func stop() { core.stop() }
}

/// The state shared by the authenticator and its thread.
final class ZapCore: @unchecked Sendable {
    let socket: ZmqSocket
    let allowed: Set<String>
    let domain: String?
    let lock = NSLock()
    var admitted = 0
    var refused = 0
    var refusedKeys: [String] = []
    private let stopper = LoopStopper()

    init(socket: ZmqSocket, allowed: Set<String>, domain: String?) {
        self.socket = socket
        self.allowed = allowed
        self.domain = domain
    }

    /// Asks the loop to end and waits for it; idempotent.
    func stop() { stopper.stop() }

    /// The handler loop: wait up to 50 ms for a request, answer it, check for stop.
    func serve() {
        defer {
            socket.close()
            stopper.finished()
        }
        while !stopper.isStopping {
            guard let request = try? socket.receive(timeoutMilliseconds: 50) else { continue }
            _ = try? socket.send(answer(request))
        }
    }

    /// The ZAP reply frames for one request (RFC 27: version, id, status code, text, user, metadata).
    func answer(_ request: [[UInt8]]) -> [[UInt8]] {
        guard request.count >= 6, request[0] == Array("1.0".utf8) else {
            return reply(request.count > 1 ? request[1] : [], "400", "malformed ZAP request")
        }
        let requestID = request[1]
        let requestDomain = String(decoding: request[2], as: UTF8.self)
        let mechanism = String(decoding: request[5], as: UTF8.self)
        guard mechanism == "CURVE", request.count >= 7, let key = Curve.z85(request[6]) else {
            record(admitted: false, key: nil)
            return reply(requestID, "400", "only CURVE clients are accepted")
        }
        if let domain, domain != requestDomain {
            record(admitted: false, key: key)
            return reply(requestID, "400", "unknown ZAP domain")
        }
        guard allowed.contains(key) else {
            record(admitted: false, key: key)
            return reply(requestID, "400", "client key is not on the allow list")
        }
        record(admitted: true, key: key)
        return reply(requestID, "200", "OK", userID: key)
    }

    private func reply(_ id: [UInt8], _ code: String, _ text: String, userID: String = "") -> [[UInt8]] {
        [Array("1.0".utf8), id, Array(code.utf8), Array(text.utf8), Array(userID.utf8), []]
    }

    private func record(admitted ok: Bool, key: String?) {
        lock.withLock {
            if ok {
                admitted += 1
            } else {
                refused += 1
                if let key, refusedKeys.count < 100, !refusedKeys.contains(key) { refusedKeys.append(key) }
            }
        }
    }
}
