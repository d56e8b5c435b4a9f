// A cache of values computed from arrays, keyed by the identity of the array's storage. The
// cache holds the source array itself, which keeps its storage alive and shared: a write to that
// array anywhere else copies it first (copy-on-write), so storage the cache holds never changes
// and its address identifies its contents. Thread-safe; the least recently used half goes when
// the cache is full.
import Foundation

/// Values derived from arrays, by array storage.
final class StorageKeyedCache<Element, Value>: @unchecked Sendable {
    private struct Entry {
        let source: [Element]
        let tag: Int
        let value: Value
        var lastUse: UInt64
    }

    private let lock = NSLock()
    private var entries: [UInt: Entry] = [:]
    private var clock: UInt64 = 0
    /// Arrays kept at most.
    let capacity: Int

    /// An empty cache of at most `capacity` arrays.
    init(capacity: Int) { self.capacity = capacity }

    /// Entries held now.
    var count: Int { lock.lock(); defer { lock.unlock() }; return entries.count }

    /// `compute(source)`, from the cache when this storage was computed before with the same
    /// `tag` (a parameter of the computation, e.g. a row count) and `isValid` accepts the value
    /// (a check of the computation's other inputs). Empty arrays are not cached.
    func value(for source: [Element], tag: Int, isValid: (Value) -> Bool = { _ in true }, compute: ([Element]) -> Value) -> Value {
        guard !source.isEmpty else { return compute(source) }
        let key = source.withUnsafeBufferPointer { UInt(bitPattern: $0.baseAddress!) }
        lock.lock()
        clock += 1
        if var hit = entries[key], hit.tag == tag, hit.source.count == source.count, isValid(hit.value) {
            hit.lastUse = clock
            entries[key] = hit
            lock.unlock()
            return hit.value
        }
        lock.unlock()
        let value = compute(source)
        lock.lock()
        if entries.count >= capacity {
            let keep = entries.sorted { $0.value.lastUse > $1.value.lastUse }.prefix(capacity / 2)
            entries = Dictionary(uniqueKeysWithValues: keep.map { ($0.key, $0.value) })
        }
        entries[key] = Entry(source: source, tag: tag, value: value, lastUse: clock)
        lock.unlock()
        return value
    }
}
