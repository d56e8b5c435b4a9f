import Foundation
import SwiftProtobuf
import XCTest
@testable import Wire

/// Seeded random-mutation fuzzing: at least 100k mutated messages thrown at the decoder. Every
/// outcome must be a decoded message or a `WireError`; nothing may crash, hang or throw another
/// error type, and whatever the decoder accepts the encoder must accept too.
final class FuzzTests: XCTestCase {
    /// xorshift64*: small, fast and reproducible from its seed.
    struct Rng {
        var state: UInt64
        mutating func next() -> UInt64 {
            state ^= state >> 12; state ^= state << 25; state ^= state >> 27
            return state &* 0x2545_F491_4F6C_DD1D
        }
        mutating func below(_ n: Int) -> Int { Int(next() % UInt64(max(n, 1))) }
        mutating func byte() -> UInt8 { UInt8(truncatingIfNeeded: next()) }
    }

    /// Default limits except an 8 KiB message cap, so that growing mutations also reach TOO_LARGE.
    let codec: WireCodec = {
        var limits = WireLimits.default
        limits.maxMessageBytes = 8 << 10
        return WireCodec(limits: limits)
    }()
    let iterations = Int(ProcessInfo.processInfo.environment["SPARSEFLEET_FUZZ_ITERATIONS"] ?? "") ?? 100_000
    let interesting: [UInt8] = [0, 1, 0x7F, 0x80, 0xFF, 0x7C, 0xC0, 0x08, 0x10]

    func testHundredThousandMutatedMessages() throws {
        let seed = UInt64(ProcessInfo.processInfo.environment["SPARSEFLEET_FUZZ_SEED"] ?? "") ?? 0x5EED_F1EE7
        var rng = Rng(state: seed)
        let corpus = try Fixtures.allMessages().map { try codec.encode($0, schema: Fixtures.schema) }
        var outcomes: [String: Int] = [:]
        let start = Date()
        for i in 0..<iterations {
            var frames = corpus[rng.below(corpus.count)]
            for _ in 0...rng.below(3) { mutate(&frames, &rng, corpus: corpus) }
            let schema: ModelSchema? = rng.below(8) == 0 ? nil : Fixtures.schema
            do {
                let message = try codec.decode(frames, schema: schema)
                outcomes["accepted", default: 0] += 1
                XCTAssertNoThrow(try codec.encode(message, schema: schema ?? Fixtures.schema), "iteration \(i): accepted but not re-encodable")
            } catch let e as WireError {
                outcomes["\(e.code)", default: 0] += 1
                if case .refused(_, let reply?) = codec.inbound(frames, schema: schema) {
                    XCTAssertNoThrow(try codec.decode(reply), "iteration \(i): the ERROR reply must itself be valid")
                }
            } catch {
                XCTFail("iteration \(i) (seed \(seed)): non-WireError \(error)")
            }
        }
        let seconds = Date().timeIntervalSince(start)
        let summary = outcomes.sorted { $0.key < $1.key }.map { "\($0.key) \($0.value)" }.joined(separator: ", ")
        print("fuzz: \(iterations) mutated messages in \(String(format: "%.2f", seconds)) s (seed \(seed)): \(summary)")
        XCTAssertGreaterThanOrEqual(iterations, 100_000)
        XCTAssertGreaterThan(outcomes["accepted", default: 0], 0, "some mutations must stay valid (e.g. flipped value bits)")
        XCTAssertGreaterThanOrEqual(outcomes.count, 8, "the mutations must reach many different checks")
    }

    /// One random mutation of a multipart message.
    func mutate(_ frames: inout [[UInt8]], _ rng: inout Rng, corpus: [[[UInt8]]]) {
        let f = rng.below(frames.count)
        switch rng.below(11) {
        case 0:  // flip bits
            guard !frames[f].isEmpty else { return }
            for _ in 0...rng.below(4) { frames[f][rng.below(frames[f].count)] ^= 1 << UInt8(rng.below(8)) }
        case 1:  // interesting byte
            guard !frames[f].isEmpty else { return }
            frames[f][rng.below(frames[f].count)] = interesting[rng.below(interesting.count)]
        case 2:  // truncate
            frames[f].removeLast(rng.below(frames[f].count + 1))
        case 3:  // extend
            frames[f] += (0...rng.below(16)).map { _ in rng.byte() }
        case 4:  // drop a frame
            frames.remove(at: f)
            if frames.isEmpty { frames = [[]] }
        case 5:  // duplicate a frame
            frames.insert(frames[f], at: rng.below(frames.count + 1))
        case 6:  // swap two frames
            frames.swapAt(f, rng.below(frames.count))
        case 7:  // splice a frame from another message
            let other = corpus[rng.below(corpus.count)]
            frames[f] = other[rng.below(other.count)]
        case 8:  // a 32-bit value that may be a lying length
            guard frames[f].count >= 4 else { return }
            let at = rng.below(frames[f].count - 3)
            let v: UInt32 = [0, 1, 0xFFFF, 0x7FFF_FFFF, 0xFFFF_FFFF, UInt32(truncatingIfNeeded: rng.next())][rng.below(6)]
            withUnsafeBytes(of: v.littleEndian) { frames[f].replaceSubrange(at..<at + 4, with: $0) }
        default:  // mutate a tensor frame and repair the checksum, to reach the deeper checks
            mutatePayloadKeepingChecksum(&frames, &rng)
        }
    }

    /// Mutates a tensor frame of an UPDATE or MODEL and rewrites payload_crc32 to match.
    func mutatePayloadKeepingChecksum(_ frames: inout [[UInt8]], _ rng: inout Rng) {
        guard frames.count > 2, frames[0].count == 8 else { return }
        let t = 2 + rng.below(frames.count - 2)
        if frames[t].isEmpty || rng.below(4) == 0 {
            frames[t].removeLast(rng.below(min(frames[t].count, 8) + 1))
        } else {
            for _ in 0...rng.below(3) { frames[t][rng.below(frames[t].count)] = rng.byte() }
        }
        let crc = CRC32.checksum(frames: frames[2...])
        if frames[0][6] == MessageKind.update.rawValue, var h = try? PBUpdate(serializedBytes: frames[1]) {
            h.payloadCrc32 = crc
            if let b: [UInt8] = try? h.serializedBytes() { frames[1] = b }
        } else if frames[0][6] == MessageKind.model.rawValue, var h = try? PBModel(serializedBytes: frames[1]) {
            h.payloadCrc32 = crc
            if let b: [UInt8] = try? h.serializedBytes() { frames[1] = b }
        }
    }
}
