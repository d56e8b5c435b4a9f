// `node`: hosts virtual devices and talks to the coordinator over a DEALER socket.
// For now it proves the link: it sends heartbeats and reports the round-trip time.
import ArgumentParser
import Foundation
import Logging
import Transport
import Wire

struct RunCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "run",
        abstract: "Connect to a coordinator and host virtual devices that train and send sparse deltas.")

    @Option(help: "Coordinator endpoint to connect to, e.g. tcp://127.0.0.1:5555.")
    var connect: String = "tcp://127.0.0.1:5555"

    @Option(help: "Heartbeats to exchange before exiting.")
    var pings: Int = 3

    @Option(help: "Milliseconds to wait for each reply before reporting the coordinator unreachable.")
    var timeoutMs: Int = 3000

    func validate() throws {
        if let problem = Endpoint.problem(with: connect) { throw ValidationError(problem) }
        if pings < 1 { throw ValidationError("--pings must be at least 1") }
        if timeoutMs < 1 { throw ValidationError("--timeout-ms must be at least 1") }
    }

    func run() throws {
        let logger = Logger(label: "sparsefleet.node")
        let context = try ZmqContext()
        let dealer = try ZmqSocket(context: context, type: .dealer)
        try dealer.setReceiveTimeout(milliseconds: timeoutMs)
        try dealer.connect(connect)
        for i in 0..<pings {
            let start = DispatchTime.now()
            try dealer.send([Envelope(kind: .heartbeat).encoded()])
            let reply: [[UInt8]]
            do {
                reply = try dealer.receive()
            } catch let error as ZmqError where error.isTimeout {
                logger.error("no reply from coordinator", metadata: ["endpoint": "\(connect)"])
                throw ValidationError("coordinator at \(connect) did not answer within \(timeoutMs) ms; is it running and is the endpoint right?")
            }
            let envelope = try Envelope.decode(reply[0])
            let micros = Double(DispatchTime.now().uptimeNanoseconds - start.uptimeNanoseconds) / 1000
            print("heartbeat \(i + 1)/\(pings): \(envelope.kind) in \(String(format: "%.0f", micros)) µs")
        }
    }
}
