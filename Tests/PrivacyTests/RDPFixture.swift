// Loads Tests/PrivacyTests/Fixtures/rdp_grid.json, the dp-accounting reference grid written by
// tools/make_dp_fixture.py.

import Foundation

/// The dp-accounting reference grid: ε and the optimal order at each (q, z, T, δ), and a few calibrations.
struct RDPFixture: Decodable {
    /// One grid point and dp-accounting's answer.
    struct Point: Decodable {
        let q: Double, z: Double, steps: Int, delta: Double
        let epsilon: Double, order: Double
    }
    /// The one-step RDP curve at dp-accounting's default orders; nil where it is infinite.
    struct Vector: Decodable {
        let q: Double, z: Double
        let rdp: [Double?]
    }

    /// dp_accounting.calibrate_dp_mechanism's noise multiplier for a target ε.
    struct Calibration: Decodable {
        let targetEpsilon: Double, q: Double, steps: Int, delta: Double
        let noiseMultiplier: Double
    }

    let dpAccountingVersion: String
    let defaultOrders: [Double]
    let points: [Point]
    let rdpVectors: [Vector]
    let calibrations: [Calibration]

    /// The fixture file, found next to this source file.
    static let url = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .appendingPathComponent("Fixtures").appendingPathComponent("rdp_grid.json")

    /// Reads and decodes the fixture.
    static func load() throws -> RDPFixture {
        try JSONDecoder().decode(RDPFixture.self, from: Data(contentsOf: url))
    }
}
