import BFTCore

/// Two-chain HotStuff's pacemaker (Gelashvili et al., Jolteon FC'22 §4; DiemBFT v4 `RoundState`;
/// Specs/HotStuff.md T1–T4): a replica that times out broadcasts ⟨TIMEOUT, v, highQC, highTC⟩;
/// n−f TIMEOUTs for a view form a timeout certificate (TC) that moves every replica that sees it to
/// the next view (P3), f+1 make a replica time out too (T4), and a leader whose highQC is older than
/// the previous view proposes with that view's TC (T3). NEW-VIEWs arrive only as P9 answers.
struct TimeoutCertificatePacemaker: Pacemaker {
    func onViewTimeout(of view: UInt64, _ r: inout HotStuffReplica, _ actions: inout [ReplicaAction]) {
        // Re-arm first: the local TC (if this completes one) enters the next view and re-arms again.
        r.viewTimerArmed = true
        actions.append(.setTimer(HotStuffReplica.viewTimer, after: r.viewTimeoutDuration))
        r.broadcastTimeout(of: view, &actions)
    }

    /// NEW-VIEWs here are P9 answers, not announcements: none is late.
    func isLate(_ m: NewView, currentView: UInt64) -> Bool { false }

    func record(_ m: NewView, _ r: inout HotStuffReplica) {}

    func onAnnouncement(_ m: NewView, from: Principal, _ r: inout HotStuffReplica, _ actions: inout [ReplicaAction]) {}

    func onTimeout(_ m: Timeout, from: Principal, _ r: inout HotStuffReplica, _ actions: inout [ReplicaAction]) {
        r.collectTimeout(m, from: from, &actions)
    }

    /// Two-chain replicas announce by TIMEOUT: a SYNC forwarding NEW-VIEWs is malformed.
    func onForwarded(_ announcements: [NewView], from: Principal, _ r: inout HotStuffReplica,
                     _ actions: inout [ReplicaAction]) -> Bool {
        r.reject(.malformed, from, &actions)
        return false
    }

    func onSyncedTimeoutCertificate(_ tc: TimeoutCertificate, from: Principal, _ r: inout HotStuffReplica,
                                    _ actions: inout [ReplicaAction]) {
        guard tc.view >= r.currentView || tc.view > (r.highTC?.view ?? 0) else { return }
        guard tc.isValid(config: r.config, verifier: r.verifier) else { return r.reject(.invalidCertificate, from, &actions) }
        r.learn(tc, &actions)
    }

    /// T3: a TC of the previous view whose signers reported no QC above the leader's highQC.
    func proposalJustification(_ r: HotStuffReplica) -> TimeoutCertificate?? {
        guard let tc = r.highTC, tc.view + 1 == r.currentView, r.highQC.view >= tc.highQCViewMax else { return nil }
        return .some(tc)
    }

    func enteredOnTimeouts(_ r: HotStuffReplica) -> Bool {
        r.highTC.map { $0.view + 1 == r.currentView } ?? false
    }
}

extension HotStuffReplica {
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
    mutating func collectTimeout(_ m: Timeout, from: Principal, _ actions: inout [ReplicaAction]) {
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
    }}
