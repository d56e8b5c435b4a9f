// A cache of values computed from arrays, keyed by the identity of the array's storage. The
// cache holds the source array itself, which keeps its storage alive and shared: a write to that
// array anywhere else copies it first (copy-on-write), so storage the cache holds never changes
// and its address identifies its contents. Thread-safe; the least recently used entries go when
// the cache would hold more than its byte budget (sources and values), and a process that moves
// on to new weights (a fleet node gets a new global model every round) calls
// `EngineCaches.startGeneration()`: entries unused in the generation that just ended go then, so
// the caches hold the current model's arrays and not a trail of old ones.
import Foundation

/// The engine's weight-derived caches, as a whole.
public enum EngineCaches {
    private static let lock = NSLock()
    nonisolated(unsafe) private static var members: [() -> Void] = []

    /// Registers a cache's generation step (called once per cache).
    static func register(_ startGeneration: @escaping () -> Void) {
        lock.lock(); members.append(startGeneration); lock.unlock()
    }

    /// Starts a new generation in every cache: entries not used since the previous call are dropped.
    public static func startGeneration() {
        lock.lock(); let all = members; lock.unlock()
        for step in all { step() }
    }
}

/// Values derived from arrays, by array storage.
final class StorageKeyedCache<Element, Value>: @unchecked Sendable {
    private struct Entry {
        let source: [Element]
        let tag: Int
        let value: Value
        let bytes: Int
        var lastUse: UInt64
        var generation: UInt64
    }

    private let lock = NSLock()
    private var entries: [UInt: Entry] = [:]
    private var clock: UInt64 = 0
    private var heldBytes = 0
    private var generation: UInt64 = 0
    /// Bytes of sources and values kept at most.
    let maxBytes: Int
    /// A value's size in bytes.
    private let valueBytes: (Value) -> Int

    /// An empty cache of at most `maxBytes` of sources and values (`valueBytes` sizes a value).
    init(maxBytes: Int, valueBytes: @escaping (Value) -> Int) {
        self.maxBytes = maxBytes
        self.valueBytes = valueBytes
        EngineCaches.register { [weak self] in self?.startGeneration() }
    }

    /// Drops the entries not used since the last generation began, and begins a new one.
    func startGeneration() {
        lock.lock()
        for (k, e) in entries where e.generation < generation {
            entries[k] = nil
            heldBytes -= e.bytes
        }
        generation += 1
        lock.unlock()
    }

    /// Entries held now.
    var count: Int { lock.lock(); defer { lock.unlock() }; return entries.count }

    /// Bytes of sources and values held now.
    var bytes: Int { lock.lock(); defer { lock.unlock() }; return heldBytes }

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
            hit.generation = generation
            entries[key] = hit
            lock.unlock()
            return hit.value
        }
        lock.unlock()
        let value = compute(source)
        let size = source.count * MemoryLayout<Element>.stride + valueBytes(value)
        guard size <= maxBytes else { return value }
        lock.lock()
        if let old = entries.removeValue(forKey: key) { heldBytes -= old.bytes }
        if heldBytes + size > maxBytes {  // the least recently used go first
            for (k, e) in entries.sorted(by: { $0.value.lastUse < $1.value.lastUse }) {
                entries[k] = nil
                heldBytes -= e.bytes
                if heldBytes + size <= maxBytes { break }
            }
        }
        entries[key] = Entry(source: source, tag: tag, value: value, bytes: size, lastUse: clock, generation: generation)
        heldBytes += size
        lock.unlock()
        return value
    }
}
