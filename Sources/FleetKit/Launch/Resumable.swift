// Whether a stopped run can be continued (`fleet resume`, issue 7): the coordinator must offer
// --resume and the run folder must hold its checkpoint. Refusals say what the folder keeps.
import Foundation

extension Launcher {
    /// Whether the `coordinator` executable at `path` offers --resume (its help mentions it).
    public static func supportsResume(coordinator path: String) -> Bool {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: path)
        p.arguments = ["--help"]
        let out = Pipe()
        p.standardOutput = out
        p.standardError = FileHandle.nullDevice
        guard (try? p.run()) != nil else { return false }
        let text = String(decoding: out.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        p.waitUntilExit()
        return text.contains("--resume")
    }

    /// Throws a `RunFolderError` saying why `folder` cannot be resumed with the coordinator in `binDir`.
    public static func checkResumable(_ folder: RunFolder, binDir: String) throws {
        let fm = FileManager.default
        guard fm.fileExists(atPath: folder.config), fm.fileExists(atPath: folder.topology) else {
            throw RunFolderError("\(folder.path) is not a run folder (no config.json and topology.yaml); give a folder under runs/ written by `fleet run`")
        }
        let rounds = SummaryBuilder.readMetrics(path: folder.metrics).count
        guard supportsResume(coordinator: binDir + "/coordinator") else {
            throw RunFolderError("""
                cannot resume \(folder.path): \(binDir)/coordinator has no --resume (issue 7), so a restarted run would begin again \
                at round 1 instead of continuing. The folder keeps \(rounds) finished round(s) in coordinator/metrics.jsonl; \
                `fleet report \(folder.path)` charts them. Start afresh with `fleet run \(folder.topology)`.
                """)
        }
        guard fm.fileExists(atPath: folder.checkpoint) else {
            throw RunFolderError("""
                cannot resume \(folder.path): there is no coordinator/checkpoint.safetensors (the coordinator writes one after \
                every round; this run stopped before its first, or was made by a coordinator without checkpoints). \
                Start afresh with `fleet run \(folder.topology)`.
                """)
        }
    }
}
