// One device's side of a secure round (PROTOCOL.md §4.9): after training, its update becomes the
// vector its TASK's setup describes (MaskedUpdateEncoding: clipped, weighted or noised, quantised
// into the ring), and a SecAggClient answers the coordinator's phases: ADVERTISE, then DEAL on
// KEYS, MASKED on SHARES, UNMASK on the survivors. Its secrets come from the run's seed
// (reproducible) or from the system's generator (`secureAggregation.randomness`).
import Foundation
import Privacy
import SecureAggregation
import Wire

/// A device's secure round in progress.
final class DeviceSecureRound {
    /// The device and its round.
    let device: String, round: UInt64
    /// Its participant index.
    let index: Int
    private let client: SecAggClient
    private let input: [UInt32]
    /// Value coordinates the clip cut (logged on the device, never sent).
    let clippedCoordinates: Int
    /// Elements of its masked vector.
    var length: Int { input.count }

    /// The round of `delta` (weight `weight`) under `setup`. `secretSeed` (32 bytes) seeds the
    /// protocol's keys; `valueSeed` the stochastic rounding and the distributed-noise share.
    init(device: String, round: UInt64, delta: SparseDelta, weight: UInt64, setup: PBSecAggSetup, schema: ModelSchema,
         secretSeed: [UInt8], valueSeed: UInt64) throws {
        self.device = device; self.round = round; index = Int(setup.participant)
        let encoding = try SecureRoundPlan.encoding(setup, schema: schema)
        guard encoding.quantiser.ringBits == Int(setup.ringBits) else {
            throw SecAggError.parameters("the setup's ring of \(setup.ringBits) bits does not fit \(setup.participants) devices at \(setup.valueBits) value bits")
        }
        var rng = ChaChaGenerator(seed: LittleEndian.bytes(valueSeed, round, 0x0051_7A1E, 0x0051_7A1E))
        let noise = setup.noiseStddev > 0 ? GaussianNoise(sigma: setup.noiseStddev, seed: valueSeed ^ (round &* 0xA24B_AED4_963E_E407)) : nil
        (input, clippedCoordinates) = try encoding.encode(delta, weight: weight, noise: noise, using: &rng)
        let p = try SecAggParameters(round: round, participants: Int(setup.participants), degree: setup.neighbours.count, threshold: Int(setup.threshold),
                                     length: input.count, ringBits: Int(setup.ringBits), harary: false)
        client = SecAggClient(index: index, parameters: p, neighbours: setup.neighbours.map(Int.init), seed: secretSeed)
    }

    /// The 32-byte secret seed of `device` in `round`: from the run's seed, or the system's generator.
    static func secretSeed(deviceSeed: UInt64, round: UInt64, system: Bool) -> [UInt8] {
        if system {
            var g = SystemRandomNumberGenerator()
            return (0..<4).flatMap { _ in LittleEndian.bytes(g.next()) }
        }
        var g = ChaChaGenerator(seed: LittleEndian.bytes(deviceSeed, round, 0x5EC_A66_5EC2E7, 0x5EC_A66_5EC2E7))
        return g.bytes(32)
    }

    /// Phase 0.
    func advertise() -> SecAggMessage { SecAggWire.advertise(client.advertise(), device: device, round: round) }

    /// Phase 1, on KEYS.
    func deal(_ keys: SecAggMessage) throws -> SecAggMessage {
        SecAggWire.deal(try client.deal(neighbours: try SecAggWire.neighbourKeys(keys)), device: device, round: round)
    }

    /// Phase 2, on SHARES (the costly one: the masks' keystreams).
    func masked(_ shares: SecAggMessage) throws -> SecAggMessage {
        SecAggWire.masked(try client.maskedInput(received: try SecAggWire.sealed(shares), input: input), device: device, round: round)
    }

    /// Phase 3, on UNMASK_REQUEST.
    func unmask(_ request: SecAggMessage) throws -> SecAggMessage {
        SecAggWire.unmask(try client.unmask(survivors: try SecAggWire.survivors(request)), device: device, round: round)
    }
}
