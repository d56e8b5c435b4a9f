// `fleet keys`: generates a CURVE key pair for a coordinator or a node.
import ArgumentParser
import FleetKit
import Transport

struct KeysCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "keys",
        abstract: "Generate a CURVE key pair (Z85) for a coordinator or a device.",
        discussion: """
        Give the coordinator's public key to every node, and each node's public key to the coordinator's allow list. \
        Keep secret keys private. The allow list binds each node key to one node name and its devices: with --node and \
        --devices, the entry for the configuration's curve.clients is printed too. (`fleet run` and `fleet plan` write \
        all keys and the allow list themselves.)
        """)

    @Option(help: "Write the pair to this file (mode 0600) instead of standard output.")
    var out: String?

    @Option(help: "The node name this key may join as (prints its curve.clients entry).")
    var node: String?

    @Option(help: "Comma-separated device ids this key may serve (with --node).")
    var devices: String?

    func validate() throws {
        if (node == nil) != (devices == nil) { throw ValidationError("--node and --devices go together: the allow-list entry needs both") }
        if let devices, devices.split(separator: ",").isEmpty { throw ValidationError("--devices needs at least one device id, e.g. dev-0,dev-1") }
    }

    func run() throws {
        let pair: CurveKeyPair
        if let out {
            do { pair = try KeyPairFile.generate(at: out) } catch let e as RunFolderError { throw failure(e) }
            print("wrote key pair to \(out) (public \(pair.publicKey))")
        } else {
            pair = try Curve.keypair()
            print(KeyPairFile.text(pair), terminator: "")
        }
        if let node, let devices {
            let ids = devices.split(separator: ",").map { "\"\($0)\"" }.joined(separator: ", ")
            print("allow-list entry (curve.clients): {\"publicKey\": \"\(pair.publicKey)\", \"node\": \"\(node)\", \"devices\": [\(ids)]}")
        }
    }
}
