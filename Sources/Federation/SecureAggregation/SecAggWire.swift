// SecAgg+ phase values (Sources/SecureAggregation) as SECAGG messages (PROTOCOL.md §4.9) and
// back. The codec checks the field rules; these conversions check what only the round knows
// (the phase asked for, the participant, shares that decode to field elements).
import Foundation
import SecureAggregation
import Wire

/// Conversions between the protocol's values and SECAGG headers.
public enum SecAggWire {
    /// A header of `phase` for `device` in `round`, participant `index`.
    static func header(_ phase: PBSecAggPhase, device: String, round: UInt64, index: Int) -> PBSecAgg {
        var h = PBSecAgg()
        h.phase = phase; h.deviceID = device; h.round = round; h.participant = UInt32(index)
        return h
    }

    static func pb(_ k: AdvertiseKeys) -> PBSecAggKeys {
        var p = PBSecAggKeys()
        p.participant = UInt32(k.participant)
        p.maskPublicKey = Data(k.maskPublicKey); p.sharePublicKey = Data(k.sharePublicKey); p.selfMaskCommitment = Data(k.selfMaskCommitment)
        return p
    }

    static func keys(_ p: PBSecAggKeys) -> AdvertiseKeys {
        AdvertiseKeys(participant: Int(p.participant), maskPublicKey: [UInt8](p.maskPublicKey), sharePublicKey: [UInt8](p.sharePublicKey),
                      selfMaskCommitment: [UInt8](p.selfMaskCommitment))
    }

    static func pb(_ s: Share, owner: Int) -> PBSecAggShare {
        var p = PBSecAggShare()
        p.owner = UInt32(owner); p.x = s.x; p.values = s.values.map(\.value)
        return p
    }

    /// ADVERTISE.
    public static func advertise(_ k: AdvertiseKeys, device: String, round: UInt64) -> SecAggMessage {
        var h = header(.advertise, device: device, round: round, index: k.participant)
        h.keys = pb(k)
        return SecAggMessage(header: h)
    }

    /// KEYS: the neighbours' keys for `device`.
    public static func keys(_ list: [AdvertiseKeys], device: String, round: UInt64, index: Int) -> SecAggMessage {
        var h = header(.keys, device: device, round: round, index: index)
        h.neighbourKeys = list.map(pb)
        return SecAggMessage(header: h)
    }

    /// DEAL.
    public static func deal(_ d: DealtShares, device: String, round: UInt64) -> SecAggMessage {
        var h = header(.deal, device: device, round: round, index: d.participant)
        h.shares = d.shares.map { s in
            var p = PBSecAggSealedShare()
            p.from = UInt32(s.from); p.to = UInt32(s.to); p.sealed = Data(s.sealed)
            p.selfMaskCommitment = Data(d.selfMaskShareCommitments[s.to] ?? [])
            p.maskKeyCommitment = Data(d.maskKeyShareCommitments[s.to] ?? [])
            return p
        }
        return SecAggMessage(header: h)
    }

    /// SHARES: the sealed shares dealt to `device`.
    public static func shares(_ list: [SealedShares], device: String, round: UInt64, index: Int) -> SecAggMessage {
        var h = header(.shares, device: device, round: round, index: index)
        h.shares = list.map { s in
            var p = PBSecAggSealedShare()
            p.from = UInt32(s.from); p.to = UInt32(s.to); p.sealed = Data(s.sealed)
            return p
        }
        return SecAggMessage(header: h)
    }

    /// MASKED.
    public static func masked(_ m: MaskedInput, device: String, round: UInt64) -> SecAggMessage {
        var h = header(.masked, device: device, round: round, index: m.participant)
        h.maskedLength = UInt32(m.values.count)
        return SecAggMessage(header: h, masked: m.values)
    }

    /// UNMASK_REQUEST.
    public static func unmaskRequest(_ survivors: Set<Int>, device: String, round: UInt64, index: Int) -> SecAggMessage {
        var h = header(.unmaskRequest, device: device, round: round, index: index)
        h.survivors = survivors.sorted().map(UInt32.init)
        return SecAggMessage(header: h)
    }

    /// UNMASK.
    public static func unmask(_ u: UnmaskShares, device: String, round: UInt64) -> SecAggMessage {
        var h = header(.unmask, device: device, round: round, index: u.participant)
        h.selfMaskShares = u.selfMaskShares.sorted { $0.key < $1.key }.map { pb($0.value, owner: $0.key) }
        h.maskKeyShares = u.maskKeyShares.sorted { $0.key < $1.key }.map { pb($0.value, owner: $0.key) }
        return SecAggMessage(header: h)
    }

    /// The phase value `m` carries, refused when it is not `phase`.
    public static func expect(_ m: SecAggMessage, _ phase: PBSecAggPhase) throws {
        guard m.header.phase == phase else {
            throw SecAggError.wrongPhase("\(phase) expected, \(m.header.phase) received")
        }
    }

    /// The ADVERTISE of `m`.
    public static func advertised(_ m: SecAggMessage) throws -> AdvertiseKeys { try expect(m, .advertise); return keys(m.header.keys) }
    /// The neighbours' keys of a KEYS message.
    public static func neighbourKeys(_ m: SecAggMessage) throws -> [AdvertiseKeys] { try expect(m, .keys); return m.header.neighbourKeys.map(keys) }

    /// The DealtShares of a DEAL message.
    public static func dealt(_ m: SecAggMessage) throws -> DealtShares {
        try expect(m, .deal)
        let i = Int(m.header.participant)
        var selfC: [Int: [UInt8]] = [:], keyC: [Int: [UInt8]] = [:]
        for s in m.header.shares { selfC[Int(s.to)] = [UInt8](s.selfMaskCommitment); keyC[Int(s.to)] = [UInt8](s.maskKeyCommitment) }
        return DealtShares(participant: i, shares: m.header.shares.map { SealedShares(from: Int($0.from), to: Int($0.to), sealed: [UInt8]($0.sealed)) },
                           selfMaskShareCommitments: selfC, maskKeyShareCommitments: keyC)
    }

    /// The sealed shares of a SHARES message.
    public static func sealed(_ m: SecAggMessage) throws -> [SealedShares] {
        try expect(m, .shares)
        return m.header.shares.map { SealedShares(from: Int($0.from), to: Int($0.to), sealed: [UInt8]($0.sealed)) }
    }

    /// The MaskedInput of a MASKED message.
    public static func maskedInput(_ m: SecAggMessage) throws -> MaskedInput {
        try expect(m, .masked)
        return MaskedInput(participant: Int(m.header.participant), values: m.masked)
    }

    /// The survivors of an UNMASK_REQUEST.
    public static func survivors(_ m: SecAggMessage) throws -> Set<Int> { try expect(m, .unmaskRequest); return Set(m.header.survivors.map(Int.init)) }

    /// The UnmaskShares of an UNMASK message.
    public static func unmaskShares(_ m: SecAggMessage) throws -> UnmaskShares {
        try expect(m, .unmask)
        func map(_ list: [PBSecAggShare]) -> [Int: Share] {
            Dictionary(list.map { (Int($0.owner), Share(x: $0.x, values: $0.values.map { FieldElement($0) })) }, uniquingKeysWith: { a, _ in a })
        }
        return UnmaskShares(participant: Int(m.header.participant), selfMaskShares: map(m.header.selfMaskShares), maskKeyShares: map(m.header.maskKeyShares))
    }
}
