// `coordinator`: binds a ROUTER socket and serves the fleet.
// For now it answers heartbeats (the liveness half of PROTOCOL.md); rounds come next.
import ArgumentParser
import Foundation
import Logging
import Transport
import Wire

@main
struct CoordinatorCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "coordinator",
        abstract: "Run the SparseFleet coordinator: admit devices, run rounds, aggregate deltas.")

    @Option(help: "ZeroMQ endpoint to bind, e.g. tcp://127.0.0.1:5555 or ipc:///tmp/sf.sock.")
    var bind: String = "tcp://127.0.0.1:5555"

    @Option(help: "Stop after this many seconds without any message (0: run until SIGINT/SIGTERM).")
    var idleExit: Double = 0

    @Option(help: "Log level: trace, debug, info, notice, warning, error, critical.")
    var logLevel: String = "info"

    func validate() throws {
        if let problem = Endpoint.problem(with: bind) { throw ValidationError(problem) }
        if Logger.Level(rawValue: logLevel) == nil {
            throw ValidationError("unknown --log-level '\(logLevel)'; use one of trace, debug, info, notice, warning, error, critical")
        }
        if idleExit < 0 { throw ValidationError("--idle-exit must be 0 or more seconds") }
    }

    func run() throws {
        var logger = Logger(label: "sparsefleet.coordinator")
        logger.logLevel = Logger.Level(rawValue: logLevel) ?? .info
        let stop = ShutdownFlag.install()
        let context = try ZmqContext()
        let router = try ZmqSocket(context: context, type: .router)
        try router.setHighWaterMarks(send: 1000, receive: 1000)
        try router.bind(bind)
        logger.info("listening", metadata: ["endpoint": "\(router.lastEndpoint)"])
        var lastMessage = Date()
        var served = 0
        while !stop.isSet {
            if idleExit > 0 && Date().timeIntervalSince(lastMessage) > idleExit { break }
            guard try router.poll(milliseconds: 100) else { continue }
            let frames = try router.receive()
            lastMessage = Date()
            // ROUTER prepends the peer identity frame.
            guard frames.count >= 2 else { continue }
            let peer = frames[0]
            do {
                let envelope = try Envelope.decode(frames[1])
                if envelope.kind == .heartbeat {
                    try router.send([peer, Envelope(kind: .heartbeat).encoded()])
                    served += 1
                }
            } catch {
                logger.warning("rejected message", metadata: ["reason": "\(error)"])
                try router.send([peer, Envelope(kind: .error).encoded(), Array("\(error)".utf8)])
            }
        }
        logger.info("shutting down", metadata: ["heartbeats.answered": "\(served)"])
    }
}
