// The field rules of a SECAGG message (PROTOCOL.md §4.9, draft), checked after parsing and before
// sending, and the little-endian u32 frame of a masked vector.
import Foundation

extension HeaderRules {
    /// SECAGG: a round, a device, a known phase, and only the phase's own fields, each bounded.
    static func secAgg(_ h: PBSecAgg, limits: WireLimits) throws {
        try Validate.positive(h.round, field: "SecAgg.round")
        try Validate.identifier(h.deviceID, field: "SecAgg.device_id", limits: limits)
        func key(_ bytes: Data, _ field: String) throws {
            guard bytes.count == 32 else { throw WireError.invalid(field: field, reason: "must be 32 bytes, got \(bytes.count)") }
        }
        func keys(_ k: PBSecAggKeys, _ field: String) throws {
            try key(k.maskPublicKey, "\(field).mask_public_key")
            try key(k.sharePublicKey, "\(field).share_public_key")
            try key(k.selfMaskCommitment, "\(field).self_mask_commitment")
            guard k.maskPublicKey != k.sharePublicKey else {
                throw WireError.invalid(field: "\(field)", reason: "the mask and share public keys must differ")
            }
        }
        func shares(_ list: [PBSecAggShare], _ field: String) throws {
            try Validate.count(list.count, field: "\(field) count", limit: limits.maxDevices)
            var owners = Set<UInt32>()
            for s in list {
                guard owners.insert(s.owner).inserted else { throw WireError.invalid(field: field, reason: "participant \(s.owner)'s share is given twice") }
                try Validate.positive(s.x, field: "\(field).x")
                try Validate.count(s.values.count, field: "\(field).values count", limit: 64)
                guard s.values.allSatisfy({ $0 < (1 << 61) - 1 }) else { throw WireError.invalid(field: "\(field).values", reason: "a value is not below 2^61 − 1") }
            }
        }
        let others: [(Bool, String)]
        switch h.phase {
        case .advertise:
            guard h.hasKeys else { throw WireError.invalid(field: "SecAgg.keys", reason: "ADVERTISE carries the device's keys") }
            try keys(h.keys, "SecAgg.keys")
            others = [(!h.neighbourKeys.isEmpty, "neighbour_keys"), (!h.shares.isEmpty, "shares")]
        case .keys:
            try Validate.count(h.neighbourKeys.count, field: "SecAgg.neighbour_keys count", limit: limits.maxDevices)
            for k in h.neighbourKeys { try keys(k, "SecAgg.neighbour_keys") }
            others = [(h.hasKeys, "keys"), (!h.shares.isEmpty, "shares")]
        case .deal, .shares:
            try Validate.count(h.shares.count, field: "SecAgg.shares count", limit: limits.maxDevices)
            for s in h.shares {
                try Validate.count(s.sealed.count, field: "SecAgg.shares.sealed bytes", limit: 4096)
                if h.phase == .deal {
                    try key(s.selfMaskCommitment, "SecAgg.shares.self_mask_commitment")
                    try key(s.maskKeyCommitment, "SecAgg.shares.mask_key_commitment")
                }
            }
            others = [(h.hasKeys, "keys"), (!h.neighbourKeys.isEmpty, "neighbour_keys")]
        case .masked:
            try Validate.positive(h.maskedLength, field: "SecAgg.masked_length")
            try Validate.count(4 * Int(h.maskedLength), field: "SecAgg masked bytes", limit: limits.maxMessageBytes)
            others = [(h.hasKeys, "keys"), (!h.shares.isEmpty, "shares")]
        case .unmaskRequest:
            try Validate.count(h.survivors.count, field: "SecAgg.survivors count", limit: limits.maxDevices)
            guard Set(h.survivors).count == h.survivors.count else { throw WireError.invalid(field: "SecAgg.survivors", reason: "a participant is listed twice") }
            others = [(h.hasKeys, "keys"), (!h.shares.isEmpty, "shares")]
        case .unmask:
            try shares(h.selfMaskShares, "SecAgg.self_mask_shares")
            try shares(h.maskKeyShares, "SecAgg.mask_key_shares")
            guard Set(h.selfMaskShares.map(\.owner)).isDisjoint(with: h.maskKeyShares.map(\.owner)) else {
                throw WireError.invalid(field: "SecAgg.mask_key_shares", reason: "a participant's self-mask seed and mask key are never both revealed")
            }
            others = [(h.hasKeys, "keys"), (!h.shares.isEmpty, "shares")]
        case .unspecified, .UNRECOGNIZED:
            throw WireError.invalid(field: "SecAgg.phase", reason: "value \(h.phase.rawValue) is not a known phase")
        }
        if let extra = others.first(where: \.0) {
            throw WireError.invalid(field: "SecAgg.\(extra.1)", reason: "does not belong to the \(h.phase) phase")
        }
    }
}

/// The masked vector's frame: ring elements as little-endian u32.
enum RingWords {
    /// `words` as little-endian u32 bytes.
    static func encode(_ words: [UInt32]) -> [UInt8] {
        var w = ByteWriter()
        for v in words { w.write(v) }
        return w.bytes
    }

    /// Little-endian u32 words of `bytes` (its length a multiple of 4).
    static func decode(_ bytes: [UInt8]) -> [UInt32] {
        stride(from: 0, to: bytes.count - 3, by: 4).map { i in
            UInt32(bytes[i]) | UInt32(bytes[i + 1]) << 8 | UInt32(bytes[i + 2]) << 16 | UInt32(bytes[i + 3]) << 24
        }
    }
}
