import BFTCore

/// A Byzantine replica: an honest `PBFTReplica` that, whenever it is primary, equivocates.
///
/// Each PRE-PREPARE the honest core multicasts is replaced by two conflicting ones for the same view
/// and sequence, both validly signed with this replica's own key: the original batch goes to the
/// first half of the backups (in replica-id order), a different batch (reversed, or the null request
/// for a single-request batch) to the rest. As a backup it behaves honestly. Correct replicas never
/// commit both (rule N3: conflicting PRE-PREPAREs cannot both gather a prepare quorum); the
/// `commitWithoutDigestMatch` mutation does, which is how the agreement checker is tested.
public struct EquivocatingPrimary: ReplicaWrapper {
    public private(set) var inner: PBFTReplica
    let signer: MessageSigner
    /// Who gets which PRE-PREPARE; `colluders` (fellow Byzantine replicas) get both.
    let split: EquivocationSplit
    private var scratch: [ReplicaAction] = []

    public init(wrapping inner: PBFTReplica, signer: MessageSigner, config: PBFTConfig, colluders: [ReplicaID] = []) {
        split = EquivocationSplit(proposer: inner.principal, signer: signer, n: config.n, originalsRoundedUp: true, colluders: colluders)
        self.inner = inner
        self.signer = signer
    }

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
        split.send(pp.bytes, conflicting.bytes, into: &actions)
    }

    private func conflictingBatch(_ requests: [ClientRequest]) -> [ClientRequest] {
        requests.count >= 2 ? Array(requests.reversed()) : []
    }
}
