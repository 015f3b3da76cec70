import BFTCore

extension PBFTReplica {
    // MARK: Requests (rules R1–R3)

    mutating func onRequestBytes(_ bytes: [UInt8], from: Principal, _ actions: inout [ReplicaAction]) {
        let request: ClientRequest
        do {
            request = try ClientRequest(decoding: bytes)
        } catch {
            return reject(.malformed, from, &actions)
        }
        guard request.verify(verifier) else { return reject(.badSignature, from, &actions) }
        onRequest(request, from: from, &actions)
    }

    /// Rule R1/R2 (Castro & Liskov §4.1): a request already executed gets the cached reply again; an
    /// older one is dropped; a new one is batched by the primary, or forwarded to the primary by a
    /// backup, which then waits for it to execute (its view-change timer runs, rule V1).
    mutating func onRequest(_ request: ClientRequest, from: Principal, _ actions: inout [ReplicaAction]) {
        if let cached = replyCache[request.client] {
            if request.timestamp == cached.timestamp {
                sendReply(client: request.client, timestamp: cached.timestamp, result: cached.result, &actions)
                return
            }
            if request.timestamp < cached.timestamp { return reject(.stale, from, &actions) }
        }
        noteWaiting(request)
        if !isViewChanging {
            if isPrimary {
                enqueueForBatch(request, &actions)
            } else if from.clientID != nil {
                // R3: forward to the primary (only requests straight from clients, so nothing loops).
                actions.append(.send(request.bytes, to: .replica(primary(of: view))))
            }
        }
        refreshViewChangeTimer(restart: false, &actions)
    }

    /// Records a request this replica waits for (latest timestamp per client; bounded).
    mutating func noteWaiting(_ request: ClientRequest) {
        if let cached = replyCache[request.client], cached.timestamp >= request.timestamp { return }
        if let known = waiting[request.client] {
            if known.timestamp >= request.timestamp { return }
        } else if waiting.count >= PBFTReplica.waitingMax {
            return
        }
        waiting[request.client] = request
    }

    func sendReply(client: ClientID, timestamp: UInt64, result: [UInt8], _ actions: inout [ReplicaAction]) {
        let reply = ClientReply(view: view, client: client, timestamp: timestamp, result: result, signer: signer)
        actions.append(.send(reply.bytes, to: .client(client)))
    }

    // MARK: Batching at the primary (rule N2)

    mutating func enqueueForBatch(_ request: ClientRequest, _ actions: inout [ReplicaAction]) {
        guard !assigned.contains(request.id) else { return }
        guard pendingBatch.count < PBFTReplica.pendingBatchMax else { return }
        assigned.insert(request.id)
        pendingBatch.append(request)
        sendBatches(force: false, &actions)
    }

    mutating func onBatchTimeout(_ actions: inout [ReplicaAction]) {
        batchTimerArmed = false
        sendBatches(force: true, &actions)
    }

    /// Rule N2: the primary sends a PRE-PREPARE when a batch is full, or when the batch delay expires
    /// (`force`), as long as the next sequence number is inside the window (rule N1).
    mutating func sendBatches(force: Bool, _ actions: inout [ReplicaAction]) {
        guard !isViewChanging, isPrimary else { return }
        while !pendingBatch.isEmpty && inWindow(nextSequence) {
            // Issue 18: the epoch's agreed batch parameters; nil while the epoch's arm is undecided.
            guard let (batchSizeMax, batchDelayMax) = batchParameters(at: nextSequence) else { return }
            let full = pendingBatch.count >= batchSizeMax
            guard full || force || batchDelayMax <= 0 else {
                if !batchTimerArmed {
                    actions.append(.setTimer(PBFTReplica.batchTimer, after: batchDelayMax))
                    batchTimerArmed = true
                }
                return
            }
            let count = min(batchSizeMax, pendingBatch.count)
            var batch: [ClientRequest] = []
            batch.reserveCapacity(count)
            for request in pendingBatch[0..<count] {
                // Drop requests executed meanwhile (exactly-once, rule R2).
                if let cached = replyCache[request.client], cached.timestamp >= request.timestamp { continue }
                batch.append(request)
            }
            pendingBatch.removeFirst(count)
            if batch.isEmpty { continue }
            sendPrePrepare(batch, &actions)
        }
        if pendingBatch.isEmpty && batchTimerArmed {
            actions.append(.cancelTimer(PBFTReplica.batchTimer))
            batchTimerArmed = false
        }
    }

    mutating func sendPrePrepare(_ batch: [ClientRequest], _ actions: inout [ReplicaAction]) {
        let sequence = nextSequence
        nextSequence += 1
        let pp = PrePrepare(view: view, sequence: sequence, requests: batch, signer: signer)
        precondition(inWindow(sequence), "rule N1: the primary assigns sequences inside the window")
        let i = log.claim(sequence)
        log[at: i].reset(n: config.n)
        log[at: i].prePrepare = pp
        persistVote(phase: 1, view: view, sequence: sequence, digest: pp.digest, &actions)
        actions.append(.broadcast(pp.bytes))
        checkPrepared(sequence, &actions)
    }

    // MARK: Three-phase agreement (rules N2–N5)

    /// Rule N2 (§4.2): a backup accepts a PRE-PREPARE if it is signed by the primary of its current
    /// view, it is not changing views, the sequence is in the window, the digest is the batch's, every
    /// request is correctly client-signed, and it accepted no other PRE-PREPARE for (v, n).
    mutating func onPrePrepare(_ pp: PrePrepare, from: Principal, _ actions: inout [ReplicaAction]) {
        guard isCurrentView(pp.view, from: from, bytes: pp.bytes, &actions) else { return }
        guard pp.replica == primary(of: view) else { return reject(.unknownSender, from, &actions) }
        guard pp.replica != id else { return }
        guard inWindow(pp.sequence) else {
            // Far ahead of the window: others have moved on; look for their stable checkpoint (S1).
            if pp.sequence > stableSequence + L { probeStableCheckpoint(&actions) }
            return reject(.outsideWindow, from, &actions)
        }
        guard withinAdaptiveBound(pp) else { return reject(.oversizeBatch, from, &actions) }
        guard config.mutations.contains(.skipBatchDigestCheck) || pp.batchDigestMatches else {
            return reject(.digestMismatch, from, &actions)
        }
        if let i = log.index(of: pp.sequence), let existing = log[at: i].prePrepare {
            guard config.mutations.contains(.acceptConflictingPrePrepare), existing.digest != pp.digest, !log[at: i].committed else {
                if existing.digest != pp.digest { reject(.conflicting, from, &actions) }
                return
            }
            log[at: i].prepared = false  // deliberately broken (test-only): the later PRE-PREPARE wins
            log[at: i].prepares[id] = SlotVote()
        }
        if let voted = recoveredVotes[pp.sequence], voted != pp.digest { return reject(.conflicting, from, &actions) }
        for request in pp.requests where !config.mutations.contains(.skipRequestSignatureCheck) {
            guard request.verify(verifier) else { return reject(.badSignature, from, &actions) }
        }
        acceptPrePrepare(pp, &actions)
    }

    /// Stores an accepted PRE-PREPARE and, at a backup, sends PREPARE (rule N3).
    mutating func acceptPrePrepare(_ pp: PrePrepare, _ actions: inout [ReplicaAction]) {
        // Rule N1: callers admit only sequences inside the window; the slot is updated in place.
        precondition(inWindow(pp.sequence), "rule N1: an accepted PRE-PREPARE lies inside the window")
        let i = log.claim(pp.sequence)
        log[at: i].prePrepare = pp
        for request in pp.requests {
            noteWaiting(request)
            assigned.insert(request.id)
        }
        if pp.replica != id {
            let prepare = Prepare(view: pp.view, sequence: pp.sequence, digest: pp.digest, signer: signer)
            log[at: i].prepares[id] = SlotVote(prepare)
            persistVote(phase: 2, view: pp.view, sequence: pp.sequence, digest: pp.digest, &actions)
            actions.append(.broadcast(prepare.bytes))
        }
        checkPrepared(pp.sequence, &actions)
        refreshViewChangeTimer(restart: false, &actions)
    }

    /// Rule N3: PREPAREs are accepted from backups of the current view inside the window; a signer's
    /// first PREPARE for a sequence is kept and any later one ignored, so each signer counts once (Q2).
    mutating func onPrepare(_ p: Prepare, from: Principal, _ actions: inout [ReplicaAction]) {
        guard isCurrentView(p.view, from: from, bytes: p.bytes, &actions) else { return }
        guard p.replica != primary(of: view) else { return reject(.unknownSender, from, &actions) }
        guard inWindow(p.sequence) else { return reject(.outsideWindow, from, &actions) }
        let i = slotIndex(p.sequence)
        // In place (inout through the index): neither the slot nor its vote arrays are copied.
        guard PBFTReplica.storeFirst(p, in: &log[at: i].prepares) else { return }
        checkPrepared(p.sequence, &actions)
    }

    /// Rule N4: COMMITs are accepted from any replica of the current view inside the window, once per signer.
    mutating func onCommit(_ c: Commit, from: Principal, _ actions: inout [ReplicaAction]) {
        guard isCurrentView(c.view, from: from, bytes: c.bytes, &actions) else { return }
        guard inWindow(c.sequence) else { return reject(.outsideWindow, from, &actions) }
        let i = slotIndex(c.sequence)
        guard PBFTReplica.storeFirst(c, in: &log[at: i].commits) else { return }
        checkCommitted(c.sequence, &actions)
    }

    /// Stores a signer's vote unless it already has one there; returns whether it stored it.
    static func storeFirst<Phase>(_ vote: PBFTVote<Phase>, in votes: inout [SlotVote]) -> Bool {
        guard votes[vote.replica].isEmpty else { return false }
        votes[vote.replica] = SlotVote(vote)
        return true
    }

    /// Rule N3's test on a slot read in place: the PRE-PREPARE and the first `needed` matching PREPAREs,
    /// once there are that many and the slot is not yet prepared.
    static func preparedQuorum(_ slot: inout Slot, needed: Int, anyDigest: Bool = false) -> (PrePrepare, [Prepare])? {
        guard !slot.prepared, let pp = slot.prePrepare else { return nil }
        var count = 0
        // `anyDigest` is deliberately broken (test-the-tester): PREPAREs of any digest count.
        for p in slot.prepares where !p.isEmpty && (anyDigest || p.digest == pp.digest) && p.view == pp.view { count += 1 }
        guard count >= needed else { return nil }
        var matching: [Prepare] = []
        matching.reserveCapacity(needed)
        for (r, p) in slot.prepares.enumerated()
        where !p.isEmpty && (anyDigest || p.digest == pp.digest) && p.view == pp.view && matching.count < needed {
            matching.append(Prepare(stored: p, sequence: pp.sequence, replica: r))
        }
        return (pp, matching)
    }

    /// Rule N5's test on a slot read in place: the PRE-PREPARE once `needed` COMMITs count and the slot is
    /// not yet committed.
    static func committedQuorum(_ slot: inout Slot, needed: Int, anyDigest: Bool) -> PrePrepare? {
        guard !slot.committed, let pp = slot.prePrepare else { return nil }
        var count = 0
        if anyDigest {
            // Deliberately broken (test-the-tester): any COMMIT for the sequence counts.
            for c in slot.commits where !c.isEmpty { count += 1 }
        } else {
            guard slot.prepared else { return nil }
            for c in slot.commits where !c.isEmpty && c.digest == pp.digest { count += 1 }
        }
        return count >= needed ? pp : nil
    }

    /// Index of the log slot for `sequence` (rule N1: inside the window), creating an empty slot if
    /// there is none. No hashing: the log is an array indexed by sequence modulo L.
    mutating func slotIndex(_ sequence: UInt64) -> Int {
        precondition(inWindow(sequence), "rule N1: log slots exist only inside the window")
        return log.claim(sequence)
    }

    /// Rule N1: normal-case messages count only in the replica's current view and not while it is
    /// changing views. Messages for a later view (they can overtake its NEW-VIEW) are buffered,
    /// bounded, and replayed when the replica enters that view; older ones are rejected.
    mutating func isCurrentView(_ v: UInt64, from: Principal, bytes: [UInt8], _ actions: inout [ReplicaAction]) -> Bool {
        if v == view && !isViewChanging { return true }
        if v > view {
            if futureMessages.count < PBFTReplica.futureMessagesMax { futureMessages.append((v, from, bytes)) }
            return false
        }
        reject(.wrongView, from, &actions)
        return false
    }

    /// Rule N3: prepared(m, v, n) holds once the replica has the PRE-PREPARE and `quorum - 1` matching
    /// PREPAREs from distinct backups (2f when n = 3f+1; Q1). It then records the prepared
    /// certificate and multicasts COMMIT (rule N4).
    mutating func checkPrepared(_ sequence: UInt64, _ actions: inout [ReplicaAction]) {
        // The slot is read and updated in place through its index.
        let needed = config.mutations.contains(.prepareQuorumWeak) ? max(1, quorum.f) : quorum.quorum - 1
        let anyDigest = config.mutations.contains(.prepareWithoutDigestMatch)
        guard let i = log.index(of: sequence),
              let (pp, matching) = PBFTReplica.preparedQuorum(&log[at: i], needed: needed, anyDigest: anyDigest) else { return }
        let commit = Commit(view: pp.view, sequence: sequence, digest: pp.digest, signer: signer)
        log[at: i].prepared = true  // in place: no copy of the vote arrays
        log[at: i].commits[id] = SlotVote(commit)
        preparedCertificates.insert(PreparedCertificate(prePrepare: pp, prepares: matching), at: sequence)
        persistVote(phase: 3, view: pp.view, sequence: sequence, digest: pp.digest, &actions)
        actions.append(.broadcast(commit.bytes))
        checkCommitted(sequence, &actions)
    }

    /// Rule N5: committed-local(m, v, n) holds once the replica prepared m and has `quorum` matching
    /// COMMITs from distinct replicas (2f+1 when n = 3f+1). It keeps them as the committed
    /// certificate (rule S5) and executes in sequence order.
    mutating func checkCommitted(_ sequence: UInt64, _ actions: inout [ReplicaAction]) {
        let needed = config.mutations.contains(.commitQuorumWeak) ? quorum.weakQuorum : quorum.quorum
        let anyDigest = config.mutations.contains(.commitWithoutDigestMatch)
        guard let i = log.index(of: sequence),
              let pp = PBFTReplica.committedQuorum(&log[at: i], needed: needed, anyDigest: anyDigest) else { return }
        log[at: i].committed = true
        var commits: [Commit] = []
        commits.reserveCapacity(needed)
        for (r, c) in log[at: i].commits.enumerated()
        where !c.isEmpty && c.digest == pp.digest && c.view == pp.view && commits.count < needed {
            commits.append(Commit(stored: c, sequence: sequence, replica: r))
        }
        // Under `commitWithoutDigestMatch` the COMMITs may not match: then there is no certificate to keep.
        if commits.count == needed {
            committedCertificates.insert(CommittedCertificate(prePrepare: pp, commits: commits), at: sequence)
        }
        actions.append(.observe(.committed(sequence: sequence, view: pp.view, digest: pp.digest, requestCount: pp.requests.count)))
        executeCommitted(&actions)
    }

    // MARK: Execution (rules E1–E2)

    /// Rule E1: batches execute strictly in sequence order, each request at most once (rule R2).
    mutating func executeCommitted(_ actions: inout [ReplicaAction]) {
        var executedRequest = false
        while let i = log.index(of: lastExecuted + 1), log[at: i].committed, let pp = log[at: i].prePrepare {
            executedRequest = execute(pp, &actions) || executedRequest
        }
        if executedRequest {
            // Rule V6: progress in a stable view resets the view-change timeout.
            viewChangeTimeout.reset()
            refreshViewChangeTimer(restart: true, &actions)
        }
        sendBatches(force: false, &actions)
        noteMissingBatch(&actions)
    }

    /// Executes one committed batch; returns whether any request executed.
    mutating func execute(_ pp: PrePrepare, _ actions: inout [ReplicaAction]) -> Bool {
        precondition(pp.sequence == lastExecuted + 1, "execution out of order")
        var any = false
        for (index, request) in pp.requests.enumerated() {
            assigned.remove(request.id)
            if let cached = replyCache[request.client], cached.timestamp >= request.timestamp,
               !config.mutations.contains(.executeTwice) { continue }
            let result = store.execute(request)
            replyCache[request.client] = CachedReply(timestamp: request.timestamp, result: result)
            waiting.removeValue(for: request.client) { $0.timestamp <= request.timestamp }
            sendReply(client: request.client, timestamp: request.timestamp, result: result, &actions)
            actions.append(.observe(.executed(sequence: pp.sequence, index: index, request: request.id,
                                              requestDigest: pp.requestDigests[index], result: Digest.fingerprint(ofResult: result))))
            any = true
        }
        lastExecuted = pp.sequence
        recordAdaptive(pp, &actions)
        if lastExecuted % K == 0 { takeCheckpoint(lastExecuted, &actions) }
        return any
    }
}
