// Every device of a node quantises the same global weights for every task (its view, its
// evaluations, its training start); the int8 weights and scales are a function of the fp32 weights
// alone (per-row symmetric: no activation scale enters), so the simulator computes them once per
// weight array. The cache holds the source array itself, which keeps its storage alive and shared:
// any write to that array elsewhere copies it first (copy-on-write), so storage the cache holds
// never changes and its address identifies its contents.
import Foundation

/// Recently quantised weight arrays, by the identity of their storage.
final class QuantizedRowsCache: @unchecked Sendable {
    /// The process's cache.
    static let shared = QuantizedRowsCache(capacity: 192)

    /// One quantised array.
    private struct Entry {
        let source: [Float]
        let rows: Int
        let weights: [Int8]
        let scales: [Float]
        var lastUse: UInt64
    }

    private let lock = NSLock()
    private var entries: [UInt: Entry] = [:]
    private var clock: UInt64 = 0
    /// Arrays kept at most (about two models' trainable tails; the oldest half goes when full).
    let capacity: Int

    /// An empty cache of at most `capacity` arrays.
    init(capacity: Int) { self.capacity = capacity }

    /// Entries held now.
    var count: Int { lock.lock(); defer { lock.unlock() }; return entries.count }

    /// `compute(w)` for `w` split into `rows` rows, from the cache when this storage was quantised
    /// with the same row count before.
    func rows(_ w: [Float], rows: Int, compute: ([Float]) -> ([Int8], [Float])) -> ([Int8], [Float]) {
        guard !w.isEmpty else { return compute(w) }
        let key = w.withUnsafeBufferPointer { UInt(bitPattern: $0.baseAddress!) }
        lock.lock()
        clock += 1
        if var hit = entries[key], hit.rows == rows, hit.source.count == w.count {
            hit.lastUse = clock
            entries[key] = hit
            lock.unlock()
            return (hit.weights, hit.scales)
        }
        lock.unlock()
        let (q, s) = compute(w)
        lock.lock()
        if entries.count >= capacity {
            let keep = entries.sorted { $0.value.lastUse > $1.value.lastUse }.prefix(capacity / 2)
            entries = Dictionary(uniqueKeysWithValues: keep.map { ($0.key, $0.value) })
        }
        entries[key] = Entry(source: w, rows: rows, weights: q, scales: s, lastUse: clock)
        lock.unlock()
        return (q, s)
    }
}
