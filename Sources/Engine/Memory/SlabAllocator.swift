// Offsets for a step's buffers in one slab, computed before the step runs (llm.c's sizes-first
// style: the schedule is known in advance, as a device's toolchain knows it). Two standard
// placements are tried and the smaller slab kept:
//  - first fit in schedule order (ggml's dynamic allocator): each buffer takes the lowest free
//    range that holds it, freed neighbours merge, nothing moves;
//  - greedy by size (TensorFlow Lite Micro's arena planner): the largest buffers are placed
//    first, each at the lowest offset clear of every placed buffer whose lifetime overlaps it.
// The slab's peak is the high-water mark of the offsets, so it counts fragmentation as well as
// what is live. Sizes round up to 4 bytes, the alignment word access needs on an MCU.

/// Where every buffer of a step sits, and what that costs.
public struct SlabLayout: Equatable, Sendable {
    /// Byte offset of each buffer (index as in `StepBuffers.buffers`).
    public var offsets: [Int]
    /// Aligned size of each buffer.
    public var sizes: [Int]
    /// The high-water mark: bytes of slab the step needs.
    public var peak = 0
    /// The buffer that reaches the high-water mark.
    public var peakAt = ""
    /// Live bytes per kind when that buffer is allocated.
    public var peakBreakdown: [BufferKind: Int] = [:]
    /// The most bytes live at once (the peak without fragmentation).
    public var livePeak = 0
    /// The peak of the live bytes kept for backward (saved maps, BN x̂, pooled features, masks).
    public var featurePeak = 0
    /// Which placement gave the offsets.
    public var placement = SlabAllocator.Placement.firstFit
    /// Set when the peak exceeds the slab's capacity: the step needs `peak` bytes.
    public var overflow: MemoryOverflow?
}

/// Placement of a schedule in a slab.
public enum SlabAllocator {
    /// The two placements.
    public enum Placement: String, Sendable { case firstFit = "first fit", greedyBySize = "greedy by size" }

    /// Bytes a buffer of `bytes` occupies.
    public static func aligned(_ bytes: Int) -> Int { (bytes + 3) & ~3 }

    /// Places `buffers` in a slab of `capacity` bytes with the placement that needs less of it.
    public static func layout(_ buffers: StepBuffers, arch: Architecture, capacity: Int = .max) -> SlabLayout {
        let sizes = buffers.buffers.map { aligned($0.bytes) }
        let life = lifetimes(buffers)
        let ff = firstFit(buffers, sizes: sizes), greedy = greedyBySize(life, sizes: sizes)
        func top(_ o: [Int]) -> Int { zip(o, sizes).map { $0 + $1 }.max() ?? 0 }
        let useGreedy = top(greedy) < top(ff)
        var out = SlabLayout(offsets: useGreedy ? greedy : ff, sizes: sizes)
        out.placement = useGreedy ? .greedyBySize : .firstFit
        out.peak = top(out.offsets)
        if let p = out.offsets.indices.first(where: { out.offsets[$0] + sizes[$0] == out.peak && sizes[$0] > 0 }) {
            out.peakAt = buffers.buffers[p].role.label(arch, dense: buffers.dense)
            for i in sizes.indices where life[i].start <= life[p].start && life[p].start < life[i].end {
                out.peakBreakdown[buffers.buffers[i].kind, default: 0] += sizes[i]
            }
        }
        var live = 0, features = 0
        for event in buffers.events {
            switch event {
            case let .allocate(i):
                live += sizes[i]
                if buffers.buffers[i].kind.isFeature { features += sizes[i] }
            case let .free(i):
                live -= sizes[i]
                if buffers.buffers[i].kind.isFeature { features -= sizes[i] }
            }
            out.livePeak = max(out.livePeak, live)
            out.featurePeak = max(out.featurePeak, features)
        }
        if out.peak > capacity { out.overflow = MemoryOverflow(budget: capacity, needed: out.peak, at: out.peakAt) }
        return out
    }

    /// Each buffer's lifetime in schedule events: [allocation, free) (never freed: to the end).
    static func lifetimes(_ buffers: StepBuffers) -> [(start: Int, end: Int)] {
        var life = [(start: Int, end: Int)](repeating: (0, buffers.events.count), count: buffers.buffers.count)
        for (t, e) in buffers.events.enumerated() {
            switch e {
            case let .allocate(i): life[i].start = t
            case let .free(i): life[i].end = t
            }
        }
        return life
    }

    /// First fit in schedule order.
    static func firstFit(_ buffers: StepBuffers, sizes: [Int]) -> [Int] {
        var offsets = [Int](repeating: 0, count: sizes.count)
        var free: [(start: Int, size: Int)] = []  // sorted by start, below `top`
        var top = 0
        for event in buffers.events {
            switch event {
            case let .allocate(i):
                let size = sizes[i]
                var offset = top
                if let j = free.firstIndex(where: { $0.size >= size }) {
                    offset = free[j].start
                    if free[j].size == size { free.remove(at: j) } else { free[j] = (free[j].start + size, free[j].size - size) }
                } else if let last = free.last, last.start + last.size == top {
                    offset = last.start  // grow the top hole rather than leave it
                    free.removeLast()
                }
                offsets[i] = offset
                top = max(top, offset + size)
            case let .free(i):
                insert(&free, start: offsets[i], size: sizes[i])
                if let last = free.last, last.start + last.size == top { top = last.start; free.removeLast() }
            }
        }
        return offsets
    }

    /// Greedy by size: largest first, each at the lowest offset clear of the placed buffers
    /// that are live at the same time.
    static func greedyBySize(_ life: [(start: Int, end: Int)], sizes: [Int]) -> [Int] {
        var offsets = [Int](repeating: 0, count: sizes.count)
        var placed: [Int] = []
        for i in sizes.indices.sorted(by: { sizes[$0] != sizes[$1] ? sizes[$0] > sizes[$1] : life[$0].start < life[$1].start }) {
            let clashes = placed.filter { life[$0].start < life[i].end && life[i].start < life[$0].end }.sorted { offsets[$0] < offsets[$1] }
            var candidate = 0
            for j in clashes {
                if candidate + sizes[i] <= offsets[j] { break }
                candidate = max(candidate, offsets[j] + sizes[j])
            }
            offsets[i] = candidate
            placed.append(i)
        }
        return offsets
    }

    /// Adds a free range and merges it with its neighbours.
    static func insert(_ free: inout [(start: Int, size: Int)], start: Int, size: Int) {
        guard size > 0 else { return }
        var j = free.firstIndex { $0.start > start } ?? free.count
        free.insert((start, size), at: j)
        if j + 1 < free.count, free[j].start + free[j].size == free[j + 1].start {
            free[j].size += free[j + 1].size
            free.remove(at: j + 1)
        }
        if j > 0, free[j - 1].start + free[j - 1].size == free[j].start {
            free[j - 1].size += free[j].size
            free.remove(at: j)
            j -= 1
        }
    }
}

extension BufferKind {
    /// Kept for backward (what sparse training saves and dense training must store per layer).
    var isFeature: Bool { self == .saved || self == .mask }
}
