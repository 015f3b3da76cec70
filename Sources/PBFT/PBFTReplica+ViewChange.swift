import BFTCore

/// What a NEW-VIEW must contain, computed deterministically from a set of VIEW-CHANGEs (rule V4).
struct NewViewPlan {
    struct Proposal {
        var sequence: UInt64
        var requests: [ClientRequest]
    }
    /// The VIEW-CHANGE carrying the highest stable checkpoint (min-s) and its proof.
    var checkpointSequence: UInt64
    var checkpointDigest: Digest
    var checkpointProof: [Checkpoint]
    /// max-s: the highest sequence with a prepared certificate above min-s (min-s if none).
    var maxSequence: UInt64
    /// One re-proposal per sequence in (min-s, max-s]; an empty batch is the null request.
    var proposals: [Proposal]
}

extension PBFTReplica {
    // MARK: Starting a view change (rules V1, V2, V6)

    /// Rule V1: the view-change timer expired while waiting for a request to execute, so this replica
    /// moves to the next view; if it expires again before the new view works, it moves on (rule V6).
    mutating func onViewChangeTimeout(_ actions: inout [ReplicaAction]) {
        viewChangeTimerArmed = false
        actions.append(.observe(.pendingRequests(count: waiting.count)))
        retransmitCheckpoint(&actions)
        if isViewChanging {
            // Rule V6: move on to the next view only if a quorum asked for this view or a later one
            // (so the new primary had what it needed and failed), a request still waits, and this
            // replica already retransmitted its VIEW-CHANGE once (a replica that merely missed the
            // NEW-VIEW gets it relayed in reply). Otherwise retransmit, since it may have been lost.
            let supported = viewChangeSupport(atLeast: pendingView) >= quorum.quorum
            if supported && !waiting.isEmpty && viewChangeRetransmittedFor == pendingView {
                startViewChange(to: pendingView + 1, &actions)
            } else {
                if let own = latestViewChanges[id], own.newView == pendingView, !config.mutations.contains(.noViewChangeRetransmit) {
                    actions.append(.broadcast(own.bytes))
                }
                viewChangeRetransmittedFor = pendingView
                armViewChangeTimer(&actions)
            }
        } else if !waiting.isEmpty, !config.mutations.contains(.noViewChangeTimer) {
            startViewChange(to: view + 1, &actions)
        }
    }

    /// Rule V1 (Castro & Liskov §4.4): stop accepting normal-case messages and multicast
    /// ⟨VIEW-CHANGE, v+1, n, C, P, i⟩ with the stable checkpoint, its proof, and a prepared certificate
    /// for every sequence above it. Rule V6: the timer for this attempt is the current timeout, and
    /// the next attempt's timeout doubles (capped at `viewChangeTimeoutMax`).
    mutating func startViewChange(to newView: UInt64, _ actions: inout [ReplicaAction]) {
        guard newView > ownView else { return }
        isViewChanging = true
        pendingView = newView
        if batchTimerArmed {
            actions.append(.cancelTimer(PBFTReplica.batchTimer))
            batchTimerArmed = false
        }
        pendingBatch.removeAll()
        assigned.removeAll()
        let certificates = preparedCertificates.sorted(above: stableSequence)
        let vc = ViewChange(newView: newView, stableSequence: stableSequence, stableDigest: stableDigest,
                            checkpointProof: stableProof, preparedCertificates: certificates, signer: signer)
        latestViewChanges[id] = vc
        persistView(&actions)
        actions.append(.observe(.viewChangeStarted(view: newView)))
        actions.append(.broadcast(vc.bytes))
        cancelViewChangeTimer(&actions)
        armViewChangeTimer(&actions)
        viewChangeTimeout.backOff()
        tryNewView(&actions)
    }

    /// Replicas (this one included) whose latest VIEW-CHANGE asks for `view` or a later one.
    func viewChangeSupport(atLeast view: UInt64) -> Int {
        var count = 0
        for r in 0..<config.n where (latestViewChanges[r]?.newView ?? 0) >= view && latestViewChanges[r] != nil { count += 1 }
        return count
    }

    /// Rule V2: a valid VIEW-CHANGE for a view above this replica's is kept (the signer's highest);
    /// its checkpoint proof may advance the stable checkpoint; f+1 of them make this replica join.
    /// A VIEW-CHANGE for the view this replica is already in, or an earlier one, means the sender
    /// missed the NEW-VIEWs since, so the one that brought this replica into its view is relayed
    /// (rule V5: any replica may relay it, it is signed by the primary); an earlier one is still stale.
    mutating func onViewChange(_ vc: ViewChange, from: Principal, _ actions: inout [ReplicaAction]) {
        if vc.newView <= view, !isViewChanging, let nv = currentNewView, nv.view == view, vc.replica != id {
            actions.append(.send(nv.bytes, to: .replica(vc.replica)))
            if vc.newView == view { return }
        }
        guard vc.newView > view else { return reject(.stale, from, &actions) }
        if let known = latestViewChanges[vc.replica], known.newView >= vc.newView { return }
        guard isValidViewChange(vc) else { return reject(.invalidCertificate, from, &actions) }
        latestViewChanges[vc.replica] = vc
        if vc.stableSequence > stableSequence {
            adoptStableCheckpoint(vc.stableSequence, digest: vc.stableDigest, proof: vc.checkpointProof, &actions)
        }
        checkJoin(&actions)
        tryNewView(&actions)
    }

    /// Rule V2 (§4.5.2 liveness): once f+1 other replicas asked for views above this replica's own,
    /// at least one correct replica did, so it moves to the smallest of those views without waiting
    /// for its timer.
    mutating func checkJoin(_ actions: inout [ReplicaAction]) {
        var higher: [UInt64] = []
        for r in 0..<config.n where r != id {
            if let vc = latestViewChanges[r], vc.newView > ownView { higher.append(vc.newView) }
        }
        let needed = config.mutations.contains(.joinOnOneViewChange) ? 1 : quorum.weakQuorum
        guard higher.count >= needed, let smallest = higher.min() else { return }
        startViewChange(to: smallest, &actions)
    }

    /// Checks a VIEW-CHANGE's embedded proofs: its checkpoint proof (rule K2) and each prepared
    /// certificate (rule N3), with certificates in strictly increasing sequence order inside the window
    /// above its checkpoint and from views below the new view.
    func isValidViewChange(_ vc: ViewChange) -> Bool {
        guard isValidCheckpointProof(sequence: vc.stableSequence, digest: vc.stableDigest, proof: vc.checkpointProof) else { return false }
        var previous = vc.stableSequence
        for certificate in vc.preparedCertificates {
            let pp = certificate.prePrepare
            // `pp.sequence > previous >= stableSequence`, so the subtraction cannot overflow.
            guard pp.sequence > previous, pp.sequence - vc.stableSequence <= L else { return false }
            guard pp.view < vc.newView else { return false }
            guard config.mutations.contains(.acceptUnverifiedViewChange) || isValidPreparedCertificate(certificate) else { return false }
            previous = pp.sequence
        }
        return true
    }

    /// A prepared certificate: a PRE-PREPARE signed by its view's primary whose digest is its batch's,
    /// and `quorum - 1` matching PREPAREs from distinct backups (rule N3, Q1). The certificate proves
    /// the predicate `checkPrepared` decides, so the N3 mutants (`prepareQuorumWeak`,
    /// `prepareWithoutDigestMatch`) break both alike, as Specs/pbft.pml's `CERT_OK` does.
    func isValidPreparedCertificate(_ certificate: PreparedCertificate) -> Bool {
        let pp = certificate.prePrepare
        guard pp.replica == primary(of: pp.view) else { return false }
        guard pp.batchDigestMatches else { return false }
        guard pp.verify(verifier) else { return false }
        var seen = Array(repeating: false, count: config.n)
        var count = 0
        for p in certificate.prepares {
            guard p.replica < config.n, p.replica != pp.replica, !seen[p.replica] else { return false }
            guard p.view == pp.view, p.sequence == pp.sequence else { return false }
            guard p.digest == pp.digest || config.mutations.contains(.prepareWithoutDigestMatch) else { return false }
            guard p.verify(verifier) else { return false }
            seen[p.replica] = true
            count += 1
        }
        return count >= (config.mutations.contains(.prepareQuorumWeak) ? max(1, quorum.f) : quorum.quorum - 1)
    }

    // MARK: NEW-VIEW (rules V3–V5)

    /// Rule V4: min-s is the highest stable checkpoint in V; for every n in (min-s, max-s] the
    /// re-proposal is the batch of the prepared certificate with the highest view for n, or the null
    /// request if none. Ties (possible only with more than f faults) go to the lowest replica id.
    static func planNewView(_ viewChanges: [ViewChange]) -> NewViewPlan {
        var best = viewChanges[0]
        for vc in viewChanges.dropFirst() where vc.stableSequence > best.stableSequence { best = vc }
        let minS = best.stableSequence
        var chosen: [UInt64: PrePrepare] = [:]
        var maxS = minS
        for vc in viewChanges {
            for certificate in vc.preparedCertificates where certificate.prePrepare.sequence > minS {
                let pp = certificate.prePrepare
                if let current = chosen[pp.sequence], current.view >= pp.view { continue }
                chosen[pp.sequence] = pp
                maxS = max(maxS, pp.sequence)
            }
        }
        var proposals: [NewViewPlan.Proposal] = []
        var s = minS + 1
        while s <= maxS {
            proposals.append(.init(sequence: s, requests: chosen[s]?.requests ?? []))
            s += 1
        }
        return NewViewPlan(checkpointSequence: minS, checkpointDigest: best.stableDigest,
                           checkpointProof: best.checkpointProof, maxSequence: maxS, proposals: proposals)
    }

    /// Rule V3: the primary of the new view, once it holds `quorum` VIEW-CHANGEs for it (its own
    /// included), multicasts ⟨NEW-VIEW, v+1, V, O⟩ and enters the view.
    mutating func tryNewView(_ actions: inout [ReplicaAction]) {
        guard isViewChanging, primary(of: pendingView) == id, newViewSentFor != pendingView else { return }
        let v = pendingView
        var viewChanges: [ViewChange] = []
        for r in 0..<config.n {
            if let vc = latestViewChanges[r], vc.newView == v { viewChanges.append(vc) }
        }
        guard viewChanges.count >= quorum.quorum else { return }
        let chosen = Array(viewChanges.prefix(quorum.quorum))
        let plan = PBFTReplica.planNewView(chosen)
        var prePrepares: [PrePrepare] = []
        prePrepares.reserveCapacity(plan.proposals.count)
        for proposal in plan.proposals {
            prePrepares.append(PrePrepare(view: v, sequence: proposal.sequence, requests: proposal.requests, signer: signer))
        }
        let nv = NewView(view: v, viewChanges: chosen, prePrepares: prePrepares, signer: signer)
        newViewSentFor = v
        actions.append(.broadcast(nv.bytes))
        enterView(v, plan: plan, prePrepares: prePrepares, &actions)
        currentNewView = nv
    }

    /// Rule V5: a backup accepts a NEW-VIEW for a view at least the one it is moving to if it is
    /// signed by that view's primary, carries `quorum` valid VIEW-CHANGEs for it from distinct
    /// replicas, and its O equals the O recomputed from them (rule V4).
    mutating func onNewView(_ nv: NewView, from: Principal, _ actions: inout [ReplicaAction]) {
        guard nv.view > view, nv.view >= ownView else { return reject(.stale, from, &actions) }
        guard nv.replica == primary(of: nv.view) else { return reject(.unknownSender, from, &actions) }
        guard nv.replica != id else { return }
        guard let plan = verifiedPlan(nv) else { return reject(.invalidCertificate, from, &actions) }
        enterView(nv.view, plan: plan, prePrepares: nv.prePrepares, &actions)
        currentNewView = nv
    }

    /// Recomputes O from the NEW-VIEW's VIEW-CHANGEs and returns the plan if the message matches it.
    func verifiedPlan(_ nv: NewView) -> NewViewPlan? {
        guard nv.viewChanges.count >= (config.mutations.contains(.newViewWithoutQuorum) ? quorum.weakQuorum : quorum.quorum) else { return nil }
        var seen = Array(repeating: false, count: config.n)
        for vc in nv.viewChanges {
            guard vc.replica < config.n, !seen[vc.replica], vc.newView == nv.view else { return nil }
            guard vc.verify(verifier), isValidViewChange(vc) else { return nil }
            seen[vc.replica] = true
        }
        let plan = PBFTReplica.planNewView(nv.viewChanges)
        if config.mutations.contains(.acceptNewViewWithoutRecompute) { return Self.planTakingNewViewAsSent(nv, plan) }
        guard nv.prePrepares.count == plan.proposals.count else { return nil }
        for (pp, proposal) in zip(nv.prePrepares, plan.proposals) {
            guard pp.view == nv.view, pp.replica == nv.replica, pp.sequence == proposal.sequence else { return nil }
            guard pp.digest == batchDigest(proposal.requests), pp.batchDigestMatches else { return nil }
            guard pp.verify(verifier) else { return nil }
            for request in pp.requests where !request.verify(verifier) { return nil }
        }
        return plan
    }

    /// Enters view `v` (rules V3/V5): adopts the NEW-VIEW's checkpoint (state transfer if behind),
    /// replaces the log with the re-proposals (backups PREPARE them), and resumes the normal case.
    /// Requests still waiting are re-queued by the new primary or forwarded to it by backups.
    mutating func enterView(_ v: UInt64, plan: NewViewPlan, prePrepares: [PrePrepare], _ actions: inout [ReplicaAction]) {
        if plan.checkpointSequence > stableSequence {
            adoptStableCheckpoint(plan.checkpointSequence, digest: plan.checkpointDigest, proof: plan.checkpointProof, &actions)
        }
        view = v
        isViewChanging = false
        pendingView = v
        log.removeAll()
        recoveredVotes.removeAll()
        assigned.removeAll()
        pendingBatch.removeAll()
        if batchTimerArmed {
            actions.append(.cancelTimer(PBFTReplica.batchTimer))
            batchTimerArmed = false
        }
        cancelViewChangeTimer(&actions)
        persistView(&actions)
        actions.append(.observe(.viewEntered(view: v, leader: primary(of: v))))
        for r in 0..<config.n {
            if let vc = latestViewChanges[r], vc.newView <= v { latestViewChanges[r] = nil }
        }
        for pp in prePrepares where inWindow(pp.sequence) {
            acceptPrePrepare(pp, &actions)
        }
        nextSequence = max(plan.maxSequence, stableSequence) + 1
        let buffered = futureMessages
        futureMessages.removeAll()
        for m in buffered where m.view >= v {
            if m.view == v { onMessage(from: m.from, bytes: m.bytes, &actions) } else { futureMessages.append(m) }
        }
        for client in waiting.sortedClients {
            guard let request = waiting[client], !assigned.contains(request.id) else { continue }
            if isPrimary {
                enqueueForBatch(request, &actions)
            } else {
                actions.append(.send(request.bytes, to: .replica(primary(of: v))))
            }
        }
        refreshViewChangeTimer(restart: true, &actions)
    }
}
