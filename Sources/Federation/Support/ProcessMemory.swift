// This process's resident memory, read where Linux reports it.
import Engine
import Foundation

/// Resident set size of this process.
public enum ProcessMemory {
    /// Bytes resident now (`VmRSS` of /proc/self/status); 0 where that file does not exist.
    public static func residentBytes() -> Int { status("VmRSS:") }

    /// The largest resident set this process has had (`VmHWM`); 0 where /proc does not exist.
    public static func peakResidentBytes() -> Int { status("VmHWM:") }

    /// A size line of /proc/self/status, in bytes.
    private static func status(_ key: String) -> Int {
        guard let s = try? String(contentsOfFile: "/proc/self/status", encoding: .utf8),
              let line = s.split(separator: "\n").first(where: { $0.hasPrefix(key) }),
              let kb = line.split(separator: " ").dropFirst().first.flatMap({ Int($0) }) else { return 0 }
        return kb * 1024
    }

    /// Bytes the allocator has handed out and not had back (glibc's mallinfo2: heap chunks in
    /// use plus mmapped blocks): the live heap, which RSS overstates by whatever the allocator
    /// keeps after frees. 0 where mallinfo2 does not exist.
    public static func heapInUseBytes() -> Int { Kernels.heapInUseBytes() }

    /// Returns freed memory to the system (see `Kernels.trimHeap`); a fleet process calls it once a
    /// round, when the previous round's models and updates are gone.
    public static func trim() { Kernels.trimHeap() }

    /// Sets the allocator up for a process that frees a model's worth of arrays every round:
    /// allocations of 4 MiB and more get their own mappings, and threads share 2 heaps
    /// (`Kernels.configureHeap`). With glibc's defaults a 10,000-device node's RSS grew by 12 %
    /// from round 2 to 20 while its live heap stayed flat; with a fixed 4 MiB threshold by 7-9 %,
    /// and with 2 heaps as well by 3-4 % (BENCHMARKS.md, "Huge fleet").
    public static func configureForLongRuns() { Kernels.configureHeap(mmapThreshold: 4 << 20, arenaMax: 2) }
}
