// The cryptographic PRG behind every mask: the ChaCha20 keystream under a 32-byte seed (swift-
// crypto's ChaChaPoly sealing zeros yields exactly the keystream; the tag is discarded). A mask
// is that stream read as little-endian 32-bit words, cut to the ring Z_{2^b}. `ChaChaGenerator`
// is the same stream as a RandomNumberGenerator, for the protocol's seeded choices.
import Crypto
import Foundation

/// Keystream expansion of a seed.
public enum MaskStream {
    /// `count` elements of Z_{2^bits} from `seed` (32 bytes) under `nonce` (which separates the
    /// uses of one seed, e.g. the round).
    public static func ring(seed: [UInt8], nonce: UInt64, count: Int, bits: Int) -> [UInt32] {
        precondition((1...32).contains(bits), "MaskStream: ring width \(bits) must be 1...32 bits")
        let bytes = keystream(seed: seed, nonce: nonce, byteCount: 4 * count)
        let mask: UInt32 = bits == 32 ? .max : (1 << UInt32(bits)) - 1
        return bytes.withUnsafeBytes { raw in
            (0..<count).map { UInt32(littleEndian: raw.loadUnaligned(fromByteOffset: 4 * $0, as: UInt32.self)) & mask }
        }
    }

    /// `byteCount` bytes of the ChaCha20 keystream of `seed` under the 96-bit nonce (0, nonce).
    public static func keystream(seed: [UInt8], nonce: UInt64, byteCount: Int) -> [UInt8] {
        precondition(seed.count == 32, "MaskStream: a seed is 32 bytes (got \(seed.count))")
        guard byteCount > 0 else { return [] }
        let n = [0, 0, 0, 0] + LittleEndian.bytes(nonce)
        // Sealing cannot fail with a 32-byte key and a 12-byte nonce.
        let box = try! ChaChaPoly.seal([UInt8](repeating: 0, count: byteCount), using: SymmetricKey(data: seed), nonce: try! ChaChaPoly.Nonce(data: n))
        return [UInt8](box.ciphertext)
    }
}

/// A seeded cryptographic generator: the ChaCha20 keystream of a seed, 4 KB at a time.
public struct ChaChaGenerator: RandomNumberGenerator {
    private let seed: [UInt8]
    private var block: UInt64 = 0
    private var buffer: [UInt8] = []
    private var offset = 0

    /// The stream of `seed` (32 bytes).
    public init(seed: [UInt8]) {
        precondition(seed.count == 32, "ChaChaGenerator: a seed is 32 bytes (got \(seed.count))")
        self.seed = seed
    }

    /// The next 64 bits.
    public mutating func next() -> UInt64 {
        if offset + 8 > buffer.count {
            buffer = MaskStream.keystream(seed: seed, nonce: 0x8000_0000_0000_0000 | block, byteCount: 4096)
            block += 1
            offset = 0
        }
        let v = LittleEndian.word(buffer, at: offset)!
        offset += 8
        return v
    }

    /// `count` random bytes.
    public mutating func bytes(_ count: Int) -> [UInt8] {
        var out: [UInt8] = []
        while out.count < count { out += LittleEndian.bytes(next()) }
        return Array(out.prefix(count))
    }
}
