import BFTCore

/// A Byzantine replica: an honest `PBFTReplica` that, whenever it is primary, equivocates.
///
/// Each PRE-PREPARE the honest core multicasts is replaced by two conflicting ones for the same view
/// and sequence, both validly signed with this replica's own key: the original batch goes to the
/// first half of the backups (in replica-id order), a different batch (reversed, or the null request
/// for a single-request batch) to the rest. As a backup it behaves honestly. Correct replicas never
/// commit both (rule N3: conflicting PRE-PREPAREs cannot both gather a prepare quorum); the
/// `commitWithoutDigestMatch` mutation does, which is how the agreement checker is tested.
public struct EquivocatingPrimary: StateMachine {
    public private(set) var inner: PBFTReplica
    let signer: MessageSigner
    let config: PBFTConfig
    /// Fellow Byzantine replicas: they receive both PRE-PREPAREs (so a double voter can vote for both).
    let colluders: [ReplicaID]
    private var scratch: [ReplicaAction] = []

    public init(wrapping inner: PBFTReplica, signer: MessageSigner, config: PBFTConfig, colluders: [ReplicaID] = []) {
        self.colluders = colluders
        precondition(signer.principal == inner.principal, "the wrapper signs as the replica it wraps")
        self.inner = inner
        self.signer = signer
        self.config = config
    }

    public var principal: Principal { inner.principal }

    public mutating func handle(_ input: ReplicaInput, into actions: inout [ReplicaAction]) {
        scratch.removeAll(keepingCapacity: true)
        inner.handle(input, into: &scratch)
        for action in scratch {
            guard case .broadcast(let bytes) = action,
                  bytes.first == PBFTWireTag.prePrepare,
                  let pp = try? PrePrepare(decoding: bytes),
                  pp.replica == inner.id
            else {
                actions.append(action)
                continue
            }
            equivocate(pp, &actions)
        }
    }

    /// Sends `pp` to the first half of the backups and a conflicting PRE-PREPARE to the others.
    private func equivocate(_ pp: PrePrepare, _ actions: inout [ReplicaAction]) {
        let conflicting = PrePrepare(view: pp.view, sequence: pp.sequence, requests: conflictingBatch(pp.requests), signer: signer)
        let backups = (0..<config.n).filter { $0 != inner.id }
        let firstHalf = (backups.count + 1) / 2
        for (index, backup) in backups.enumerated() {
            let bytes = index < firstHalf ? pp.bytes : conflicting.bytes
            actions.append(.send(bytes, to: .replica(backup)))
            if colluders.contains(backup) {
                actions.append(.send(index < firstHalf ? conflicting.bytes : pp.bytes, to: .replica(backup)))
            }
        }
    }

    private func conflictingBatch(_ requests: [ClientRequest]) -> [ClientRequest] {
        requests.count >= 2 ? Array(requests.reversed()) : []
    }
}
