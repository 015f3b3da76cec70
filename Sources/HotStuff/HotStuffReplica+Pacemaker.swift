import BFTCore

extension HotStuffReplica {
    // MARK: Views (P1–P3)

    /// P2: enters `view` (only forwards), reports it, drops collectors for older views, restarts the
    /// view timer and lets the leader propose.
    mutating func enterView(_ view: UInt64, _ actions: inout [ReplicaAction]) {
        precondition(view > currentView, "views only move forward")
        currentView = view
        actions.append(.observe(.viewEntered(view: view, leader: config.leader(of: view))))
        // Votes matter only above the highQC and, via NEW-VIEWs (P8), up to f+2 views back.
        let highQCView = highQC.view
        let oldest = view > UInt64(config.f + 2) ? view - UInt64(config.f + 2) : 0
        voteCollectors = voteCollectors.filter { $0.key.view > highQCView && $0.key.view >= oldest }
        newViewCollectors = newViewCollectors.filter { $0.key >= view }
        timeoutCollectors = timeoutCollectors.filter { $0.key >= view }
        restartViewTimer(&actions)
        tryPropose(&actions)
    }

    /// P2: a fresh timeout for the new view while there is work; otherwise no timer at all.
    mutating func restartViewTimer(_ actions: inout [ReplicaAction]) {
        if hasWork {
            viewTimerArmed = true
            actions.append(.setTimer(Self.viewTimer, after: viewTimeoutDuration))
        } else if viewTimerArmed {
            viewTimerArmed = false
            actions.append(.cancelTimer(Self.viewTimer))
        }
    }

    /// P4: `viewTimeout · 2^k`, capped at `viewTimeoutMax`, where k counts consecutive timeouts.
    var viewTimeoutDuration: Nanoseconds { viewTimeout.duration }

    /// Consecutive local timeouts since the last QC-driven progress: the backoff exponent (P4).
    var consecutiveTimeouts: Int {
        get { viewTimeout.failures }
        set { viewTimeout.failures = newValue }
    }

    /// Whether the replica is waiting for something to commit: a request in the mempool, or requests
    /// in blocks not yet committed. The view timer runs only then (P2), so an idle cluster is quiet.
    var hasWork: Bool {
        if !mempool.isEmpty { return true }
        // A highQC whose block is missing is work too: it must be fetched (S1).
        guard tree.contains(highQC.block) else { return true }
        guard let chain = tree.uncommittedChain(to: highQC.block) else { return false }
        return chain.contains { !$0.requests.isEmpty }
    }

    /// Arms the view timer when there is work and it is not running; cancels it when idle.
    mutating func updateViewTimer(_ actions: inout [ReplicaAction]) {
        if hasWork {
            guard !viewTimerArmed else { return }
            viewTimerArmed = true
            actions.append(.setTimer(Self.viewTimer, after: viewTimeoutDuration))
        } else if viewTimerArmed {
            viewTimerArmed = false
            actions.append(.cancelTimer(Self.viewTimer))
        }
    }

    // MARK: Local timeout (P4)

    /// P4: the current view timed out. The replica stops voting in it (H-V1), persists that, doubles
    /// its timeout, and asks to move on: chained broadcasts NEW-VIEW for the next view with its highQC
    /// (Alg. 5) and enters it once n−f replicas announced it (P10, P11); two-chain broadcasts a
    /// TIMEOUT and waits for a TC (T1). Either way the replica stays until others agree, re-arming its
    /// timer so the announcement is repeated (with backoff) while it waits.
    mutating func onViewTimeout(_ actions: inout [ReplicaAction]) {
        viewTimerArmed = false
        let view = currentView
        actions.append(.observe(.viewChangeStarted(view: view + 1)))
        actions.append(.observe(.pendingRequests(count: mempool.count)))
        viewTimeout.backOff()
        if rules.usesTimeoutCertificates {
            // Re-arm first: the local TC (if this completes one) enters the next view and re-arms again.
            viewTimerArmed = true
            actions.append(.setTimer(Self.viewTimer, after: viewTimeoutDuration))
            broadcastTimeout(of: view, &actions)
        } else {
            // P11: announce (again, if already announced: the earlier copies may have been lost) but
            // stay; P10 enters the view once n−f replicas announced it.
            announce(max(view + 1, announcedViews[id]), &actions)
            if config.mutations.contains(.enterViewOnLocalTimeout), announcedViews[id] > currentView {
                enterView(announcedViews[id], &actions)  // deliberately broken (test-only): a lone view change
            }
            updateViewTimer(&actions)
        }
    }

    /// Chained (P4, P10, P11): stops voting below `next` (H-V1), persists that (R1) and broadcasts
    /// ⟨NEW-VIEW, next, highQC, lastVote?⟩ (P8), handling its own copy too. It does not enter `next`
    /// by itself: the own copy is one of the n−f announcements P10 needs to enter it.
    mutating func announce(_ next: UInt64, _ actions: inout [ReplicaAction]) {
        lastVotedView = max(lastVotedView, next - 1)
        persistSafetyState(&actions)
        let vote = config.mutations.contains(.noVoteOnNewView) ? nil : lastVote.flatMap { $0.view > highQC.view ? $0 : nil }
        let newView = NewView(view: next, highQC: highQC, lastVote: vote, signer: signer)
        actions.append(.broadcast(HotStuffMessage.newView(newView).bytes))
        onNewView(newView, from: principal, &actions)
    }

    // MARK: NEW-VIEW (chained, P5, P7)

    /// Alg. 5 `onReceiveNewView`: learn the sender's highQC (and its last vote, P8); announcements of
    /// later views are amplified and, from n−f replicas, entered (P10, P11); n−f NEW-VIEWs for a view
    /// let its leader enter it (P7) and propose on the highest QC among them (P5). Chained replicas
    /// broadcast NEW-VIEW so every replica sees the announcements; two-chain replicas receive
    /// NEW-VIEWs only as P9 sync answers.
    /// `answering` is false for announcements forwarded in a SYNC (P12), which are never answered.
    mutating func onNewView(_ m: NewView, from: Principal, answering: Bool = true, _ actions: inout [ReplicaAction]) {
        // P12 (chained): an announcement's sender is in a view below m.view, so behind us if m.view ≤ ours.
        let late = !rules.usesTimeoutCertificates && m.view <= currentView
        guard m.sender < config.n else { return reject(.unknownSender, from, &actions) }
        guard m.view > 0, m.highQC.view < m.view else { return reject(.malformed, from, &actions) }
        guard m.view <= currentView + HotStuffLimits.viewWindow else { return reject(.outsideWindow, from, &actions) }
        guard m.verify(verifier) else { return reject(.signatureFailure(claimed: m.sender, from: from), from, &actions) }
        guard m.highQC.isValid(config: config, verifier: verifier) else { return reject(.invalidCertificate, from, &actions) }
        if !rules.usesTimeoutCertificates, m.view > (announcements[m.sender]?.view ?? 0) { announcements[m.sender] = m }
        learn(m.highQC, hint: m.sender, &actions)
        if let vote = m.lastVote { onVote(vote, from: from, &actions) }
        if answering, m.sender != id {
            // P12 (the announcements that moved us, with our highQC) or P9 (a newer highQC).
            if !(late && syncIfBehind(m, &actions)) { helpIfBehind(m.sender, view: m.view, highQCView: m.highQC.view, &actions) }
        }
        if !rules.usesTimeoutCertificates { followAnnouncedViews(m.sender, view: m.view, &actions) }
        guard !rules.usesTimeoutCertificates, config.leader(of: m.view) == id, m.view >= currentView else { return }
        if newViewCollectors[m.view] == nil, newViewCollectors.count >= HotStuffLimits.collectorsMax {
            guard let furthest = newViewCollectors.keys.max(), m.view < furthest else { return reject(.outsideWindow, from, &actions) }
            newViewCollectors[furthest] = nil
        }
        var senders = newViewCollectors[m.view] ?? SignerSet(n: config.n)
        guard senders.insert(m.sender) else { return }
        newViewCollectors[m.view] = senders
        guard senders.count >= quorum else { return }
        if m.view > currentView { enterView(m.view, &actions) } else { tryPropose(&actions) }
    }

    /// P10 (view synchronisation without certificates, after Bracha's amplification), with P11's
    /// thresholds. Join: when f+1 replicas announced views ≥ w above this replica's own announcement
    /// and current view, at least one correct replica timed out of w − 1, so this replica announces w
    /// too (stops voting below w, broadcasts NEW-VIEW(w)). Enter: when n−f replicas (this one
    /// included) announced views ≥ w > current view, it enters w. Joining makes every correct replica
    /// announce what f+1 announced, so n−f announcements form; entering only on n−f means a replica
    /// never runs ahead on its own timer, not even with f Byzantine announcements added to its own,
    /// so capped timers cannot hold correct replicas in different views forever.
    mutating func followAnnouncedViews(_ sender: ReplicaID, view: UInt64, _ actions: inout [ReplicaAction]) {
        guard view > announcedViews[sender] else { return }
        announcedViews[sender] = view
        let ranked = announcedViews.sorted(by: >)
        let joined = ranked[config.mutations.contains(.joinOnOneAnnouncement) ? 0 : config.f]
        if joined > announcedViews[id], joined > currentView {
            actions.append(.observe(.viewChangeStarted(view: joined)))
            announce(joined, &actions)  // its own copy comes back here and enters if n−f agree
            return
        }
        let entered = ranked[quorum - 1]
        guard entered > currentView else { return }
        // P11: n−f ≥ f+1 announced ≥ entered, so the join above already raised our own announcement
        // (and lastVotedView, H-V1) to at least `entered`.
        precondition(announcedViews[id] >= entered, "entering a view this replica did not announce")
        enterView(entered, &actions)
    }

    /// P9: a replica asking to leave a view with an older highQC than ours gets ours in a NEW-VIEW,
    /// so a replica that missed the proposal carrying a commit-making QC learns it even when the
    /// replicas that have it are idle and no longer time out. The answer names the view after our
    /// highQC when that is above the sender's view: our QC may be of the very view the sender is
    /// timing out of (only its next leader and a few replicas learned it), and a NEW-VIEW's QC must
    /// be older than its view. This replica is in that view or later (P3), so it may announce it. It never
    /// names a view beyond its own current view: the answer is its own signed announcement (P10 counts
    /// it), and echoing a Byzantine sender's far-future view would let one spammer make every correct
    /// replica sign announcements of views nobody timed out of — with f+1 of them forwarded (P12), all
    /// joined there, and the views ran away (found by the fuzzer with `spam-view-change`, n = 4).
    mutating func helpIfBehind(_ sender: ReplicaID, view: UInt64, highQCView: UInt64, _ actions: inout [ReplicaAction]) {
        guard highQCView < highQC.view, !config.mutations.contains(.noLaggardHelp) else { return }
        precondition(highQC.view < currentView, "P3: a replica is past its highQC's view")
        let answer = NewView(view: max(min(view, currentView), highQC.view + 1), highQC: highQC, signer: signer)
        actions.append(.send(answer.bytes, to: .replica(sender)))
    }

    // MARK: TIMEOUT and TC (two-chain, T1–T2, T4)

    /// T1: stops voting in `view` (H-V1), persists that (R1) and broadcasts ⟨TIMEOUT, view, highQC⟩
    /// with the highest TC (T2), handling its own copy too. The caller owns the view timer.
    mutating func broadcastTimeout(of view: UInt64, _ actions: inout [ReplicaAction]) {
        precondition(view >= currentView, "timing out of a view already left")
        lastVotedView = max(lastVotedView, view)
        timedOutView = max(timedOutView, view)
        persistSafetyState(&actions)
        let timeout = Timeout(view: view, highQC: highQC, highTC: highTC, signer: signer)
        actions.append(.broadcast(HotStuffMessage.timeout(timeout).bytes))
        onTimeout(timeout, from: principal, &actions)
    }

    /// T4 (timeout amplification; DiemBFT v4 `process_remote_timeout`, Jolteon §4, after Bracha):
    /// f+1 distinct replicas timed out of `view` ≥ the current view, so at least one correct replica
    /// did; this replica times out of it too — idle or not, whatever its own timer says — so the n−f
    /// TIMEOUTs a TC needs form even when some correct replica has no work and no timer (P2). Only
    /// views it has not already timed out of, and not below its last vote (H-V1); f Byzantine
    /// TIMEOUTs alone never reach the threshold.
    mutating func joinTimeout(of view: UInt64, _ actions: inout [ReplicaAction]) {
        guard let collector = timeoutCollectors[view], !collector.formed else { return }
        guard !config.mutations.contains(.noTimeoutAmplification) else { return }
        guard collector.count >= (config.mutations.contains(.amplifyOnOneTimeout) ? 1 : config.f + 1) else { return }
        guard view > timedOutView else { return }
        guard view >= currentView, view >= lastVotedView else { return }
        if view > currentView { enterView(view, &actions) }
        actions.append(.observe(.viewChangeStarted(view: view + 1)))
        broadcastTimeout(of: view, &actions)  // its own copy may complete the TC and move it on
    }

    /// T1: collects signed timeouts for a view; n−f from distinct replicas form a TC, which moves
    /// everyone who sees it to the next view (P3). Each timeout's highQC is learned too.
    mutating func onTimeout(_ m: Timeout, from: Principal, _ actions: inout [ReplicaAction]) {
        guard rules.usesTimeoutCertificates else { return reject(.malformed, from, &actions) }
        guard m.sender < config.n else { return reject(.unknownSender, from, &actions) }
        guard m.highQC.view < m.view else { return reject(.malformed, from, &actions) }
        if let tc = m.highTC, tc.view >= currentView, m.sender != id {
            // P3: the sender's TC moves a replica that missed those timeouts.
            guard tc.isValid(config: config, verifier: verifier) else { return reject(.invalidCertificate, from, &actions) }
            learn(tc, &actions)
        }
        guard m.view >= currentView else {
            // P12 (our TC for its view) or P9 (a newer highQC): a late timeout says the sender is behind.
            guard m.sender != id, m.verify(verifier) else { return }
            if syncIfBehind(m, &actions) { return }
            return helpIfBehind(m.sender, view: m.view, highQCView: m.highQC.view, &actions)
        }
        guard m.view <= currentView + HotStuffLimits.viewWindow else { return reject(.outsideWindow, from, &actions) }
        if let existing = timeoutCollectors[m.view] {
            guard !existing.formed, existing.entries[m.sender] == nil else { return }
        }
        guard m.verify(verifier) else { return reject(.signatureFailure(claimed: m.sender, from: from), from, &actions) }
        guard m.highQC.isValid(config: config, verifier: verifier) else { return reject(.invalidCertificate, from, &actions) }
        if timeoutCollectors[m.view] == nil, timeoutCollectors.count >= HotStuffLimits.collectorsMax {
            guard let furthest = timeoutCollectors.keys.max(), m.view < furthest else { return reject(.outsideWindow, from, &actions) }
            timeoutCollectors[furthest] = nil
        }
        var collector = timeoutCollectors[m.view] ?? TimeoutCollector(n: config.n)
        collector.entries[m.sender] = m.entry
        collector.count += 1
        let complete = collector.count >= quorum
        if complete { collector.formed = true }
        timeoutCollectors[m.view] = collector
        learn(m.highQC, hint: m.sender, &actions)
        if m.sender != id { helpIfBehind(m.sender, view: m.view, highQCView: m.highQC.view, &actions) }
        guard complete else { return joinTimeout(of: m.view, &actions) }
        let tc = TimeoutCertificate(view: m.view, entries: collector.entries.compactMap { $0 })
        learn(tc, &actions)
    }
}
