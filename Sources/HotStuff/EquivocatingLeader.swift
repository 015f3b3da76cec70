import BFTCore

/// A Byzantine behaviour as a wrapper around an honest replica (relab/hotstuff `rules/byzantine`):
/// whenever the wrapped replica broadcasts a proposal, the first half of the other replicas (by id)
/// receives it and the second half receives a different, validly signed block for the same view and
/// QC (the same batch minus its last request, or a one-request batch replaced by an empty one).
/// Otherwise it behaves honestly. With an empty batch there is nothing to vary and both halves get
/// the same block. Specs/HotStuff.md §11.
public struct EquivocatingLeader: StateMachine {
    public private(set) var inner: HotStuffReplica
    private let signer: MessageSigner
    private let config: HotStuffConfig
    /// Fellow Byzantine replicas: they receive both blocks (so a double voter can vote for both).
    private let colluders: [ReplicaID]

    public init(wrapping inner: HotStuffReplica, signer: MessageSigner, config: HotStuffConfig, colluders: [ReplicaID] = []) {
        self.colluders = colluders
        precondition(signer.principal == inner.principal, "the wrapper signs as the wrapped replica")
        self.inner = inner
        self.signer = signer
        self.config = config
    }

    public var principal: Principal { inner.principal }

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
            let others = (0..<config.n).filter { $0 != inner.id }
            let twin = Proposal(block: Block(view: p.block.view, parentHeight: p.block.height - 1, proposer: p.block.proposer,
                                             justify: p.block.justify, requests: Array(p.block.requests.dropLast())),
                                timeoutCertificate: p.timeoutCertificate, signer: signer)
            let half = others.count / 2
            for (i, r) in others.enumerated() {
                actions.append(.send(i < half ? p.bytes : twin.bytes, to: .replica(r)))
                if colluders.contains(r) { actions.append(.send(i < half ? twin.bytes : p.bytes, to: .replica(r))) }
            }
        }
    }
}
