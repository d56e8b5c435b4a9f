// ReLU6: y = min(max(x, 0), 6). The gradient passes where 0 < y < 6 (PyTorch's hardtanh rule).
// Backward needs only that 1-bit mask, which is what a device keeps. The byte-packed masks run on
// AVX-512 where `Kernels.avx512` (`CKernels`: compares writing the bits directly).
import CKernels

/// ReLU6 and its 1-bit backward mask.
public enum ReLU6 {
    /// In-place forward over `count` values.
    @inlinable
    public static func forward(_ x: UnsafeMutablePointer<Float>, count: Int) {
        for i in 0..<count { x[i] = min(max(x[i], 0), 6) }
    }

    /// Packs `0 < y < 6` into bits: value i is bit (i % 64) of word i / 64.
    public static func mask(_ y: UnsafePointer<Float>, count: Int) -> [UInt64] {
        var bits = [UInt64](repeating: 0, count: (count + 63) / 64)
        bits.withUnsafeMutableBufferPointer { b in
            var i = 0
            while i < count {
                var word: UInt64 = 0
                let n = min(64, count - i)
                for j in 0..<n {
                    let v = y[i + j]
                    word |= (UInt64(v > 0 ? 1 : 0) & UInt64(v < 6 ? 1 : 0)) &<< UInt64(j)  // branch-free
                }
                b[i / 64] = word
                i += 64
            }
        }
        return bits
    }

    /// Backward from the output: `d = dy` where 0 < y < 6, else 0 (in place allowed).
    @inlinable
    public static func backward(dx: UnsafeMutablePointer<Float>, dy: UnsafePointer<Float>, y: UnsafePointer<Float>, count: Int) {
        for i in 0..<count { dx[i] = (y[i] > 0 && y[i] < 6) ? dy[i] : 0 }
    }

    /// Backward from a packed mask (in place allowed).
    public static func backward(dx: UnsafeMutablePointer<Float>, dy: UnsafePointer<Float>, mask: [UInt64], count: Int) {
        mask.withUnsafeBufferPointer { b in
            for i in 0..<count { dx[i] = (b[i >> 6] >> UInt64(i & 63)) & 1 == 1 ? dy[i] : 0 }
        }
    }

    /// Packs `0 < y < 6` into bytes: value i is bit (i % 8) of byte i / 8 (the bits of `mask`,
    /// for a buffer of (count + 7) / 8 bytes in device memory).
    public static func mask(_ y: UnsafePointer<Float>, count: Int, into bits: UnsafeMutablePointer<UInt8>) {
        if Kernels.avx512 { sf_f32_relu6_mask(y, count, bits); return }
        maskPortable(y, count: count, into: bits)
    }

    /// `mask(_:count:into:)` as a Swift loop (the portable path and the reference).
    static func maskPortable(_ y: UnsafePointer<Float>, count: Int, into bits: UnsafeMutablePointer<UInt8>) {
        var i = 0
        while i < count {
            var byte: UInt8 = 0
            for j in 0..<min(8, count - i) {
                let v = y[i + j]
                byte |= (UInt8(v > 0 ? 1 : 0) & UInt8(v < 6 ? 1 : 0)) &<< UInt8(j)
            }
            bits[i >> 3] = byte
            i += 8
        }
    }

    /// Backward from a byte-packed mask (in place allowed).
    public static func backward(dx: UnsafeMutablePointer<Float>, dy: UnsafePointer<Float>, maskBytes bits: UnsafePointer<UInt8>, count: Int) {
        if Kernels.avx512 { sf_relu6_backward_bits(dx, dy, bits, count); return }
        backwardPortable(dx: dx, dy: dy, maskBytes: bits, count: count)
    }

    /// `backward(dx:dy:maskBytes:count:)` as a Swift loop (the portable path and the reference).
    static func backwardPortable(dx: UnsafeMutablePointer<Float>, dy: UnsafePointer<Float>, maskBytes bits: UnsafePointer<UInt8>, count: Int) {
        for i in 0..<count { dx[i] = (bits[i >> 3] >> UInt8(i & 7)) & 1 == 1 ? dy[i] : 0 }
    }
}
