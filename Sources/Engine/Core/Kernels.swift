// Which compute kernels this process runs: the AVX-512 kernels of `CKernels` where the CPU has
// them, else the portable Swift loops and OpenBLAS. Where the arithmetic is exact (the integer
// kernels, the QAS update) both give the same bits; the small fp32 GEMMs round differently from
// OpenBLAS (their tests state the tolerance) but are deterministic and column-independent.
import CKernels
import Foundation

/// The process-wide kernel choice.
public enum Kernels {
    /// Whether the AVX-512 kernels run: the CPU and OS have AVX-512 F/BW/DQ/VL and
    /// `SPARSEFLEET_KERNELS` is not `portable`.
    public static let avx512: Bool = {
        if let raw = getenv("SPARSEFLEET_KERNELS"), String(cString: raw) == "portable" { return false }
        return cpuHasAVX512
    }()

    /// Whether this CPU and OS run the AVX-512 kernels (whatever the environment says).
    public static let cpuHasAVX512 = sf_avx512_available() != 0

    /// Bytes the allocator has handed out and not had back (glibc's mallinfo2); 0 elsewhere.
    public static func heapInUseBytes() -> Int { sf_heap_in_use_bytes() }

    /// Large allocations (from `mmapThreshold` bytes) get their own mappings, given back when
    /// freed: glibc otherwise raises its threshold after the first large free and serves later
    /// model-sized arrays from the heap, where freed ones fragment it and stay resident. Threads
    /// share at most `arenaMax` heaps (glibc gives each thread its own, up to 8 per core, and each
    /// keeps its own free memory).
    public static func configureHeap(mmapThreshold: Int, arenaMax: Int) { sf_heap_configure(mmapThreshold, Int32(arenaMax)) }

    /// Returns the allocator's free memory to the system (glibc's malloc_trim): a long-running
    /// process that frees a model's worth of arrays every round otherwise keeps them resident.
    public static func trimHeap() { sf_heap_trim() }

    /// `avx512` or `portable`, for logs and benchmarks.
    public static var name: String { avx512 ? "avx512" : "portable" }

    /// The largest column count (pixels × batch) for which the fp32 GEMMs of the 1×1 convs run
    /// the unpacked AVX-512 kernels instead of OpenBLAS: they won on every 1×1 shape of
    /// EfficientNet-Lite0 at 64×64 from 4 to 1,024 columns and drew level at 4,096 (BENCHMARKS.md).
    public static let smallColumns = 1024
}
