import BFTCore

/// A canonical hash of every mutable field of the replica, for `bftsim explore`'s state caching.
///
/// Covers each `var` of `PBFTReplica` (the `let`s are fixed at construction). Messages are hashed by
/// their exact signed wire bytes; keyed collections in sorted key order (never hash order, STYLE.md).
/// A field added to `PBFTReplica` must be added here, or the explorer would merge states that differ in it.
extension PBFTReplica: StateFingerprinting {
    public func fingerprint(into h: inout StateHasher) {
        // View (V1–V6).
        h.u64(view)
        h.bool(isViewChanging)
        h.u64(pendingView)
        h.int(Int(viewChangeTimeoutCurrent))
        h.bool(viewChangeTimerArmed)
        for vc in latestViewChanges { h.optionalBytes(vc?.bytes) }
        h.optional(newViewSentFor)
        h.optional(viewChangeRetransmittedFor)
        h.optionalBytes(currentNewView?.bytes)
        // Agreement (N1–N5).
        let sequences = log.sortedSequences
        h.int(sequences.count)
        for s in sequences {
            let slot = log[s]!
            h.u64(s)
            h.optionalBytes(slot.prePrepare?.bytes)
            for p in slot.prepares { h.optionalBytes(p.isEmpty ? nil : p.bytes) }
            for c in slot.commits { h.optionalBytes(c.isEmpty ? nil : c.bytes) }
            h.bool(slot.prepared)
            h.bool(slot.committed)
        }
        let prepared = preparedCertificates.sorted(above: 0)
        h.int(prepared.count)
        for c in prepared {
            h.bytes(c.prePrepare.bytes)
            for p in c.prepares { h.bytes(p.bytes) }
        }
        let committed = committedCertificates.sorted(above: 0)
        h.int(committed.count)
        for c in committed {
            h.bytes(c.prePrepare.bytes)
            for v in c.commits { h.bytes(v.bytes) }
        }
        h.u64(lastExecuted)
        h.u64(nextSequence)
        h.int(pendingBatch.count)
        for r in pendingBatch { h.bytes(r.bytes) }
        h.bool(batchTimerArmed)
        let members = assigned.sortedMembers
        h.int(members.count)
        for r in members {
            h.int(r.client)
            h.u64(r.timestamp)
        }
        let waitingClients = waiting.sortedClients
        h.int(waitingClients.count)
        for c in waitingClients { h.bytes(waiting[c]!.bytes) }
        // Checkpoints (K1–K3).
        h.u64(stableSequence)
        h.digest(stableDigest)
        h.int(stableProof.count)
        for c in stableProof { h.bytes(c.bytes) }
        for votes in checkpointVotes {
            h.int(votes.count)
            for s in votes.keys.sorted() { h.bytes(votes[s]!.bytes) }
        }
        h.int(snapshots.count)
        for s in snapshots.keys.sorted() {
            h.u64(s)
            h.digest(snapshots[s]!.digest)
        }
        // Application: the store and reply cache in their canonical checkpoint encoding.
        h.bytes(PBFTReplica.encodeState(store: store, replyCache: replyCache))
        h.int(futureMessages.count)
        for m in futureMessages {
            h.u64(m.view)
            switch m.from {
            case .replica(let r): h.int(r)
            case .client(let c): h.int(-1 - c)
            }
            h.bytes(m.bytes)
        }
        // State transfer (S1–S5).
        h.optional(fetching?.sequence)
        if let d = fetching?.digest { h.digest(d) }
        h.bool(probing)
        h.bool(batchFetchTimerArmed)
        h.int(recoveredVotes.count)
        for s in recoveredVotes.keys.sorted() {
            h.u64(s)
            h.digest(recoveredVotes[s]!)
        }
    }
}
