// Typed refusals of the secure-aggregation protocol: a message that breaks the rules is refused
// with one of these before it changes any state; a round that cannot finish says why.

/// What went wrong in a secure-aggregation round.
public enum SecAggError: Error, Equatable, Sendable, CustomStringConvertible {
    /// The round's parameters are impossible.
    case parameters(String)
    /// A message names a participant outside the round.
    case unknownParticipant(Int)
    /// A message arrived in the wrong phase (phase expected).
    case wrongPhase(String)
    /// A participant sent the same message twice.
    case duplicate(Int)
    /// A message is malformed (who, what).
    case malformed(Int, String)
    /// A masked vector has the wrong length.
    case wrongLength(participant: Int, expected: Int, got: Int)
    /// Too few participants are left to go on (have, need).
    case tooFewSurvivors(have: Int, need: Int)
    /// A participant's secret cannot be rebuilt: too few valid shares (have, need).
    case tooFewShares(participant: Int, have: Int, need: Int)
    /// A participant dealt shares that do not rebuild the secret it committed to.
    case inconsistentDealer(Int)
    /// A participant has fewer live neighbours than the threshold.
    case tooFewNeighbours(participant: Int, have: Int, need: Int)

    /// What happened, and what it means.
    public var description: String {
        switch self {
        case let .parameters(why): return "secure aggregation parameters refused: \(why)"
        case let .unknownParticipant(i): return "participant \(i) is not in this round"
        case let .wrongPhase(p): return "message out of phase: the round is in \(p)"
        case let .duplicate(i): return "participant \(i) sent this message twice"
        case let .malformed(i, why): return "malformed message from participant \(i): \(why)"
        case let .wrongLength(i, e, g): return "participant \(i) sent a masked vector of \(g) elements; the round's vectors have \(e)"
        case let .tooFewSurvivors(h, n): return "only \(h) participants are left; the threshold needs \(n): the round is refused and the previous model kept"
        case let .tooFewShares(i, h, n): return "participant \(i)'s secret has \(h) valid shares; \(n) are needed: the round is refused and the previous model kept"
        case let .inconsistentDealer(i): return "participant \(i) dealt shares inconsistent with its commitments"
        case let .tooFewNeighbours(i, h, n): return "participant \(i) has \(h) live neighbours; the threshold needs \(n)"
        }
    }
}
