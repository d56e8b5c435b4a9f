// Fault injection for the crash-safety tests: the coordinator SIGKILLs itself at a named point
// of a round, so a test can kill it exactly while sending, collecting, aggregating or
// checkpointing (an external `kill -9` cannot aim that well).
import Foundation

/// A point of a round at which the coordinator kills itself (tests only).
public struct CrashPoint: Equatable, Sendable, CustomStringConvertible {
    /// Where in the round.
    public enum Phase: String, CaseIterable, Sendable {
        /// After half of the round's TASKs have been sent.
        case sending
        /// After the round's first UPDATE has been accepted.
        case collecting
        /// After aggregating, before the checkpoint is written.
        case aggregating
        /// After the checkpoint's temporary file is written, before it is renamed into place.
        case checkpointing
    }

    /// The round (1-based).
    public var round: UInt64
    /// The phase.
    public var phase: Phase

    /// Parses `ROUND:PHASE`, e.g. `2:collecting`; nil when malformed.
    public init?(_ text: String) {
        let parts = text.split(separator: ":")
        guard parts.count == 2, let r = UInt64(parts[0]), r >= 1, let p = Phase(rawValue: String(parts[1])) else { return nil }
        round = r; phase = p
    }

    /// `ROUND:PHASE`.
    public var description: String { "\(round):\(phase.rawValue)" }

    /// Kills this process with SIGKILL when `(round, phase)` is this point.
    public func fire(round r: UInt64, phase p: Phase) {
        guard r == round, p == phase else { return }
        FileHandle.standardError.write(Data("fault injection: SIGKILL at \(self)\n".utf8))
        kill(getpid(), SIGKILL)
    }
}
