// Where pretrained weights live by default (tools/fetch-weights.sh puts them there).
import Foundation

/// Default locations of pretrained weights.
public enum PretrainedWeights {
    /// The weights folder: `$SPARSEFLEET_WEIGHTS_DIR`, else `$XDG_CACHE_HOME/sparsefleet`, else `~/.cache/sparsefleet`.
    public static var directory: String {
        let env = ProcessInfo.processInfo.environment
        if let d = env["SPARSEFLEET_WEIGHTS_DIR"], !d.isEmpty { return d }
        let cache = env["XDG_CACHE_HOME"].flatMap { $0.isEmpty ? nil : $0 } ?? (NSHomeDirectory() + "/.cache")
        return cache + "/sparsefleet"
    }

    /// ImageNet-pretrained EfficientNet-Lite0 as safetensors.
    public static var efficientNetLite0Path: String { directory + "/efficientnet-lite0.safetensors" }

    /// How to obtain the weights, for error messages.
    public static let hint = "Run `make weights` (tools/fetch-weights.sh) to fetch and convert them."
}
