// `fleet doctor`: proves the plumbing a fleet needs on this machine, end to end.
import ArgumentParser
import Engine
import FleetKit

struct DoctorCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "doctor",
        abstract: "Check this machine: OpenBLAS, ZeroMQ (tcp, ipc, CURVE) and the Fashion-MNIST data set.")

    @Option(help: "Folder holding Fashion-MNIST's *-idx?-ubyte.gz files.")
    var data: String = FashionMNIST.defaultDirectory

    func run() throws {
        print("SparseFleet doctor")
        print(Doctor.blas())
        try Doctor.zeromq { print($0) }
        do {
            print(try Doctor.dataset(directory: data))
        } catch {
            print("  dataset    \(error)")
            throw ExitCode.failure
        }
        print("all checks passed")
    }
}
