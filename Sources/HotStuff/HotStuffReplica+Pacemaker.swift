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
        return tree.uncommittedChainHasRequests(to: highQC.block) ?? false
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
        let pacemaker = self.pacemaker
        pacemaker.onViewTimeout(of: view, &self, &actions)
    }

    // MARK: NEW-VIEW (P5, P7, P9)

    /// Alg. 5 `onReceiveNewView`: learn the sender's highQC (and its last vote, P8); announcements of
    /// later views are amplified and, from n−f replicas, entered (P10, P11); n−f NEW-VIEWs for a view
    /// let its leader enter it (P7) and propose on the highest QC among them (P5). Chained replicas
    /// broadcast NEW-VIEW so every replica sees the announcements; two-chain replicas receive
    /// NEW-VIEWs only as P9 sync answers.
    /// `answering` is false for announcements forwarded in a SYNC (P12), which are never answered.
    mutating func onNewView(_ m: NewView, from: Principal, answering: Bool = true, _ actions: inout [ReplicaAction]) {
        let pacemaker = self.pacemaker
        let late = pacemaker.isLate(m, currentView: currentView)
        guard m.sender < config.n else { return reject(.unknownSender, from, &actions) }
        guard m.view > 0, m.highQC.view < m.view else { return reject(.malformed, from, &actions) }
        guard m.view <= currentView + HotStuffLimits.viewWindow else { return reject(.outsideWindow, from, &actions) }
        guard m.verify(verifier) else { return reject(.signatureFailure(claimed: m.sender, from: from), from, &actions) }
        guard m.highQC.isValid(config: config, verifier: verifier) else { return reject(.invalidCertificate, from, &actions) }
        pacemaker.record(m, &self)
        learn(m.highQC, hint: m.sender, &actions)
        if let vote = m.lastVote { onVote(vote, from: from, &actions) }
        if answering, m.sender != id {
            // P12 (the announcements that moved us, with our highQC) or P9 (a newer highQC).
            if !(late && syncIfBehind(m, &actions)) { helpIfBehind(m.sender, view: m.view, highQCView: m.highQC.view, &actions) }
        }
        pacemaker.onAnnouncement(m, from: from, &self, &actions)
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

    /// T1: a TIMEOUT, handled by the pacemaker that uses them (the other rejects it as malformed).
    mutating func onTimeout(_ m: Timeout, from: Principal, _ actions: inout [ReplicaAction]) {
        let pacemaker = self.pacemaker
        pacemaker.onTimeout(m, from: from, &self, &actions)
    }
}
