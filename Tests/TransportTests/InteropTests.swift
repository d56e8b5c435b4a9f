import Foundation
import Wire
import XCTest

@testable import Transport

/// tools/interop_client.py (pyzmq + protoc-generated classes) against an in-process Swift
/// ROUTER: it joins, answers a heartbeat, and returns valid sparse updates for three tasks in
/// f32, f16 and int8. Skipped when python3 with zmq and google.protobuf is not available.
final class InteropTests: XCTestCase {
    static let repoRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent()
    static let client = repoRoot.appendingPathComponent("tools/interop_client.py").path
    let codec = WireCodec()
    let timeout = 20_000

    /// Whether `python3` can import everything the client needs.
    static let pythonReady: Bool = {
        let check = Process()
        check.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        check.arguments = [
            "python3", "-c",
            "import sys; sys.path.insert(0, sys.argv[1]); import zmq, google.protobuf, sparsefleet_pb2",
            repoRoot.appendingPathComponent("tools").path,
        ]
        check.standardOutput = FileHandle.nullDevice
        check.standardError = FileHandle.nullDevice
        do { try check.run() } catch { return false }
        check.waitUntilExit()
        return check.terminationStatus == 0
    }()

    func launchClient(_ extra: [String]) throws -> (Process, Pipe) {
        try XCTSkipUnless(
            Self.pythonReady,
            "python3 with pyzmq and protobuf 4.21 is not installed (pip install -r tools/requirements-interop.txt)")
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        p.arguments = ["python3", Self.client, "--device", "py-0", "--node", "py-node", "--timeout", "20"] + extra
        let output = Pipe()
        p.standardOutput = output
        p.standardError = output
        try p.run()
        return (p, output)
    }

    /// The delta the client promises: value j is ((seed + j) % 17 - 8) / 1000.
    func expected(seed: UInt64, count: Int) -> [Float] {
        (0..<count).map { Float(Double((Int(seed) + $0) % 17 - 8) / 1000) }
    }

    /// Drives the conversation over `router` with a connected client process.
    func converse(router: ZmqSocket, process: Process, output: Pipe) throws {
        defer { if process.isRunning { process.terminate() } }
        let schema = ProtocolScript.schema
        guard let joinFrames = try router.receive(timeoutMilliseconds: timeout) else {
            process.terminate()
            let log = String(decoding: output.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
            return XCTFail("no JOIN from the python client within \(timeout) ms; its output:\n\(log)")
        }
        let peer = joinFrames[0]
        XCTAssertEqual(peer, Array("py-node".utf8))
        guard case let .join(join) = try codec.decode(Array(joinFrames.dropFirst())) else {
            return XCTFail("first message is not JOIN")
        }
        XCTAssertEqual(join.devices.map(\.deviceID), ["py-0"])
        XCTAssertEqual(join.devices.first?.memoryBudgetBytes, 262_144)

        var hb = PBHeartbeat()
        hb.sequence = 1
        hb.intervalMs = 1000
        try router.send([peer] + codec.encode(.heartbeat(hb)))
        guard let hbBack = try router.receive(timeoutMilliseconds: timeout),
            case let .heartbeat(h) = try codec.decode(Array(hbBack.dropFirst()))
        else { return XCTFail("no HEARTBEAT back") }
        XCTAssertEqual(h.sequence, 1)

        try router.send([peer] + codec.encode(.model(ProtocolScript.snapshot())))
        let encodings: [(PBValueEncoding, ValueEncoding, Float)] = [
            (.f32, .f32, 1e-9), (.f16, .f16, 1e-5), (.int8, .int8, 5e-5),
        ]
        for (round, (pbEncoding, encoding, tolerance)) in encodings.enumerated() {
            let seed = UInt64(100 + round)
            let task = ProtocolScript.task(device: "py-0", round: UInt64(round + 1), encoding: pbEncoding, seed: seed)
            try router.send([peer] + codec.encode(.task(task), schema: schema))
            guard let frames = try router.receive(timeoutMilliseconds: timeout) else {
                return XCTFail("no UPDATE for round \(round + 1)")
            }
            guard case let .update(u) = try codec.decode(Array(frames.dropFirst()), schema: schema) else {
                return XCTFail("round \(round + 1): not an UPDATE")
            }
            XCTAssertEqual(u.deviceID, "py-0")
            XCTAssertEqual(u.round, UInt64(round + 1))
            XCTAssertEqual(u.baseModelVersion, 1)
            XCTAssertEqual(u.sampleCount, 100)
            XCTAssertEqual(u.metrics.steps, 3)
            XCTAssertEqual(u.delta.tensors.map(\.name), ["conv.weight", "conv.bias"])
            XCTAssertEqual(u.delta.tensors[0].channels, .subset([1, 3, 6]))
            XCTAssertEqual(u.delta.tensors[1].channels, .all)
            for t in u.delta.tensors {
                XCTAssertEqual(t.encoding, encoding)
                let want = expected(seed: seed, count: t.values.count)
                for (a, b) in zip(t.values, want) { XCTAssertEqual(a, b, accuracy: tolerance, "\(encoding) \(t.name)") }
            }
            XCTAssertEqual(u.delta.tensors[0].values.count, 4 * 3 * 9)
        }
        var bye = PBBye()
        bye.reason = "test over"
        try router.send([peer] + codec.encode(.bye(bye)))
        guard let last = try router.receive(timeoutMilliseconds: timeout),
            case .bye = try codec.decode(Array(last.dropFirst()))
        else {
            return XCTFail("no BYE from the client")
        }
        process.waitUntilExit()
        let log = String(decoding: output.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        XCTAssertEqual(process.terminationStatus, 0, log)
        XCTAssertTrue(log.contains("3 task(s) done"), log)
    }

    func testPythonClientOverPlainTcp() throws {
        let context = try ZmqContext()
        let router = try ZmqSocket(context: context, type: .router)
        try router.bind("tcp://127.0.0.1:*")
        let (process, output) = try launchClient(["--connect", router.lastEndpoint])
        try converse(router: router, process: process, output: output)
    }

    func testPythonClientOverCurveWithZap() throws {
        let context = try ZmqContext()
        let serverKeys = try Curve.keypair(), nodeKeys = try Curve.keypair()
        let zap = try ZapAuthenticator(context: context, allowedClientKeys: [nodeKeys.publicKey])
        defer { zap.stop() }
        let router = try ZmqSocket(context: context, type: .router)
        try router.makeCurveServer(secretKey: serverKeys.secretKey)
        try router.bind("tcp://127.0.0.1:*")
        let (process, output) = try launchClient([
            // `--opt=value`: a Z85 key may start with "-", which argparse would take for an option.
            "--connect", router.lastEndpoint, "--server-key=\(serverKeys.publicKey)",
            "--public-key=\(nodeKeys.publicKey)", "--secret-key=\(nodeKeys.secretKey)",
        ])
        try converse(router: router, process: process, output: output)
        XCTAssertEqual(zap.admittedCount, 1)
    }
}
