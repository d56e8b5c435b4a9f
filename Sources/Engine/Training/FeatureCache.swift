// The frozen-prefix activation cache: while the front of the network stays frozen for a whole
// run, each sample's feature map at the first trainable block never changes, so it is computed
// once. Training from the cache is bit-identical to training from images (tested). An int8
// device's cache holds the int8 features its integer front computes (1 byte per value).

/// Per-sample feature maps at one block, for a fixed data set and preprocessing.
public final class FeatureCache: @unchecked Sendable {
    /// The block whose input is cached (0: the preprocessed images themselves).
    public let block: Int
    /// Values per sample.
    public let sampleSize: Int
    /// Channels of the cached map (to interleave a batch into [C][N][H][W]).
    public let channels: Int
    /// Pixels per channel.
    public let plane: Int
    /// Sample-major storage, [sample][C][H][W] (fp32 arithmetic).
    public private(set) var values: [Float] = []
    /// Sample-major int8 storage (int8 arithmetic).
    public private(set) var int8Values: [Int8] = []
    /// How the device computes; int8 caches hold int8 features.
    public let arithmetic: DeviceArithmetic
    /// Number of cached samples.
    public var count: Int { (arithmetic.precision == .int8 ? int8Values.count : values.count) / max(1, sampleSize) }

    /// Computes the features of every sample of `data` at `block` with `net`'s frozen front, one
    /// sample at a time (so they equal what `Trainer` computes for any batch; `batch` only groups
    /// the preprocessing).
    /// With int8 `arithmetic`, the features are those of the device's integer front.
    public init(net: Network, data: ImageDataset, preprocessing: Preprocessing, block: Int, batch: Int = 32,
                arithmetic: DeviceArithmetic = .fp32, progress: ((Int, Int) -> Void)? = nil) {
        self.arithmetic = arithmetic
        let arch = net.arch
        let size = preprocessing.size
        let geos = arch.geometries(batch: 1, height: size, width: size)
        let startUnit = block < arch.blocks.count ? arch.blocks[block].units.lowerBound : arch.units.count
        if startUnit < geos.count {
            channels = geos[startUnit].inChannels
            plane = geos[startUnit].inPlane
        } else {
            channels = geos[geos.count - 1].outChannels
            plane = geos[geos.count - 1].outPlane
        }
        self.block = block
        sampleSize = channels * plane
        if arithmetic.precision == .int8 {
            let q = arithmetic.quantise(net)
            int8Values = [Int8](repeating: 0, count: data.count * sampleSize)
            let runner = QuantizedForward()
            var start = 0
            while start < data.count {
                let idx = Array(start..<min(start + batch, data.count))
                let images = q.quantiseInput(preprocessing.batch(data, indices: idx), block: 0)
                let f = block == 0 ? images : runner.features(q, input: images, batch: idx.count, height: size, width: size, blocks: 0..<block)
                for (j, i) in idx.enumerated() {
                    for c in 0..<channels {
                        let src = (c * idx.count + j) * plane, dst = i * sampleSize + c * plane
                        for p in 0..<plane { int8Values[dst + p] = f[src + p] }
                    }
                }
                start += idx.count
                progress?(start, data.count)
            }
            return
        }
        values = [Float](repeating: 0, count: data.count * sampleSize)
        let runner = ForwardRunner()
        var start = 0
        while start < data.count {
            let idx = Array(start..<min(start + batch, data.count))
            let images = preprocessing.batch(data, indices: idx)
            let f = block == 0 ? images
                : runner.featuresPerSample(net, input: images, batch: idx.count, height: size, width: size, blocks: 0..<block)
            // [C][n][plane] → sample-major.
            for (j, i) in idx.enumerated() {
                for c in 0..<channels {
                    let src = (c * idx.count + j) * plane, dst = i * sampleSize + c * plane
                    for p in 0..<plane { values[dst + p] = f[src + p] }
                }
            }
            start += idx.count
            progress?(start, data.count)
        }
    }

    /// The int8 batch of `indices` in the engine's layout [C][N][H][W] (int8 caches).
    public func int8Batch(_ indices: [Int]) -> [Int8] {
        precondition(arithmetic.precision == .int8, "FeatureCache: an fp32 cache has no int8 features")
        return interleave(int8Values, indices)
    }

    /// The samples `indices` of sample-major `values`, interleaved into [C][N][H][W].
    private func interleave<T: Numeric>(_ values: [T], _ indices: [Int]) -> [T] {
        let n = indices.count
        var out = [T](repeating: 0, count: n * sampleSize)
        values.withUnsafeBufferPointer { v in
            out.withUnsafeMutableBufferPointer { o in
                for (j, i) in indices.enumerated() {
                    for c in 0..<channels {
                        (o.baseAddress! + (c * n + j) * plane).update(from: v.baseAddress! + i * sampleSize + c * plane, count: plane)
                    }
                }
            }
        }
        return out
    }

    /// A function from sample indices to the logits [classes][N] of `net` on them, computed as
    /// the device computes (int8 caches quantise `net`'s layers from the cached block, once).
    public func logits(_ net: Network, size: Int, runner: ForwardRunner) -> ([Int]) -> [Float] {
        if arithmetic.precision == .int8 {
            let q = arithmetic.quantise(net, fromBlock: block)
            let qf = QuantizedForward()
            return { idx in qf.logits(q, input: self.int8Batch(idx), batch: idx.count, height: size, width: size, fromBlock: self.block) }
        }
        return { idx in runner.logits(net, input: self.batch(idx), batch: idx.count, height: size, width: size, fromBlock: self.block) }
    }

    /// The logits [classes][N] of the int8 model `q` (its units from this cache's block on) on
    /// cached samples (int8 caches).
    public func logits(_ q: QuantizedNetwork, size: Int) -> ([Int]) -> [Float] {
        precondition(arithmetic.precision == .int8, "FeatureCache: an fp32 cache cannot run an int8 model")
        let qf = QuantizedForward()
        return { idx in qf.logits(q, input: self.int8Batch(idx), batch: idx.count, height: size, width: size, fromBlock: self.block) }
    }

    /// The batch of `indices` in the engine's layout [C][N][H][W] (fp32 caches).
    public func batch(_ indices: [Int]) -> [Float] {
        precondition(arithmetic.precision == .fp32, "FeatureCache: an int8 cache holds int8 features (int8Batch)")
        return interleave(values, indices)
    }
}
