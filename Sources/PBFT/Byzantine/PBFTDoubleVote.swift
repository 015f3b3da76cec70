import BFTCore

/// A voter that double-votes: besides its PREPARE/COMMIT for the first PRE-PREPARE of (v, n) it sees,
/// it sends PREPARE and COMMIT for a conflicting PRE-PREPARE of (v, n) it receives or itself sends (an
/// equivocating primary's second batch).
///
/// Correct replicas keep a signer's first vote per (v, n) (rule Q2), so the two votes must not reach
/// the same replica: the double voter follows the equivocating primary's split (`EquivocatingPrimary`:
/// the first half of the backups by id gets one batch, the rest the other) and sends each vote only to
/// the half holding that batch, plus the primary. Alone (f = 1) it cannot break agreement; with an
/// equivocating primary (f+1 faulty at n = 4) it does.
public struct PBFTDoubleVote: Misbehaviour {
    public static let trackedMax = 1024
    let context: ByzantineContext
    let signer: MessageSigner
    /// The first digest voted for (or proposed) at each (view, sequence), and whether a second one was voted.
    private var voted: [Key: (digest: Digest, doubled: Bool)] = [:]
    private struct Key: Hashable { var view: UInt64; var sequence: UInt64 }

    public init(context: ByzantineContext, signer: MessageSigner) {
        self.context = context
        self.signer = signer
    }

    func primary(of view: UInt64) -> ReplicaID { Int(view % UInt64(context.n)) }

    /// The backups in the first half (by id) of view `view`'s equivocation split.
    func firstHalf(_ view: UInt64) -> [ReplicaID] {
        let backups = (0..<context.n).filter { $0 != primary(of: view) }
        return Array(backups.prefix((backups.count + 1) / 2))
    }

    /// Who gets this replica's vote for the first (`first`) or the second digest of (v, n).
    func recipients(_ view: UInt64, first: Bool) -> [ReplicaID] {
        let p = primary(of: view)
        let head = firstHalf(view)
        let mineIsFirst = context.id == p || head.contains(context.id)
        let half = (first == mineIsFirst) ? head : (0..<context.n).filter { $0 != p && !head.contains($0) }
        return ([p] + half).filter { $0 != context.id }
    }

    public mutating func rewrite(_ input: ReplicaInput, _ inner: [ReplicaAction], into actions: inout [ReplicaAction]) {
        if case .message(_, let bytes) = input, bytes.first == PBFTWireTag.prePrepare, let pp = try? PrePrepare(decoding: bytes) {
            note(view: pp.view, sequence: pp.sequence, digest: pp.digest, &actions)
        }
        for action in inner {
            let bytes: [UInt8]
            switch action {
            case .broadcast(let b): bytes = b
            case .send(let b, let to) where to.replicaID != nil: bytes = b
            default:
                actions.append(action)
                continue
            }
            switch bytes.first {
            case PBFTWireTag.prePrepare?:
                actions.append(action)
                if let pp = try? PrePrepare(decoding: bytes) { note(view: pp.view, sequence: pp.sequence, digest: pp.digest, &actions) }
            case PBFTWireTag.prepare?, PBFTWireTag.commit?:
                let vote: (view: UInt64, sequence: UInt64, digest: Digest)?
                if bytes.first == PBFTWireTag.prepare {
                    vote = (try? Prepare(decoding: bytes)).map { ($0.view, $0.sequence, $0.digest) }
                } else {
                    vote = (try? Commit(decoding: bytes)).map { ($0.view, $0.sequence, $0.digest) }
                }
                guard let vote, case .broadcast = action else {
                    actions.append(action)
                    continue
                }
                let key = Key(view: vote.view, sequence: vote.sequence)
                if voted[key] == nil { remember(key, vote.digest) }
                for r in recipients(vote.view, first: voted[key]!.digest == vote.digest) {
                    actions.append(.send(bytes, to: .replica(r)))
                }
            default:
                actions.append(action)
            }
        }
    }

    private mutating func remember(_ key: Key, _ digest: Digest) {
        if voted.count >= PBFTDoubleVote.trackedMax { voted.removeAll(keepingCapacity: true) }
        voted[key] = (digest, false)
    }

    /// Records the first digest seen at (v, n); votes once more, to the other half, for a second one.
    private mutating func note(view: UInt64, sequence: UInt64, digest: Digest, _ actions: inout [ReplicaAction]) {
        let key = Key(view: view, sequence: sequence)
        guard let first = voted[key] else { return remember(key, digest) }
        guard first.digest != digest, !first.doubled else { return }
        voted[key] = (first.digest, true)
        let to = recipients(view, first: false)
        if primary(of: view) != context.id {
            let prepare = Prepare(view: view, sequence: sequence, digest: digest, signer: signer)
            for r in to { actions.append(.send(prepare.bytes, to: .replica(r))) }
        }
        let commit = Commit(view: view, sequence: sequence, digest: digest, signer: signer)
        for r in to { actions.append(.send(commit.bytes, to: .replica(r))) }
    }
}
