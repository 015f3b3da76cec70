import BFTCore

/// Forges its sender: every PREPARE and COMMIT it sends claims to come from the next replica (id + 1
/// mod n) but is signed with its own key. Receivers check the claimed signer's key and reject each
/// one as `forged-sender`.
public struct PBFTForgedSender: Misbehaviour {
    let forger: ForgingSigner
    public init(context: ByzantineContext, signer: MessageSigner) {
        forger = ForgingSigner(claiming: .replica((context.id + 1) % context.n), signingWith: signer)
    }
    public mutating func rewrite(_ input: ReplicaInput, _ inner: [ReplicaAction], into actions: inout [ReplicaAction]) {
        rewriteSends(inner, into: &actions) { bytes in
            switch bytes.first {
            case PBFTWireTag.prepare?:
                return (try? Prepare(decoding: bytes)).map { Prepare(view: $0.view, sequence: $0.sequence, digest: $0.digest, signer: forger).bytes }
            case PBFTWireTag.commit?:
                return (try? Commit(decoding: bytes)).map { Commit(view: $0.view, sequence: $0.sequence, digest: $0.digest, signer: forger).bytes }
            default:
                return nil
            }
        }
    }
}
