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

extension HeaderRules {
    /// Task.secure_aggregation: a participant inside the round, its neighbours, a threshold they
    /// can meet, a ring that holds the values, and masked tensors and blocks of the model.
    static func secAggSetup(_ s: PBSecAggSetup, schema: ModelSchema?, limits: WireLimits) throws {
        func bad(_ field: String, _ reason: String) -> WireError { .invalid(field: "Task.secure_aggregation.\(field)", reason: reason) }
        guard s.participants >= 3, s.participants <= UInt32(limits.maxDevices) else { throw bad("participants", "must be 3...\(limits.maxDevices), got \(s.participants)") }
        guard s.participant < s.participants else { throw bad("participant", "\(s.participant) is not below participants \(s.participants)") }
        try Validate.count(s.neighbours.count, field: "Task.secure_aggregation.neighbours count", limit: Int(s.participants) - 1)
        guard zip(s.neighbours, s.neighbours.dropFirst()).allSatisfy({ $0 < $1 }), s.neighbours.allSatisfy({ $0 < s.participants && $0 != s.participant }) else {
            throw bad("neighbours", "must ascend, each below participants and not the device itself")
        }
        guard s.threshold >= 2, s.threshold <= s.neighbours.count else { throw bad("threshold", "\(s.threshold) must be in 2...\(s.neighbours.count) (the neighbours)") }
        guard (2...30).contains(s.valueBits), s.ringBits > s.valueBits, s.ringBits <= 32 else {
            throw bad("ring_bits", "value bits \(s.valueBits) must be 2...30 and below ring bits \(s.ringBits) ≤ 32")
        }
        guard s.clip.isFinite, s.clip > 0 else { throw bad("clip", "must be finite and > 0, got \(s.clip)") }
        guard s.noiseStddev.isFinite, s.noiseStddev >= 0 else { throw bad("noise_stddev", "must be finite and ≥ 0, got \(s.noiseStddev)") }
        try Validate.positive(s.phaseDeadlineMs, field: "Task.secure_aggregation.phase_deadline_ms")
        guard ["candidates", "dealt", "dealt+dgsu"].contains(s.mode) else { throw bad("mode", "'\(s.mode.prefix(40))' is not candidates, dealt or dealt+dgsu") }
        guard !s.tensors.isEmpty else { throw bad("tensors", "lists no tensor to mask") }
        try Validate.count(s.tensors.count, field: "Task.secure_aggregation.tensors count", limit: limits.maxTensors)
        try Validate.count(s.block.count, field: "Task.secure_aggregation.block count", limit: limits.maxTensors)
        guard let schema else { throw WireError.schemaMismatch(tensor: s.tensors[0], reason: "no model schema is known yet; send a MODEL snapshot before a secure task") }
        var last = -1
        for name in s.tensors {
            guard let i = schema.position(of: name) else { throw WireError.schemaMismatch(tensor: name, reason: "the model has no such tensor") }
            guard i > last else { throw bad("tensors", "must follow the schema's order, once each") }
            last = i
        }
        var seen = Set<String>()
        for a in s.block {
            guard s.tensors.contains(a.tensor), seen.insert(a.tensor).inserted, let spec = schema[a.tensor] else {
                throw WireError.schemaMismatch(tensor: a.tensor, reason: "a block must restrict a masked tensor, once")
            }
            guard !a.channels.isEmpty else { throw bad("block", "'\(a.tensor)' has no channels") }
            try Validate.channels(a.channels.map(Int.init), tensor: a.tensor, channelCount: spec.channelCount)
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
