import BFTCore

extension HotStuffReplica {
    /// Learns a verified QC: raises `highQC` (P2), applies the variant's lock and commit rules if the
    /// block is stored (H-L1, H-C1) or fetches it (S1), and moves to the view after it (P3).
    mutating func learn(_ qc: QuorumCertificate, hint: ReplicaID?, _ actions: inout [ReplicaAction]) {
        if qc.view > highQC.view {
            highQC = qc
            // P4: a new certified block is progress; it resets the backoff.
            viewTimeout.reset()
            actions.append(.observe(.highQC(view: qc.view)))
        }
        if tree.contains(qc.block) {
            apply(qc, &actions)
        } else {
            fetch(qc.block, hint: hint, &actions)
        }
        if qc.view >= currentView {
            enterView(qc.view + 1, &actions)
        }
    }

    /// Learns a verified TC (T2): remembers the highest and moves to the view after it (P3).
    mutating func learn(_ tc: TimeoutCertificate, _ actions: inout [ReplicaAction]) {
        if highTC.map({ tc.view > $0.view }) ?? true {
            highTC = tc
            actions.append(.observe(.timeoutCertified(view: tc.view)))
        }
        if tc.view >= currentView { enterView(tc.view + 1, &actions) }
    }

    /// H-L1 and H-C1 for a QC whose block is in the tree.
    mutating func apply(_ qc: QuorumCertificate, _ actions: inout [ReplicaAction]) {
        if let block = tree.block(qc.block) { observeCertified(block, qc: qc, &actions) }
        let lock = rules.lockAfter(qc, lockedQC: lockedQC, tree: tree)
        if lock.view > lockedQC.view, !config.mutations.contains(.lockNeverUpdated) {
            lockedQC = lock
            // R1: a lock is a promise (`Observation.isPromise`), durable before it is reported, so a
            // replica that crashes before its next vote never comes back with an older lock.
            writeSafetyState(&actions)
            actions.append(.observe(.locked(view: lock.view)))
        }
        if let candidate = rules.commitCandidate(qc, tree: tree, mutations: config.mutations),
           candidate.height > tree.committed.height {
            commit(candidate, via: qc, &actions)
        }
    }

    /// Reports each certified block once (`blockCertified`), for the "one certified block per view" check.
    mutating func observeCertified(_ block: Block, qc: QuorumCertificate, _ actions: inout [ReplicaAction]) {
        guard qc.block == block.digest, certifiedSeen.insert(block.digest).inserted else { return }
        actions.append(.observe(.blockCertified(view: block.view, digest: block.digest, height: block.height)))
    }

    /// Stores a block whose parent is stored (B2); its justify QC certifies the parent.
    mutating func insert(_ block: Block, _ actions: inout [ReplicaAction]) {
        guard tree.insert(block) else { return }
        if let parent = tree.block(block.parent) { observeCertified(parent, qc: block.justify, &actions) }
    }

    // MARK: Commit (H-C1, H-C2)

    /// H-C2: commits `block` and its uncommitted ancestors, oldest first, and executes them (E1).
    /// A candidate that does not extend the committed block is impossible with at most f faults and
    /// the honest rules (Specs/HotStuff.md §5); with mutations it is ignored here and the conflict
    /// shows up between replicas, which is what the checkers must catch.
    mutating func commit(_ block: Block, via qc: QuorumCertificate, _ actions: inout [ReplicaAction]) {
        guard let chain = tree.uncommittedChain(to: block.digest) else { return }
        if chain.contains(where: { !$0.requests.isEmpty }) { commitQCView = max(commitQCView, qc.view) }
        for b in chain {
            tree.markCommitted(b)
            execute(b, &actions)
            persistCommittedBlock(b, &actions)
        }
        // Pruning costs O(tree): do it once the tree holds `pruneSlack` blocks beyond the retention
        // (amortised O(1) per commit).
        if tree.count > config.blockRetention + HotStuffReplica.pruneSlack {
            tree.prune(retention: config.blockRetention)
            certifiedSeen = certifiedSeen.filter { tree.contains($0) }
            orphans = orphans.filter { $0.value.height > tree.committed.height }
        }
        parkedProposals.removeAll { $0.block.height <= tree.committed.height }
        if tree.committed.height >= lastSnapshotHeight + HotStuffReplica.snapshotInterval {
            lastSnapshotHeight = tree.committed.height
            persistCommittedState(&actions)
        }
        updateViewTimer(&actions)
    }
}
