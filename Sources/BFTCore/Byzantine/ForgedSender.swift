/// Forges its sender: each message `resign` rewrites claims to come from the next replica (id + 1 mod n)
/// but is signed with this replica's own key. Receivers check the claimed signer's key and reject each
/// one as `forged-sender`. The protocol decides which messages to forge (`resign` returns nil for the rest).
public struct ForgedSender: Misbehaviour {
    let forger: ForgingSigner
    let resign: ([UInt8], MessageSigner) -> [UInt8]?

    /// `resign(bytes, forger)` re-signs one message with `forger`, or returns nil to send it unchanged.
    public init(context: ByzantineContext, signer: MessageSigner, resign: @escaping ([UInt8], MessageSigner) -> [UInt8]?) {
        forger = ForgingSigner(claiming: .replica((context.id + 1) % context.n), signingWith: signer)
        self.resign = resign
    }

    public mutating func rewrite(_ input: ReplicaInput, _ inner: [ReplicaAction], into actions: inout [ReplicaAction]) {
        rewriteSends(inner, into: &actions) { resign($0, forger) }
    }
}
