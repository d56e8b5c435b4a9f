// Every device of a node quantises the same global weights for every task (its view, its
// evaluations, its training start); the int8 weights and scales are a function of the fp32 weights
// alone (per-row symmetric: no activation scale enters), so the simulator computes them once per
// weight array (`StorageKeyedCache`: the same storage holds the same values).

/// Recently quantised weight arrays.
enum QuantizedRowsCache {
    /// The process's cache: 48 MB, a whole EfficientNet-Lite0 (the front every device's feature
    /// cache is built with: 24 MB of fp32 and int8) and about two rounds' global tails.
    static let shared = StorageKeyedCache<Float, ([Int8], [Float])>(maxBytes: 48 << 20) { $0.0.count + 4 * $0.1.count }
}
