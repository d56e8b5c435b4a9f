// Which of a node's devices keep their frozen-front feature caches between tasks. Caching saves a
// forward pass of the front per image at the next task, but in a huge fleet a device is sampled
// once in many rounds: kept for every device that ever trained, the caches made a node's memory
// grow round after round. The node keeps them for its most recently used devices only.

/// The most recently used devices that may keep feature caches.
final class FeatureCacheBudget {
    /// Devices allowed to hold caches at once.
    let limit: Int
    /// Device ids holding caches, least recently used first.
    private var order: [String] = []

    /// A budget of `limit` devices (at least 1).
    init(limit: Int) { self.limit = max(1, limit) }

    /// The budget for a node hosting `devices` of which about `sampleFraction` train each round:
    /// four rounds' worth, and at least 64 (a small fleet keeps every cache).
    convenience init(devices: Int, sampleFraction: Double) {
        let perRound = Int((sampleFraction * Double(devices)).rounded(.up))
        self.init(limit: max(64, 4 * perRound))
    }

    /// Records that `id` has just used its caches; returns the devices that must drop theirs.
    func used(_ id: String) -> [String] {
        if let i = order.firstIndex(of: id) { order.remove(at: i) }
        order.append(id)
        guard order.count > limit else { return [] }
        let evicted = Array(order.prefix(order.count - limit))
        order.removeFirst(order.count - limit)
        return evicted
    }
}
