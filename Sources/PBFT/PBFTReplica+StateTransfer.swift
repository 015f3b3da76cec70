import BFTCore

extension PBFTReplica {
    // MARK: State transfer (rules S1–S3)

    /// Rule S1: a replica behind a stable checkpoint asks every peer for the state at it.
    mutating func beginStateTransfer(sequence: UInt64, digest: Digest, _ actions: inout [ReplicaAction]) {
        guard !config.mutations.contains(.noStateTransfer) else { return }
        fetching = (sequence, digest)
        let fetch = FetchState(sequence: sequence, stateDigest: digest, signer: signer)
        actions.append(.broadcast(fetch.bytes))
        actions.append(.setTimer(PBFTReplica.fetchTimer, after: config.parameters.viewChangeTimeout))
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
        guard !probing, !config.mutations.contains(.noStateTransfer) else { return }
        probing = true
        let probe = FetchState(sequence: stableSequence, stateDigest: .zero, signer: signer)
        actions.append(.broadcast(probe.bytes))
        actions.append(.setTimer(PBFTReplica.fetchTimer, after: config.parameters.viewChangeTimeout))
    }

    // MARK: Missing committed batches (rules S4–S5)

    /// The first sequence this replica cannot execute although later ones are known to be committed
    /// (committed here, or checkpointed by f+1 replicas, at least one of them correct).
    func missingBatch() -> UInt64? {
        guard fetching == nil else { return nil }
        let next = lastExecuted + 1
        guard inWindow(next), !log.isCommitted(next) else { return nil }
        if log.hasCommitted(above: next) { return next }
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
        actions.append(.setTimer(PBFTReplica.batchFetchTimer, after: max(1, config.parameters.viewChangeTimeout / 2)))
    }

    mutating func onBatchFetchTimeout(_ actions: inout [ReplicaAction]) {
        batchFetchTimerArmed = false
        guard let sequence = missingBatch() else { return }
        let fetch = FetchBatch(sequence: sequence, signer: signer)
        actions.append(.broadcast(fetch.bytes))
        noteMissingBatch(&actions)
    }

    /// Rule S5: a replica holding a committed batch answers with its committed certificate, from
    /// whichever view the batch committed in: the certificates outlive the log that a NEW-VIEW
    /// replaces (rule V5), or a batch executed here before a view change could never be fetched.
    func onFetchBatch(_ fetch: FetchBatch, _ actions: inout [ReplicaAction]) {
        guard fetch.replica != id, let certificate = committedCertificates[fetch.sequence] else { return }
        let reply = CommittedBatch(prePrepare: certificate.prePrepare, commits: certificate.commits, signer: signer)
        actions.append(.send(reply.bytes, to: .replica(fetch.replica)))
    }

    /// Rule S5: a committed certificate is accepted for a sequence this replica has not executed if
    /// its PRE-PREPARE is valid (primary's signature, batch digest, client signatures) and `quorum`
    /// distinct replicas signed matching COMMITs; the batch is then committed-local and executes in order,
    /// and the certificate is kept so this replica can serve it in turn.
    mutating func onCommittedBatch(_ message: CommittedBatch, from: Principal, _ actions: inout [ReplicaAction]) {
        let pp = message.prePrepare
        guard pp.sequence > lastExecuted, inWindow(pp.sequence), !log.isCommitted(pp.sequence) else { return }
        guard isValidCommittedCertificate(message) else { return reject(.invalidCertificate, from, &actions) }
        var slot = Slot(n: config.n)
        slot.prePrepare = pp
        slot.prepared = true
        slot.committed = true
        log[pp.sequence] = slot
        committedCertificates.insert(CommittedCertificate(prePrepare: pp, commits: message.commits), at: pp.sequence)
        actions.append(.observe(.committed(sequence: pp.sequence, view: pp.view, digest: pp.digest, requestCount: pp.requests.count)))
        executeCommitted(&actions)
    }

    func isValidCommittedCertificate(_ message: CommittedBatch) -> Bool {
        if config.mutations.contains(.skipCommittedCertificateCheck) { return true }
        let pp = message.prePrepare
        guard pp.replica == primary(of: pp.view), pp.batchDigestMatches, pp.verify(verifier) else { return false }
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
        guard digest == target.digest || config.mutations.contains(.skipStateDigestCheck) else {
            return reject(.digestMismatch, from, &actions)
        }
        let decoded: (KeyValueStore, ClientTable<CachedReply>)
        do {
            decoded = try PBFTReplica.decodeState(message.state)
        } catch {
            return reject(.malformed, from, &actions)
        }
        store = decoded.0
        replyCache = decoded.1
        if message.sequence > lastExecuted { loseAdaptive() }
        lastExecuted = message.sequence
        snapshots[message.sequence] = (digest, message.state)
        fetching = nil
        actions.append(.cancelTimer(PBFTReplica.fetchTimer))
        actions.append(.observe(.stateTransferred(sequence: message.sequence, stateDigest: digest)))
        for client in waiting.sortedClients {
            if let cached = replyCache[client], let w = waiting[client], cached.timestamp >= w.timestamp { waiting[client] = nil }
        }
        if isPrimary && nextSequence <= lastExecuted { nextSequence = lastExecuted + 1 }
        collectGarbage()
        executeCommitted(&actions)
        refreshViewChangeTimer(restart: true, &actions)
    }
}
