// Errors a user can cause at run time (a bad topology, a failed process, a missing file) are
// printed as one clear message without the usage text, and the command exits with status 1.
import ArgumentParser
import Foundation

/// Prints `message` to standard error as `Error: …` and returns the exit code to throw.
func failure(_ message: CustomStringConvertible) -> ExitCode {
    FileHandle.standardError.write(Data("Error: \(message)\n".utf8))
    return ExitCode.failure
}
