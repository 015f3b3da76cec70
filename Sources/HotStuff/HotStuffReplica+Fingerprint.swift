import BFTCore

/// A canonical hash of every mutable field of the replica, for `bftsim explore`'s state caching.
///
/// Covers each `var` of `HotStuffReplica` (the `let`s — id, config, rules, pacemaker, keys — are fixed
/// at construction, and the pacemakers and rules keep no state of their own). Messages are hashed by
/// their exact signed wire bytes, certificates by view, block and every (signer, signature), keyed
/// collections in sorted key order (never hash order, STYLE.md). A field added to `HotStuffReplica` must
/// be added here, or the explorer would merge states that differ in it.
extension HotStuffReplica: StateFingerprinting {
    public func fingerprint(into h: inout StateHasher) {
        // Safety state (R1, H-V1, H-L1).
        h.u64(lastVotedView)
        h.bool(safetyPersistDeferred)
        Self.hash(lockedQC, into: &h)
        Self.hash(highQC, into: &h)
        // Pacemaker (P1–P12, T1–T4).
        h.u64(currentView)
        h.u64(proposedView)
        h.int(viewTimeout.failures)
        h.bool(viewTimerArmed)
        h.u64(timedOutView)
        h.bool(highTC != nil)
        if let tc = highTC { Self.hash(tc, into: &h) }
        let voteKeys = voteCollectors.keys.sorted { ($0.view, $0.block) < ($1.view, $1.block) }
        h.int(voteKeys.count)
        for k in voteKeys {
            let c = voteCollectors[k]!
            h.u64(k.view)
            h.digest(k.block)
            h.bool(c.formed)
            for s in c.signatures { Self.hash(s, into: &h) }
        }
        h.int(newViewCollectors.count)
        for v in newViewCollectors.keys.sorted() {
            h.u64(v)
            for m in newViewCollectors[v]!.members { h.bool(m) }
        }
        h.int(timeoutCollectors.count)
        for v in timeoutCollectors.keys.sorted() {
            let c = timeoutCollectors[v]!
            h.u64(v)
            h.bool(c.formed)
            for e in c.entries {
                h.bool(e != nil)
                if let e { Self.hash(e, into: &h) }
            }
        }
        h.u64(commitQCView)
        h.u64(lastSnapshotHeight)
        for v in announcedViews { h.u64(v) }
        for a in announcements { h.optionalBytes(a?.bytes) }
        h.optionalBytes(lastVote?.bytes)
        // Block tree and block sync (B1–B3, S1–S4).
        h.digest(tree.root.digest)
        h.digest(tree.committed.digest)
        hashBlocks(tree.blocks, into: &h)
        h.int(certifiedSeen.count)
        for d in certifiedSeen.sorted() { h.digest(d) }
        hashBlocks(orphans, into: &h)
        h.int(fetches.count)
        for d in fetches.keys.sorted() {
            h.digest(d)
            h.int(fetches[d]!.peer)
            h.int(fetches[d]!.attempts)
        }
        h.bool(fetchTimerArmed)
        h.int(parkedProposals.count)
        for p in parkedProposals { h.bytes(p.bytes) }
        // Execution (E1–E4).
        h.bytes(store.snapshot())
        h.int(clientTable.count)
        for c in clientTable.sortedClients {
            let r = clientTable[c]!
            h.int(c)
            h.u64(r.timestamp)
            h.u64(r.view)
            h.bytes(r.result)
        }
        mempool.fingerprint(into: &h)
    }

    /// Blocks by digest, each with its justifying certificate (the digest covers the block's contents;
    /// the certificate's signatures are hashed too, so two blocks that differ only there never merge).
    func hashBlocks(_ blocks: [Digest: Block], into h: inout StateHasher) {
        h.int(blocks.count)
        for d in blocks.keys.sorted() {
            h.digest(d)
            Self.hash(blocks[d]!.justify, into: &h)
        }
    }

    static func hash(_ qc: QuorumCertificate, into h: inout StateHasher) {
        h.u64(qc.view)
        h.digest(qc.block)
        h.int(qc.signatureCount)
        _ = qc.forEachSignature { signer, signature in
            h.int(signer)
            hash(signature, into: &h)
            return true
        }
    }

    static func hash(_ tc: TimeoutCertificate, into h: inout StateHasher) {
        h.u64(tc.view)
        h.int(tc.entries.count)
        for e in tc.entries { hash(e, into: &h) }
    }

    static func hash(_ e: TimeoutCertificate.Entry, into h: inout StateHasher) {
        h.int(e.signer)
        h.u64(e.highQCView)
        hash(e.signature, into: &h)
    }

    static func hash(_ s: Signature?, into h: inout StateHasher) {
        guard let s else { return h.u64(0x516) }
        for i in 0..<8 { h.u64(s.words[i]) }
    }
}
