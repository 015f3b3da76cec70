import BFTCore

extension PBFTReplica {
    /// Per replica, the most CHECKPOINTs above the stable checkpoint kept (rule K3): a correct replica
    /// has at most L/K unstable checkpoints in flight; a Byzantine one can only evict its own entries.
    var checkpointVotesPerReplicaMax: Int { config.parameters.watermarkWindow / config.parameters.checkpointInterval + 2 }

    /// Rule K1 (Castro & Liskov §4.3): after executing sequence n with n mod K = 0, a replica saves its
    /// canonical state and multicasts ⟨CHECKPOINT, n, d, i⟩.
    mutating func takeCheckpoint(_ sequence: UInt64, _ actions: inout [ReplicaAction]) {
        let state = PBFTReplica.encodeState(store: store, replyCache: replyCache)
        let digest = Digest.of(state)
        snapshots[sequence] = (digest, state)
        let checkpoint = Checkpoint(sequence: sequence, stateDigest: digest, signer: signer)
        recordCheckpointVote(checkpoint)
        actions.append(.broadcast(checkpoint.bytes))
        checkStable(sequence, &actions)
    }

    mutating func onCheckpoint(_ checkpoint: Checkpoint, from: Principal, _ actions: inout [ReplicaAction]) {
        guard checkpoint.sequence % K == 0 else { return reject(.malformed, from, &actions) }
        guard checkpoint.sequence > stableSequence else { return }
        recordCheckpointVote(checkpoint)
        checkStable(checkpoint.sequence, &actions)
        if checkpoint.sequence > lastExecuted { noteMissingBatch(&actions) }
    }

    /// Rule K4 (checkpoint retransmission): a request waited a whole view-change timeout, so this
    /// replica multicasts again its own CHECKPOINT for the highest sequence above the stable checkpoint.
    /// CHECKPOINTs are sent once, when taken; if every copy is lost before GST, no checkpoint above `h`
    /// ever becomes stable, the primary cannot assign past `h + L` (N1), nothing more executes, and so no
    /// new CHECKPOINT is ever taken — the window stays full for good, in every view. Bounded: one message
    /// per timeout, which backs off (V6). Found by the fuzzer:
    /// `Tests/FuzzingTests/Findings/pbft-lost-checkpoints-full-window.yaml`.
    mutating func retransmitCheckpoint(_ actions: inout [ReplicaAction]) {
        var highest: Checkpoint?
        for (sequence, checkpoint) in checkpointVotes[id] where sequence > stableSequence && sequence > (highest?.sequence ?? 0) {
            highest = checkpoint
        }
        if let highest { actions.append(.broadcast(highest.bytes)) }
    }

    /// Keeps a signer's first CHECKPOINT per sequence, evicting that signer's lowest when over its bound.
    mutating func recordCheckpointVote(_ checkpoint: Checkpoint) {
        let r = checkpoint.replica
        guard checkpointVotes[r][checkpoint.sequence] == nil else { return }
        checkpointVotes[r][checkpoint.sequence] = checkpoint
        if checkpointVotes[r].count > checkpointVotesPerReplicaMax, let lowest = checkpointVotes[r].keys.min() {
            checkpointVotes[r][lowest] = nil
        }
    }

    /// Rule K2: a checkpoint is stable once `quorum` distinct replicas (2f+1 when n = 3f+1) sent
    /// CHECKPOINTs with the same sequence and digest; those messages are its proof.
    mutating func checkStable(_ sequence: UInt64, _ actions: inout [ReplicaAction]) {
        guard sequence > stableSequence else { return }
        var candidates: [Digest] = []
        for r in 0..<config.n {
            if let c = checkpointVotes[r][sequence], !candidates.contains(c.stateDigest) { candidates.append(c.stateDigest) }
        }
        for digest in candidates {
            var proof: [Checkpoint] = []
            for r in 0..<config.n {
                if let c = checkpointVotes[r][sequence], c.stateDigest == digest { proof.append(c) }
            }
            if proof.count >= quorum.quorum {
                adoptStableCheckpoint(sequence, digest: digest, proof: Array(proof.prefix(quorum.quorum)), &actions)
                return
            }
        }
    }

    /// Checks a checkpoint proof: `quorum` correctly signed CHECKPOINTs from distinct replicas for
    /// (sequence, digest). The genesis checkpoint 0 needs no proof, only the genesis digest.
    func isValidCheckpointProof(sequence: UInt64, digest: Digest, proof: [Checkpoint]) -> Bool {
        if sequence == 0 { return digest == PBFTReplica.genesisStateDigest }
        guard sequence % K == 0 else { return false }
        var seen = Array(repeating: false, count: config.n)
        var count = 0
        for c in proof {
            guard c.replica < config.n, !seen[c.replica] else { return false }
            guard c.sequence == sequence, c.stateDigest == digest, c.verify(verifier) else { return false }
            seen[c.replica] = true
            count += 1
        }
        return count >= quorum.quorum
    }

    /// Rules K2/K3/S1: moves the low water mark to a newly stable checkpoint, discards the log,
    /// certificates, votes and snapshots below it, and starts state transfer if this replica has not
    /// executed that far.
    mutating func adoptStableCheckpoint(_ sequence: UInt64, digest: Digest, proof: [Checkpoint], _ actions: inout [ReplicaAction]) {
        guard sequence > stableSequence else { return }
        stableSequence = sequence
        stableDigest = digest
        stableProof = proof
        actions.append(.observe(.checkpointStable(sequence: sequence, stateDigest: digest)))
        collectGarbage()
        if lastExecuted < sequence {
            beginStateTransfer(sequence: sequence, digest: digest, &actions)
        }
        // A local state at `sequence` that differs from the quorum's is impossible for a correct
        // replica (agreement); it happens only under `PBFTMutations`, where checkers report it.
        if isPrimary && nextSequence <= stableSequence { nextSequence = stableSequence + 1 }
        sendBatches(force: false, &actions)
    }

    /// Rule K3: everything at or below the stable checkpoint is discarded; memory stays bounded by the window.
    mutating func collectGarbage() {
        let h = stableSequence
        // Keys are collected before removing: mutating a collection while iterating it copies it whole.
        log.removeAll(atOrBelow: h)
        preparedCertificates.removeAll(atOrBelow: h)
        committedCertificates.removeAll(atOrBelow: h)
        for s in snapshots.keys.filter({ $0 < h }) { snapshots[s] = nil }
        // Requests this replica will never execute itself (state transfer skipped them) leave `assigned`.
        let cache = replyCache
        assigned.removeAll { request in
            if let cached = cache[request.client], cached.timestamp >= request.timestamp { return true }
            return false
        }
        for r in 0..<config.n {
            for s in checkpointVotes[r].keys.filter({ $0 <= h }) { checkpointVotes[r][s] = nil }
        }
    }
}
