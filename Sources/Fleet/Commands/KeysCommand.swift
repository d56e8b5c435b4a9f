// `fleet keys`: generates a CURVE key pair for a coordinator or a node.
import ArgumentParser
import Foundation
import Transport

struct KeysCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "keys",
        abstract: "Generate a CURVE key pair (Z85) for a coordinator or a device.",
        discussion: "Give the coordinator's public key to every node, and each node's public key to the coordinator's allow list. Keep secret keys private.")

    @Option(help: "Write the pair to this file (mode 0600) instead of standard output.")
    var out: String?

    func run() throws {
        let pair = try Curve.keypair()
        let text = "public \(pair.publicKey)\nsecret \(pair.secretKey)\n"
        guard let out else {
            print(text, terminator: "")
            return
        }
        guard FileManager.default.createFile(atPath: out, contents: Data(text.utf8), attributes: [.posixPermissions: 0o600]) else {
            throw ValidationError("cannot write \(out); check the folder exists and is writable")
        }
        print("wrote key pair to \(out) (public \(pair.publicKey))")
    }
}
