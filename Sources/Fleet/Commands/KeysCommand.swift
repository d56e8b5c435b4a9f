// `fleet keys`: generates a CURVE key pair for a coordinator or a node.
import ArgumentParser
import FleetKit
import Transport

struct KeysCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "keys",
        abstract: "Generate a CURVE key pair (Z85) for a coordinator or a device.",
        discussion: "Give the coordinator's public key to every node, and each node's public key to the coordinator's allow list. Keep secret keys private.")

    @Option(help: "Write the pair to this file (mode 0600) instead of standard output.")
    var out: String?

    func run() throws {
        guard let out else {
            print(KeyPairFile.text(try Curve.keypair()), terminator: "")
            return
        }
        let pair: CurveKeyPair
        do { pair = try KeyPairFile.generate(at: out) } catch let e as RunFolderError { throw failure(e) }
        print("wrote key pair to \(out) (public \(pair.publicKey))")
    }
}
