import BFTCore

/// Forges its sender: every vote it sends claims to come from the next replica (id + 1 mod n) but is
/// signed with its own key. Receivers check the claimed voter's key and reject it as `forged-sender`.
public struct HotStuffForgedSender: Misbehaviour {
    let forger: ForgingSigner
    public init(context: ByzantineContext, signer: MessageSigner) {
        forger = ForgingSigner(claiming: .replica((context.id + 1) % context.n), signingWith: signer)
    }
    public mutating func rewrite(_ input: ReplicaInput, _ inner: [ReplicaAction], into actions: inout [ReplicaAction]) {
        rewriteSends(inner, into: &actions) { bytes in
            guard case .vote(let v)? = try? HotStuffMessage(decoding: bytes) else { return nil }
            return HotStuffMessage.vote(Vote(view: v.view, block: v.block, signer: forger)).bytes
        }
    }
}
