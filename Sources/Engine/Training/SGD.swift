// Plain SGD without momentum (what the devices run): w ← w − η·g.
import CKernels

/// Stochastic gradient descent updates.
public enum SGD {
    /// `w[i] -= lr · g[i]` over the whole tensor.
    public static func apply(_ w: inout [Float], gradient g: [Float], learningRate lr: Float) {
        precondition(w.count == g.count, "SGD: \(w.count) weights but \(g.count) gradients")
        w.withUnsafeMutableBufferPointer { wb in
            for i in 0..<g.count { wb[i] -= lr * g[i] }
        }
    }

    /// `w[i] -= lr · g[i]` over the whole tensor, from a gradient of `w.count` values in device memory.
    public static func apply(_ w: inout [Float], gradient g: UnsafePointer<Float>, learningRate lr: Float) {
        w.withUnsafeMutableBufferPointer { wb in
            for i in 0..<wb.count { wb[i] -= lr * g[i] }
        }
    }

    /// Applies a gradient computed for a subset of input channels of a conv weight.
    /// `g` is [Cout][k][KH][KW] (depthwise: [k][1][KH][KW]); nil channels means the whole tensor.
    public static func applySubset(_ w: inout [Float], gradient g: UnsafePointer<Float>, channels: [Int32]?,
                                   spec: ConvUnitSpec, learningRate lr: Float) {
        let taps = spec.kernel * spec.kernel
        w.withUnsafeMutableBufferPointer { wb in
            guard let channels else {
                for i in 0..<wb.count { wb[i] -= lr * g[i] }
                return
            }
            if spec.isDepthwise {
                for (i, c) in channels.enumerated() {
                    for t in 0..<taps { wb[Int(c) * taps + t] -= lr * g[i * taps + t] }
                }
                return
            }
            let cin = spec.inChannels / spec.groups, k = channels.count
            if taps == 1 && Kernels.avx512 {  // 1×1: the same arithmetic, gathered and scattered 16 at a time
                channels.withUnsafeBufferPointer { sf_sgd_columns(wb.baseAddress!, spec.outChannels, cin, $0.baseAddress!, k, g, lr) }
                return
            }
            for o in 0..<spec.outChannels {
                for (i, c) in channels.enumerated() {
                    let dst = (o * cin + Int(c)) * taps, src = (o * k + i) * taps
                    for t in 0..<taps { wb[dst + t] -= lr * g[src + t] }
                }
            }
        }
    }
}
