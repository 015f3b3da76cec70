import BFTCore

/// A voter that double-votes: besides its honest PREPARE/COMMIT for (v, n), it also sends PREPARE and
/// COMMIT for any conflicting PRE-PREPARE of (v, n) it receives or itself sends (an equivocating
/// primary's second batch). Correct replicas count each signer once per (v, n) (rule Q2), so one double
/// voter cannot break agreement; with an equivocating primary (f+1 faulty at n = 4) it does.
public struct PBFTDoubleVote: Misbehaviour {
    public static let trackedMax = 1024
    let context: ByzantineContext
    let signer: MessageSigner
    /// The digest first voted for (or proposed) at each (view, sequence), and whether a second one was voted.
    private var voted: [Key: (digest: Digest, doubled: Bool)] = [:]
    private struct Key: Hashable { var view: UInt64; var sequence: UInt64 }

    public init(context: ByzantineContext, signer: MessageSigner) {
        self.context = context
        self.signer = signer
    }

    public mutating func rewrite(_ input: ReplicaInput, _ inner: [ReplicaAction], into actions: inout [ReplicaAction]) {
        if case .message(_, let bytes) = input, bytes.first == PBFTWireTag.prePrepare, let pp = try? PrePrepare(decoding: bytes) {
            note(view: pp.view, sequence: pp.sequence, digest: pp.digest, primary: pp.replica, &actions)
        }
        actions.append(contentsOf: inner)
        for action in inner {
            let bytes: [UInt8]
            switch action {
            case .broadcast(let b): bytes = b
            case .send(let b, let to) where to.replicaID != nil: bytes = b
            default: continue
            }
            switch bytes.first {
            case PBFTWireTag.prePrepare?:
                if let pp = try? PrePrepare(decoding: bytes) {
                    note(view: pp.view, sequence: pp.sequence, digest: pp.digest, primary: pp.replica, &actions)
                }
            case PBFTWireTag.prepare?:
                if let p = try? Prepare(decoding: bytes) { note(view: p.view, sequence: p.sequence, digest: p.digest, primary: nil, &actions) }
            case PBFTWireTag.commit?:
                if let c = try? Commit(decoding: bytes) { note(view: c.view, sequence: c.sequence, digest: c.digest, primary: nil, &actions) }
            default:
                break
            }
        }
    }

    /// Records the first digest seen at (v, n); votes once more for a second, different one.
    private mutating func note(view: UInt64, sequence: UInt64, digest: Digest, primary: ReplicaID?, _ actions: inout [ReplicaAction]) {
        let key = Key(view: view, sequence: sequence)
        guard let first = voted[key] else {
            if voted.count >= PBFTDoubleVote.trackedMax { voted.removeAll(keepingCapacity: true) }
            voted[key] = (digest, false)
            return
        }
        guard first.digest != digest, !first.doubled, primary != nil else { return }
        voted[key] = (first.digest, true)
        if primary != context.id {
            actions.append(.broadcast(Prepare(view: view, sequence: sequence, digest: digest, signer: signer).bytes))
        }
        actions.append(.broadcast(Commit(view: view, sequence: sequence, digest: digest, signer: signer).bytes))
    }
}
