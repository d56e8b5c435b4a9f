// The node's state folder (`node run --state-dir`): one JSON file per device, each written
// atomically (`<file>.tmp`, fsync, rename), so a node killed at any moment finds either the old
// or the new state of every device, never half of one.
import Foundation

/// Reads and writes the per-device state files of one node.
struct DeviceStateStore {
    /// The state folder.
    let folder: String

    /// Opens `folder`, creating it when missing.
    init(folder: String) throws {
        self.folder = folder
        do {
            try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        } catch {
            throw ConfigError.invalid(path: folder, reason: "cannot create the node state folder (\(error.localizedDescription)); give --state-dir a writable folder")
        }
    }

    /// The file of device `id` (characters outside [A-Za-z0-9._-] are escaped).
    func path(of id: String) -> String {
        let safe = id.unicodeScalars.map { s -> String in
            CharacterSet.alphanumerics.contains(s) || s == "." || s == "_" || s == "-" ? String(s) : String(format: "%%%02X", s.value)
        }.joined()
        return folder + "/device-" + safe + ".json"
    }

    /// The saved state of device `id`, nil when it has none. Throws when the file is unreadable.
    func load(_ id: String) throws -> DeviceState? {
        let path = path(of: id)
        guard FileManager.default.fileExists(atPath: path) else { return nil }
        let state: DeviceState
        do {
            let d = JSONDecoder()
            d.nonConformingFloatDecodingStrategy = .convertFromString(positiveInfinity: "inf", negativeInfinity: "-inf", nan: "nan")
            state = try d.decode(DeviceState.self, from: Data(contentsOf: URL(fileURLWithPath: path)))
        } catch {
            throw ConfigError.invalid(path: path, reason: "unreadable device state (\(error)); delete the file to start the device afresh")
        }
        guard state.format == DeviceState.currentFormat, state.deviceID == id else {
            throw ConfigError.invalid(path: path, reason: "device state of format \(state.format) for '\(state.deviceID)', expected format \(DeviceState.currentFormat) for '\(id)'; delete the file or use another --state-dir")
        }
        return state
    }

    /// Writes `state` atomically.
    func save(_ state: DeviceState) throws {
        let e = JSONEncoder()
        e.outputFormatting = [.sortedKeys]
        e.nonConformingFloatEncodingStrategy = .convertToString(positiveInfinity: "inf", negativeInfinity: "-inf", nan: "nan")
        let data = try e.encode(state)
        let path = path(of: state.deviceID), tmp = path + ".tmp"
        guard FileManager.default.createFile(atPath: tmp, contents: data), let h = FileHandle(forWritingAtPath: tmp) else {
            throw ConfigError.invalid(path: tmp, reason: "cannot write the device state; check that --state-dir is writable and not full")
        }
        try h.synchronize()
        try h.close()
        guard rename(tmp, path) == 0 else {
            throw ConfigError.invalid(path: path, reason: "cannot rename the device state into place (errno \(errno)); check --state-dir")
        }
    }
}
