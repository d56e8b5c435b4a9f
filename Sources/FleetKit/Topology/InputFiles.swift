// The files a run reads before any process starts: pretrained weights and the data set. Missing
// ones are refused up front with the command that fetches them, instead of a node failing later.
import Engine
import Foundation

/// Checks that a topology's weights and data set are on disk.
enum InputFiles {
    /// Throws a `TopologyError` naming the missing file and how to get it.
    static func check(_ t: Topology, file: String) throws {
        if t.model.pretrained, let weights = t.model.weights ?? ModelZoo.defaultWeights(t.model.name),
           !FileManager.default.fileExists(atPath: weights) {
            let fix = t.model.weights == nil ? "run `make weights` (downloads and converts them once)" : "check the path, or use `weights: pretrained`"
            throw TopologyError(file: file, line: nil, key: "model.weights", problem: "no weights file \(weights); \(fix)")
        }
        if let dir = t.dataset.directory ?? DatasetZoo.defaultDirectory(t.dataset.name) {
            var isDir: ObjCBool = false
            guard FileManager.default.fileExists(atPath: dir, isDirectory: &isDir), isDir.boolValue else {
                let fix = t.dataset.name == .fashionMNIST && t.dataset.directory == nil
                    ? "install it with `apt-get install dataset-fashion-mnist` (or `make deps`)" : "check `dataset.directory`"
                throw TopologyError(file: file, line: nil, key: "dataset", problem: "no data set folder \(dir); \(fix)")
            }
        }
    }
}
