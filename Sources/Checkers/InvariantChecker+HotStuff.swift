import BFTCore

// HotStuff safety checks (Specs/HotStuff.md): one certified block per view, one committed hash chain,
// locks that never go back, one vote per view.
extension InvariantChecker {
    /// Checks and tracks one HotStuff observation of replica `r`.
    ///
    /// Diagnosis fields are tracked for every replica; the checks skip replicas in `config.byzantine`.
    func observeChainedBFT(_ r: ReplicaID, _ record: ObservationRecord) {
        switch record.observation {
        case .voted(let view, let digest):
            onVoted(r, view: view, digest: digest, record)
        case .blockCertified(let view, let digest, let height):
            onBlockCertified(r, view: view, digest: digest, height: height, record)
        case .blockCommitted(let height, let digest, let parent):
            onBlockCommitted(r, ChainBlock(height: height, digest: digest, parent: parent, replica: r), record)
        case .locked(let view):
            onLocked(r, view: view, record)
        case .highQC(let view):
            replicas[r].highQCView = max(replicas[r].highQCView ?? 0, view)
        default:
            break
        }
    }

    /// H-V1: a replica votes at most once per view, so a second `.voted` in a view is reported whether or
    /// not the digest differs. Votes more than `retainedViews` below the replica's highest vote are not
    /// checked.
    private func onVoted(_ r: ReplicaID, view v: UInt64, digest d: Digest, _ record: ObservationRecord) {
        guard correct[r], v >= replicas[r].votedViews.floor else { return }
        if let first = replicas[r].votes[v] {
            let what = first == d ? "the same block \(d) twice" : "twice: for \(first) and then for \(d)"
            report(.doubleVote, record, "r\(r) voted in view \(v) \(what); a correct replica votes at most once "
                + "per view (H-V1)")
            return
        }
        replicas[r].votes[v] = d
        replicas[r].noteVote(view: v, retainedViews: config.retainedViews)
    }

    /// H-Q1 with quorum intersection: no two different blocks are certified in one view. Compared across
    /// all correct replicas' `.blockCertified` within `retainedViews` of the highest certified view.
    private func onBlockCertified(
        _ r: ReplicaID, view v: UInt64, digest d: Digest, height h: UInt64, _ record: ObservationRecord
    ) {
        guard correct[r], v >= certifiedViews.floor else { return }
        guard let first = certificates[v] else {
            certificates[v] = CertifiedBlock(digest: d, height: h, replica: r)
            noteCertifiedView(v)
            return
        }
        if first.digest != d {
            report(.conflictingCertificates, record, "r\(r) certified block \(d) (height \(h)) in view \(v) but "
                + "r\(first.replica) certified \(first.digest) (height \(first.height)) in that view: two "
                + "conflicting blocks certified in one view")
        }
    }

    /// H-C2 and B1: the blocks correct replicas commit form one hash chain. At each height one digest (and
    /// one parent for it); each block's parent is the block committed at the height below — by the same
    /// replica, if that was its previous commit, and by any correct replica within `retainedSequences`.
    private func onBlockCommitted(_ r: ReplicaID, _ b: ChainBlock, _ record: ObservationRecord) {
        let previous = replicas[r].lastBlock
        if b.height >= previous?.height ?? 0 { replicas[r].lastBlock = b }
        replicas[r].lastCommittedHeight = max(replicas[r].lastCommittedHeight ?? 0, b.height)
        guard correct[r] else { return }
        if let p = previous, p.height &+ 1 == b.height, p.digest != b.parent {
            report(.chain, record, "r\(r) committed block \(b.digest) at height \(b.height) with parent \(b.parent) "
                + "but its own block at height \(p.height) is \(p.digest)")
            return
        }
        guard b.height >= chainHeights.floor else { return }
        if let v = chainViolation(b) {
            report(.chain, record, v)
            return
        }
        if chainBlocks[b.height] == nil {
            chainBlocks[b.height] = b
            noteChainHeight(b.height)
        }
    }

    /// What is wrong with `b` against the first correct blocks at its height and the heights next to it.
    private func chainViolation(_ b: ChainBlock) -> String? {
        // Built only when there is something to report: formatting digests on every commit cost about
        // 2,600 instructions per simulated event in a Twins-sized run (issue 19).
        var who: String { "r\(b.replica) committed block \(b.digest) at height \(b.height)" }
        if let first = chainBlocks[b.height] {
            if first.digest != b.digest {
                return "\(who) but r\(first.replica) committed \(first.digest) there: committed blocks must form "
                    + "one chain"
            }
            if first.parent != b.parent {
                return "\(who) with parent \(b.parent) but r\(first.replica) committed it with parent \(first.parent)"
            }
        }
        if b.height > 0, let below = chainBlocks[b.height - 1], below.digest != b.parent {
            return "\(who) with parent \(b.parent) but r\(below.replica) committed \(below.digest) at height "
                + "\(below.height): the block does not extend the committed chain"
        }
        if b.height < .max, let above = chainBlocks[b.height + 1], above.parent != b.digest {
            return "\(who) but r\(above.replica) committed \(above.digest) at height \(above.height) on parent "
                + "\(above.parent): the committed chain does not pass through this block"
        }
        return nil
    }

    /// H-L1: a correct replica's locked QC view never decreases.
    private func onLocked(_ r: ReplicaID, view v: UInt64, _ record: ObservationRecord) {
        let previous = replicas[r].lockedView
        replicas[r].lockedView = max(previous ?? 0, v)
        guard correct[r], let p = previous, v < p else { return }
        report(.lockRegression, record, "r\(r) locked on a QC of view \(v) after locking on view \(p): a correct "
            + "replica's locked view never decreases (H-L1)")
    }

    /// Prunes certificates more than `retainedViews` below the highest certified view.
    private func noteCertifiedView(_ v: UInt64) {
        guard certifiedViews.advance(to: v, retained: config.retainedViews) else { return }
        certificates = certificates.filter { $0.key >= certifiedViews.floor }
    }

    /// Prunes committed blocks more than `retainedSequences` below the highest committed height.
    private func noteChainHeight(_ h: UInt64) {
        guard chainHeights.advance(to: h, retained: config.retainedSequences) else { return }
        chainBlocks = chainBlocks.filter { $0.key >= chainHeights.floor }
    }
}

/// The keys (views or heights) a bounded table keeps: those at or above `floor`, which trails the
/// highest key seen by the retention and moves in sweeps every quarter of it (so pruning is amortised).
struct RetentionWindow {
    private(set) var highest: UInt64 = 0
    /// Keys below this have been pruned.
    private(set) var floor: UInt64 = 0

    /// Notes key `k`; true when the floor moved and the table should drop keys below it.
    mutating func advance(to k: UInt64, retained: UInt64) -> Bool {
        guard k > highest else { return false }
        highest = k
        guard k >= floor &+ retained &+ retained / 4, k > retained else { return false }
        floor = k - retained
        return true
    }
}

/// The first correct certificate seen for a view.
struct CertifiedBlock {
    var digest: Digest
    var height: UInt64
    var replica: ReplicaID
}

/// A committed block as one replica reported it.
struct ChainBlock {
    var height: UInt64
    var digest: Digest
    var parent: Digest
    var replica: ReplicaID
}

extension ReplicaTrack {
    /// Prunes this replica's votes more than `retainedViews` below its highest vote.
    mutating func noteVote(view v: UInt64, retainedViews retained: UInt64) {
        guard votedViews.advance(to: v, retained: retained) else { return }
        votes = votes.filter { $0.key >= votedViews.floor }
    }
}
