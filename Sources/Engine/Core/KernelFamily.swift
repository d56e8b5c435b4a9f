// OpenBLAS picks its kernels by CPU model. Debian bookworm's OpenBLAS 0.3.21 predates Intel
// Sapphire/Emerald Rapids (model 207 reports "Intel(R) Xeon(R) Processor"), and on a CPU it does
// not know it falls back to "Prescott", its SSE3 kernels: measured on such a machine
// (2026-12-02), sgemm 512×1024×512 ran at 22.6 GFLOP/s against 108.3 with "SkylakeX", and the
// Lite0 forward took 11.5 ms against 6.2. Setting OPENBLAS_CORETYPE by hand fixes it; this does it
// for every SparseFleet process, once, before the first BLAS call.
import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// The OpenBLAS kernel family in force, repaired when OpenBLAS fell back to its slowest one.
public enum KernelFamily {
    /// What happened at start-up, for `doctor`-style reports and benchmark headers.
    public private(set) static var note = ""

    /// Families worth choosing, best first, with the CPU flags each needs. "SkylakeX" is the
    /// AVX-512 sgemm (measured faster than "Cooperlake", whose extra kernels are bf16, and than
    /// "Haswell"'s AVX2 on the Emerald Rapids machine).
    static let candidates: [(name: String, flags: [String])] = [
        ("SkylakeX", ["avx512f", "avx512bw", "avx512vl", "avx512dq"]),
        ("Haswell", ["avx2", "fma"]),
    ]

    /// The family to force, given the family OpenBLAS chose, the user's OPENBLAS_CORETYPE and the
    /// CPU's flags; nil: keep OpenBLAS's choice.
    static func choice(detected: String, userChoice: String?, flags: Set<String>) -> String? {
        guard userChoice == nil, detected.lowercased() == "prescott" else { return nil }
        return candidates.first { $0.flags.allSatisfy(flags.contains) }?.name
    }

    /// The CPU's feature flags from /proc/cpuinfo (empty where there is none).
    static func cpuFlags() -> Set<String> {
        guard let text = try? String(contentsOfFile: "/proc/cpuinfo", encoding: .utf8),
              let line = text.split(separator: "\n").first(where: { $0.hasPrefix("flags") }),
              let colon = line.firstIndex(of: ":") else { return [] }
        return Set(line[line.index(after: colon)...].split(separator: " ").map(String.init))
    }

    /// Runs once: re-initialises OpenBLAS's dynamic dispatch with a better family when it fell
    /// back to Prescott on a CPU with AVX2 or AVX-512. Uses OpenBLAS's own entry points
    /// (`gotoblas_dynamic_quit`/`_init`, looked up at run time, so a non-dynamic OpenBLAS is left
    /// alone); the result is the same as starting the process with OPENBLAS_CORETYPE set.
    public static let repaired: Bool = {
        let detected = BLAS.detectedCoreName
        let user = ProcessInfo.processInfo.environment["OPENBLAS_CORETYPE"]
        guard let family = choice(detected: detected, userChoice: user, flags: cpuFlags()) else {
            note = "OpenBLAS kernels: \(detected)" + (user != nil ? " (OPENBLAS_CORETYPE)" : "")
            return false
        }
        guard let quit = dlsym(nil, "gotoblas_dynamic_quit"), let initialise = dlsym(nil, "gotoblas_dynamic_init") else {
            note = "OpenBLAS kernels: \(detected) (this OpenBLAS cannot switch; set OPENBLAS_CORETYPE=\(family))"
            return false
        }
        typealias Entry = @convention(c) () -> Void
        setenv("OPENBLAS_CORETYPE", family, 1)
        unsafeBitCast(quit, to: Entry.self)()
        unsafeBitCast(initialise, to: Entry.self)()
        unsetenv("OPENBLAS_CORETYPE")  // child processes detect for themselves
        note = "OpenBLAS kernels: \(BLAS.detectedCoreName) (OpenBLAS chose \(detected) for this CPU, which it does not know)"
        return true
    }()
}
