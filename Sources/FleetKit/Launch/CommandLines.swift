// The exact coordinator and node command lines of a fleet: what `fleet run` starts on this
// machine and what `fleet plan` prints for launching nodes on other machines.
import Foundation

/// One process to start.
public struct ProcessCommand: Codable, Equatable, Sendable {
    /// Name for logs and messages (`coordinator`, `node-1`, …).
    public var name: String
    /// Executable path.
    public var executable: String
    /// Arguments.
    public var arguments: [String]

    /// The command as a shell line (arguments quoted where needed).
    public var shellLine: String {
        ([executable] + arguments).map(Self.quote).joined(separator: " ")
    }

    /// `s` quoted for a POSIX shell when it holds anything but safe characters.
    static func quote(_ s: String) -> String {
        let safe = CharacterSet(charactersIn: "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_./:=,@+%")
        if !s.isEmpty, s.unicodeScalars.allSatisfy({ safe.contains($0) }) { return s }
        return "'" + s.replacingOccurrences(of: "'", with: "'\\''") + "'"
    }
}

/// The coordinator and node commands of one fleet.
public struct LaunchCommands: Codable, Equatable, Sendable {
    /// The coordinator.
    public var coordinator: ProcessCommand
    /// The nodes, node-1 first.
    public var nodes: [ProcessCommand]

    /// These commands.
    public init(coordinator: ProcessCommand, nodes: [ProcessCommand]) { self.coordinator = coordinator; self.nodes = nodes }

    /// Commands for `plan` in `folder`: the coordinator binds `bind`, nodes connect to `connect`.
    public init(plan: FleetPlan, folder: RunFolder, binDir: String, bind: String, connect: String, curve: Bool,
                corruptNode: Int? = nil, corruptRound: Int = 1, logLevel: String = "info") {
        var c = ["--config", folder.config, "--bind", bind, "--run-dir", folder.coordinator, "--log-level", logLevel]
        if curve { c += ["--key-file", folder.coordinatorKey] }
        coordinator = ProcessCommand(name: "coordinator", executable: binDir + "/coordinator", arguments: c)
        nodes = zip(plan.nodeNames, plan.nodeDevices).enumerated().map { i, pair in
            var a = ["run", "--config", folder.config, "--connect", connect, "--name", pair.0, "--devices", pair.1.joined(separator: ","),
                     "--join-timeout-ms", "\(max(15_000, plan.config.rounds.joinWaitMs))", "--log-level", logLevel]
            if curve { a += ["--key-file", folder.nodeKey(pair.0)] }
            if corruptNode == i + 1 { a += ["--corrupt-update-round", "\(corruptRound)"] }
            return ProcessCommand(name: pair.0, executable: binDir + "/node", arguments: a)
        }
    }

    /// The folder holding this program (where `coordinator` and `node` are built next to `fleet`).
    public static var defaultBinDir: String {
        let exe = (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")) ?? CommandLine.arguments[0]
        return (exe as NSString).deletingLastPathComponent
    }

    /// A free TCP port on 127.0.0.1 (bound and released; a race with other programs is unlikely).
    public static func freePort() -> Int {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(fd) }
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        addr.sin_port = 0
        addr.sin_addr.s_addr = inet_addr("127.0.0.1")
        var len = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafePointer(to: &addr) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, len) } }
        _ = withUnsafeMutablePointer(to: &addr) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &len) } }
        return Int(UInt16(bigEndian: addr.sin_port))
    }
}
