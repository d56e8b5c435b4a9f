// The checks of `fleet doctor`: the plumbing a fleet needs on this machine, end to end — OpenBLAS,
// ZeroMQ round trips over tcp and ipc (and whether CURVE is built in), and the data set through zlib.
import Engine
import Foundation
import Transport
import Wire

/// The machine checks behind `fleet doctor`; each reports its findings as indented lines.
public enum Doctor {
    /// OpenBLAS's core, thread count and sgemm 256³ speed, as one line.
    public static func blas() -> String {
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
        let repaired = KernelFamily.repaired ? " (repaired: \(KernelFamily.note))" : ""
        return String(format: "  OpenBLAS   core %@, %d thread(s), sgemm 256³ %.1f GFLOP/s", BLAS.coreName, BLAS.threads, gflops) + repaired
    }

    /// libzmq's version and CURVE support, then one DEALER→ROUTER round trip over tcp and one over
    /// ipc; each line goes to `report` as soon as it is known. Throws when a round trip fails.
    public static func zeromq(_ report: (String) -> Void) throws {
        let context = try ZmqContext()
        report("  ZeroMQ     libzmq \(ZmqContext.version), curve \(ZmqContext.has("curve") ? "yes" : "NO")")
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
            report(String(format: "  round trip %@ %.0f µs", router.lastEndpoint, micros))
        }
    }

    /// The Fashion-MNIST test split read from `directory` (through zlib), as one line; throws when it cannot be read.
    public static func dataset(directory: String) throws -> String {
        let test = try FashionMNIST.load(split: .test, directory: directory)
        return "  dataset    Fashion-MNIST test split: \(test.count) images \(test.height)x\(test.width) in \(directory)"
    }
}
