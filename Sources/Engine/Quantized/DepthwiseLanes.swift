// The AVX-512 depthwise kernels read their weights in lane order ([C/16][taps][16]: 16 channels
// per vector). A depthwise conv's int8 weights stay the same for all the steps of every device
// that does not train them, so the simulator lays them out once per weight array
// (`StorageKeyedCache`) instead of once per call.
import CKernels

/// Depthwise weights in the lane order of `CKernels`.
enum DepthwiseLanes {
    private static let int8Cache = StorageKeyedCache<Int8, [Int32]>(maxBytes: 8 << 20) { 4 * $0.count }
    private static let realCache = StorageKeyedCache<Int8, (scales: [Float], lanes: [Float])>(maxBytes: 8 << 20) { 4 * ($0.scales.count + $0.lanes.count) }

    private static let fp32Cache = StorageKeyedCache<Float, [Float]>(maxBytes: 8 << 20) { 4 * $0.count }

    /// fp32 weights [C][taps] in lane order, for the fp32 depthwise kernels.
    static func fp32(_ weight: [Float], channels: Int, taps: Int) -> [Float] {
        fp32Cache.value(for: weight, tag: channels) { w in
            [Float](unsafeUninitializedCapacity: (channels + 15) / 16 * 16 * taps) { out, done in
                w.withUnsafeBufferPointer { sf_f32_depthwise_lanes(nil, nil, $0.baseAddress!, channels, taps, out.baseAddress!) }
                done = out.count
            }
        }
    }

    /// `weight` ([C][taps]) for `sf_int8_depthwise`.
    static func int8(_ weight: [Int8], channels: Int, taps: Int) -> [Int32] {
        int8Cache.value(for: weight, tag: channels) { w in
            [Int32](unsafeUninitializedCapacity: (channels + 15) / 16 * 16 * taps) { out, done in
                w.withUnsafeBufferPointer { sf_int8_depthwise_lanes($0.baseAddress!, channels, taps, out.baseAddress!) }
                done = out.count
            }
        }
    }

    /// The real weights scales[c]·q[c][t] of an int8 depthwise unit, for `sf_f32_depthwise_backward_input`.
    static func real(_ q: QuantizedUnit, channels: Int, taps: Int) -> [Float] {
        realCache.value(for: q.weight, tag: channels, isValid: { $0.scales == q.weightScales }) { w in
            let lanes = [Float](unsafeUninitializedCapacity: (channels + 15) / 16 * 16 * taps) { out, done in
                w.withUnsafeBufferPointer { wb in
                    q.weightScales.withUnsafeBufferPointer { sf_f32_depthwise_lanes(wb.baseAddress!, $0.baseAddress!, nil, channels, taps, out.baseAddress!) }
                }
                done = out.count
            }
            return (q.weightScales, lanes)
        }.lanes
    }
}
