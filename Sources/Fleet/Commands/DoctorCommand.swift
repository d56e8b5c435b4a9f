// `fleet doctor`: proves the plumbing a fleet needs on this machine, end to end.
import ArgumentParser
import Engine
import Foundation
import Transport
import Wire

struct DoctorCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "doctor",
        abstract: "Check this machine: OpenBLAS, ZeroMQ (tcp, ipc, CURVE) and the Fashion-MNIST data set.")

    @Option(help: "Folder holding Fashion-MNIST's *-idx?-ubyte.gz files.")
    var data: String = FashionMNIST.defaultDirectory

    func run() throws {
        print("SparseFleet doctor")
        // 1. BLAS
        let n = 256
        let a = (0..<n * n).map { Float(($0 * 7) % 13) / 13 }
        let b = (0..<n * n).map { Float(($0 * 5) % 11) / 11 }
        var c = [Float](repeating: 0, count: n * n)
        let reps = 20
        let start = DispatchTime.now()
        for _ in 0..<reps {
            BLAS.sgemm(m: n, n: n, k: n, a: a, lda: n, b: b, ldb: n, c: &c, ldc: n)
        }
        let secs = Double(DispatchTime.now().uptimeNanoseconds - start.uptimeNanoseconds) / 1e9
        let gflops = Double(2 * n * n * n * reps) / secs / 1e9
        print(String(format: "  OpenBLAS   core %@, %d thread(s), sgemm 256³ %.1f GFLOP/s",
                     BLAS.coreName, BLAS.threads, gflops))

        // 2. ZeroMQ round trips over tcp and ipc
        let context = try ZmqContext()
        print("  ZeroMQ     libzmq \(ZmqContext.version), curve \(ZmqContext.has("curve") ? "yes" : "NO")")
        let ipcPath = "ipc://\(NSTemporaryDirectory())sparsefleet-doctor-\(getpid()).sock"
        for endpoint in ["tcp://127.0.0.1:*", ipcPath] {
            let router = try ZmqSocket(context: context, type: .router)
            try router.bind(endpoint)
            let dealer = try ZmqSocket(context: context, type: .dealer)
            try dealer.setReceiveTimeout(milliseconds: 2000)
            try router.setReceiveTimeout(milliseconds: 2000)
            try dealer.connect(router.lastEndpoint)
            let t0 = DispatchTime.now()
            try dealer.send([Envelope(kind: .heartbeat).encoded()])
            let got = try router.receive()
            try router.send([got[0], got[1]])
            _ = try dealer.receive()
            let micros = Double(DispatchTime.now().uptimeNanoseconds - t0.uptimeNanoseconds) / 1000
            print(String(format: "  round trip %@ %.0f µs", router.lastEndpoint, micros))
        }

        // 3. Fashion-MNIST through zlib
        do {
            let test = try FashionMNIST.load(split: .test, directory: data)
            print("  dataset    Fashion-MNIST test split: \(test.count) images \(test.height)x\(test.width) in \(data)")
        } catch {
            print("  dataset    \(error)")
            throw ExitCode.failure
        }
        print("all checks passed")
    }
}
