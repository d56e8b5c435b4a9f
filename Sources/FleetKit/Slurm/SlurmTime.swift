// Slurm's time-limit syntax (sbatch --time): "MM", "MM:SS", "HH:MM:SS", "D-HH", "D-HH:MM",
// "D-HH:MM:SS", parsed to seconds and written back.
import Foundation

public enum SlurmTime {
    /// Seconds of a Slurm time limit, or nil when `text` is not one.
    public static func seconds(_ text: String) -> Int? {
        let t = text.trimmingCharacters(in: .whitespaces)
        guard !t.isEmpty else { return nil }
        var days = 0
        var rest = Substring(t)
        if let dash = t.firstIndex(of: "-") {
            guard let d = Int(t[..<dash]), d >= 0 else { return nil }
            days = d
            rest = t[t.index(after: dash)...]
        }
        let parts = rest.split(separator: ":", omittingEmptySubsequences: false).map { Int($0) }
        guard !parts.isEmpty, parts.count <= 3, parts.allSatisfy({ $0 != nil && $0! >= 0 }) else { return nil }
        let p = parts.map { $0! }
        let hms: Int
        if t.contains("-") {  // D-HH, D-HH:MM, D-HH:MM:SS
            hms = p[0] * 3600 + (p.count > 1 ? p[1] * 60 : 0) + (p.count > 2 ? p[2] : 0)
        } else {  // MM, MM:SS, HH:MM:SS
            switch p.count {
            case 1: hms = p[0] * 60
            case 2: hms = p[0] * 60 + p[1]
            default: hms = p[0] * 3600 + p[1] * 60 + p[2]
            }
        }
        let total = days * 86_400 + hms
        return total > 0 ? total : nil
    }

    /// `seconds` as HH:MM:SS (D-HH:MM:SS past a day), rounded up to a whole minute.
    public static func format(_ seconds: Int) -> String {
        let s = (seconds + 59) / 60 * 60
        let d = s / 86_400, h = s % 86_400 / 3600, m = s % 3600 / 60
        return d > 0 ? String(format: "%d-%02d:%02d:00", d, h, m) : String(format: "%02d:%02d:00", h, m)
    }
}
