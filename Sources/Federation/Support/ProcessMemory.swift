// This process's resident memory, read where Linux reports it.
import Foundation

/// Resident set size of this process.
public enum ProcessMemory {
    /// Bytes resident now (`VmRSS` of /proc/self/status); 0 where that file does not exist.
    public static func residentBytes() -> Int {
        guard let s = try? String(contentsOfFile: "/proc/self/status", encoding: .utf8),
              let line = s.split(separator: "\n").first(where: { $0.hasPrefix("VmRSS:") }),
              let kb = line.split(separator: " ").dropFirst().first.flatMap({ Int($0) }) else { return 0 }
        return kb * 1024
    }
}
