import BFTCore

/// A Byzantine behaviour as a wrapper around an honest replica (relab/hotstuff `rules/byzantine`):
/// whenever the wrapped replica broadcasts a proposal, the first half of the other replicas (by id)
/// receives it and the second half receives a different, validly signed block for the same view and
/// QC (the same batch minus its last request, or a one-request batch replaced by an empty one).
/// Otherwise it behaves honestly. With an empty batch there is nothing to vary and both halves get
/// the same block. Specs/HotStuff.md §11.
public struct EquivocatingLeader: ReplicaWrapper {
    public private(set) var inner: HotStuffReplica
    private let signer: MessageSigner
    /// Who gets which block; `colluders` (fellow Byzantine replicas) get both.
    private let split: EquivocationSplit

    public init(wrapping inner: HotStuffReplica, signer: MessageSigner, config: HotStuffConfig, colluders: [ReplicaID] = []) {
        split = EquivocationSplit(proposer: inner.principal, signer: signer, n: config.n, originalsRoundedUp: false, colluders: colluders)
        self.inner = inner
        self.signer = signer
    }

    public mutating func handle(_ input: ReplicaInput, into actions: inout [ReplicaAction]) {
        var honest: [ReplicaAction] = []
        inner.handle(input, into: &honest)
        for action in honest {
            guard case .broadcast(let bytes) = action,
                  case .proposal(let p)? = try? HotStuffMessage(decoding: bytes),
                  p.block.proposer == inner.id else {
                actions.append(action)
                continue
            }
            let twin = Proposal(block: Block(view: p.block.view, parentHeight: p.block.height - 1, proposer: p.block.proposer,
                                             justify: p.block.justify, requests: Array(p.block.requests.dropLast())),
                                timeoutCertificate: p.timeoutCertificate, signer: signer)
            split.send(p.bytes, twin.bytes, into: &actions)
        }
    }
}
