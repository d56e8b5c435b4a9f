// CPU time of this process: on a shared machine the wall time of a benchmark round includes the
// time other processes held the core; the CPU time does not.
import Foundation

/// The process's CPU time.
public enum ProcessCPUTime {
    /// User plus system CPU seconds this process has used so far (all threads).
    public static func seconds() -> Double {
        var usage = rusage()
        getrusage(RUSAGE_SELF.rawValue, &usage)
        func s(_ t: timeval) -> Double { Double(t.tv_sec) + Double(t.tv_usec) / 1e6 }
        return s(usage.ru_utime) + s(usage.ru_stime)
    }
}
