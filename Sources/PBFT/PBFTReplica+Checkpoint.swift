import BFTCore

extension PBFTReplica {
    /// Per replica, the most CHECKPOINTs above the stable checkpoint kept (rule K3): a correct replica
    /// has at most L/K unstable checkpoints in flight; a Byzantine one can only evict its own entries.
    var checkpointVotesPerReplicaMax: Int { config.watermarkWindow / config.checkpointInterval + 2 }

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
        for s in log.keys where s <= h { log[s] = nil }
        for s in preparedCertificates.keys where s <= h { preparedCertificates[s] = nil }
        for s in snapshots.keys where s < h { snapshots[s] = nil }
        // Requests this replica will never execute itself (state transfer skipped them) leave `assigned`.
        for request in assigned {
            if let cached = replyCache[request.client], cached.timestamp >= request.timestamp { assigned.remove(request) }
        }
        for r in 0..<config.n {
            for s in checkpointVotes[r].keys where s <= h { checkpointVotes[r][s] = nil }
        }
    }

    // MARK: State transfer (rules S1–S3)

    /// Rule S1: a replica behind a stable checkpoint asks every peer for the state at it.
    mutating func beginStateTransfer(sequence: UInt64, digest: Digest, _ actions: inout [ReplicaAction]) {
        fetching = (sequence, digest)
        let fetch = FetchState(sequence: sequence, stateDigest: digest, signer: signer)
        actions.append(.broadcast(fetch.bytes))
        actions.append(.setTimer(PBFTReplica.fetchTimer, after: config.viewChangeTimeout))
    }

    mutating func onFetchTimeout(_ actions: inout [ReplicaAction]) {
        probing = false
        guard let target = fetching else { return }
        beginStateTransfer(sequence: target.sequence, digest: target.digest, &actions)
    }

    /// Rule S1 (probe): a restarted replica, or one that sees sequence numbers beyond its window, asks
    /// peers for any stable checkpoint newer than its own (FETCH-STATE with a zero digest); peers
    /// answer as in S2. At most one probe per fetch-timer period.
    mutating func probeStableCheckpoint(_ actions: inout [ReplicaAction]) {
        guard !probing else { return }
        probing = true
        let probe = FetchState(sequence: stableSequence, stateDigest: .zero, signer: signer)
        actions.append(.broadcast(probe.bytes))
        actions.append(.setTimer(PBFTReplica.fetchTimer, after: config.viewChangeTimeout))
    }

    // MARK: Missing committed batches (rules S4–S5)

    /// The first sequence this replica cannot execute although later ones are known to be committed
    /// (committed here, or checkpointed by f+1 replicas, at least one of them correct).
    func missingBatch() -> UInt64? {
        guard fetching == nil else { return nil }
        let next = lastExecuted + 1
        guard inWindow(next), log[next]?.committed != true else { return nil }
        for (s, slot) in log where s > next && slot.committed { return next }
        for s in stride(from: (lastExecuted / K + 1) * K, through: stableSequence + L, by: Int(K)) {
            var votes = 0
            for r in 0..<config.n where checkpointVotes[r][s] != nil { votes += 1 }
            if votes >= quorum.weakQuorum { return next }
        }
        return nil
    }

    /// Rule S4: when a gap is seen, the batch-fetch timer gives the normal protocol time to fill it;
    /// if the gap is still there when it fires, the replica multicasts FETCH-BATCH for it (and retries).
    mutating func noteMissingBatch(_ actions: inout [ReplicaAction]) {
        guard !batchFetchTimerArmed, missingBatch() != nil else { return }
        batchFetchTimerArmed = true
        actions.append(.setTimer(PBFTReplica.batchFetchTimer, after: max(1, config.viewChangeTimeout / 2)))
    }

    mutating func onBatchFetchTimeout(_ actions: inout [ReplicaAction]) {
        batchFetchTimerArmed = false
        guard let sequence = missingBatch() else { return }
        let fetch = FetchBatch(sequence: sequence, signer: signer)
        actions.append(.broadcast(fetch.bytes))
        noteMissingBatch(&actions)
    }

    /// Rule S5: a replica holding a committed batch answers with its committed certificate.
    func onFetchBatch(_ fetch: FetchBatch, _ actions: inout [ReplicaAction]) {
        guard fetch.replica != id, let slot = log[fetch.sequence], slot.committed, let pp = slot.prePrepare else { return }
        var commits: [Commit] = []
        for case let c? in slot.commits where c.digest == pp.digest && c.view == pp.view { commits.append(c) }
        guard commits.count >= quorum.quorum else { return }
        let reply = CommittedBatch(prePrepare: pp, commits: Array(commits.prefix(quorum.quorum)), signer: signer)
        actions.append(.send(reply.bytes, to: .replica(fetch.replica)))
    }

    /// Rule S5: a committed certificate is accepted for a sequence this replica has not executed if
    /// its PRE-PREPARE is valid (primary's signature, batch digest, client signatures) and `quorum`
    /// distinct replicas signed matching COMMITs; the batch is then committed-local and executes in order.
    mutating func onCommittedBatch(_ message: CommittedBatch, from: Principal, _ actions: inout [ReplicaAction]) {
        let pp = message.prePrepare
        guard pp.sequence > lastExecuted, inWindow(pp.sequence), log[pp.sequence]?.committed != true else { return }
        guard isValidCommittedCertificate(message) else { return reject(.invalidCertificate, from, &actions) }
        var slot = Slot(n: config.n)
        slot.prePrepare = pp
        slot.prepared = true
        slot.committed = true
        log[pp.sequence] = slot
        actions.append(.observe(.committed(sequence: pp.sequence, view: pp.view, digest: pp.digest, requestCount: pp.requests.count)))
        executeCommitted(&actions)
    }

    func isValidCommittedCertificate(_ message: CommittedBatch) -> Bool {
        let pp = message.prePrepare
        guard pp.replica == primary(of: pp.view), pp.digest == batchDigest(pp.requests), pp.verify(verifier) else { return false }
        for request in pp.requests where !request.verify(verifier) { return false }
        var seen = Array(repeating: false, count: config.n)
        var count = 0
        for c in message.commits {
            guard c.replica < config.n, !seen[c.replica] else { return false }
            guard c.view == pp.view, c.sequence == pp.sequence, c.digest == pp.digest, c.verify(verifier) else { return false }
            seen[c.replica] = true
            count += 1
        }
        return count >= quorum.quorum
    }

    /// Rule S2: a replica that holds the requested checkpointed state sends it. One whose stable
    /// checkpoint is already newer (and so discarded the requested state) relays its stable
    /// checkpoint's proof and sends that state instead; the requester adopts the newer checkpoint
    /// from the proof (rule K2) and accepts the state against it (rule S3).
    func onFetchState(_ fetch: FetchState, _ actions: inout [ReplicaAction]) {
        guard fetch.replica != id else { return }
        if let snapshot = snapshots[fetch.sequence], snapshot.digest == fetch.stateDigest {
            let reply = CheckpointState(sequence: fetch.sequence, state: snapshot.state, signer: signer)
            actions.append(.send(reply.bytes, to: .replica(fetch.replica)))
        } else if stableSequence > fetch.sequence, let snapshot = snapshots[stableSequence] {
            for checkpoint in stableProof { actions.append(.send(checkpoint.bytes, to: .replica(fetch.replica))) }
            let reply = CheckpointState(sequence: stableSequence, state: snapshot.state, signer: signer)
            actions.append(.send(reply.bytes, to: .replica(fetch.replica)))
        }
    }

    /// Rule S3: the state is installed only if its digest matches the stable checkpoint certificate;
    /// execution then resumes from the batches above it that this replica has committed.
    mutating func onCheckpointState(_ message: CheckpointState, from: Principal, _ actions: inout [ReplicaAction]) {
        guard let target = fetching, message.sequence == target.sequence else { return }
        let digest = Digest.of(message.state)
        guard digest == target.digest else { return reject(.digestMismatch, from, &actions) }
        let decoded: (KeyValueStore, [ClientID: CachedReply])
        do {
            decoded = try PBFTReplica.decodeState(message.state)
        } catch {
            return reject(.malformed, from, &actions)
        }
        store = decoded.0
        replyCache = decoded.1
        lastExecuted = message.sequence
        snapshots[message.sequence] = (digest, message.state)
        fetching = nil
        actions.append(.cancelTimer(PBFTReplica.fetchTimer))
        actions.append(.observe(.stateTransferred(sequence: message.sequence, stateDigest: digest)))
        for client in waiting.keys.sorted() {
            if let cached = replyCache[client], let w = waiting[client], cached.timestamp >= w.timestamp { waiting[client] = nil }
        }
        if isPrimary && nextSequence <= lastExecuted { nextSequence = lastExecuted + 1 }
        collectGarbage()
        executeCommitted(&actions)
        refreshViewChangeTimer(restart: true, &actions)
    }
}
