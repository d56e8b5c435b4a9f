// Local differential privacy on the device: after clipping, the device adds N(0, z²S²) to EVERY
// candidate coordinate of its layout (every coordinate of its shared trainable tensors), so its
// UPDATE becomes dense over the update layers — noising only the touched channels would reveal
// which were important for its data. That density is the byte cost users trade for not
// trusting the coordinator. The noise is seeded per device and round (bitwise reproducible).
import Engine
import Privacy
import Wire

/// The device side of local DP, and the bound the coordinator checks it against.
public enum LocalNoise {
    /// The dense, noised update of `delta` over `shared` tensors: every channel of every shared
    /// tensor, the device's (clipped) delta where it trained, plus N(0, (z·S)²) everywhere.
    public static func noised(_ delta: [TensorDelta], shared: [Int], schema: ModelSchema, encoding: ValueEncoding,
                              clip: Double, noiseMultiplier z: Double, seed: UInt64) -> [TensorDelta] {
        var noise = GaussianNoise(sigma: z * clip, seed: seed)
        return shared.sorted().map { i in
            let spec = schema.tensors[i]
            var dense = [Float](repeating: 0, count: spec.elementCount)
            if let t = delta.first(where: { $0.name == spec.name }) {
                TensorSlicing.scatter(t.values, into: &dense, spec: spec, channels: t.channels)
            }
            noise.add(to: &dense)
            return TensorDelta(name: spec.name, channels: .all, values: dense, encoding: encoding)
        }
    }

    /// The largest L2 norm the coordinator admits from a device with `coordinates` candidate
    /// coordinates: S in central mode; in local mode S plus the noise's norm, whose χ distribution
    /// (mean ≈ zS·√d, standard deviation ≈ zS/√2) stays under zS·(√d + 8) except with
    /// probability below 1e-14.
    public static func maxUpdateNorm(_ p: PrivacyConfig, noiseMultiplier z: Double, coordinates d: Int) -> Double {
        let clipped = p.clip * 1.01  // the value encoding may round a clipped update up a little
        guard p.mode == .local else { return clipped }
        return clipped + z * p.clip * (Double(d).squareRoot() + 8)
    }
}
