import BFTCore

/// Chained HotStuff's pacemaker (Yin et al. PODC'19 §4–5, Alg. 5 `onNextSyncView` / `onReceiveNewView`;
/// Specs/HotStuff.md P7–P12): a replica that times out broadcasts ⟨NEW-VIEW, v+1, highQC⟩ and stays;
/// f+1 announcements of a later view make it join (P10), n−f make it enter (P10, P11), and the
/// leader of a view proposes once n−f NEW-VIEWs for it arrived (P7). Views move without certificates.
struct NewViewPacemaker: Pacemaker {
    func onViewTimeout(of view: UInt64, _ r: inout HotStuffReplica, _ actions: inout [ReplicaAction]) {
        // P11: announce (again, if already announced: the earlier copies may have been lost) but
        // stay; P10 enters the view once n−f replicas announced it.
        r.announce(max(view + 1, r.announcedViews[r.id]), &actions)
        if r.config.mutations.contains(.enterViewOnLocalTimeout) { r.enterAnnouncedViewAlone(&actions) }
        r.updateViewTimer(&actions)
    }

    /// An announcement's sender is in a view below m.view, so behind us if m.view ≤ ours.
    func isLate(_ m: NewView, currentView: UInt64) -> Bool { m.view <= currentView }

    func record(_ m: NewView, _ r: inout HotStuffReplica) {
        if m.view > (r.announcements[m.sender]?.view ?? 0) { r.announcements[m.sender] = m }
    }

    func onAnnouncement(_ m: NewView, from: Principal, _ r: inout HotStuffReplica, _ actions: inout [ReplicaAction]) {
        r.followAnnouncedViews(m.sender, view: m.view, &actions)
        r.collectNewView(m, from: from, &actions)
    }

    /// Chained replicas never send TIMEOUTs.
    func onTimeout(_ m: Timeout, from: Principal, _ r: inout HotStuffReplica, _ actions: inout [ReplicaAction]) {
        r.reject(.malformed, from, &actions)
    }

    func onForwarded(_ announcements: [NewView], from: Principal, _ r: inout HotStuffReplica,
                     _ actions: inout [ReplicaAction]) -> Bool {
        for a in announcements where a.sender != r.id { r.onNewView(a, from: from, answering: false, &actions) }
        return true
    }

    /// Chained replicas form no TCs.
    func onSyncedTimeoutCertificate(_ tc: TimeoutCertificate, from: Principal, _ r: inout HotStuffReplica,
                                    _ actions: inout [ReplicaAction]) {
        r.reject(.malformed, from, &actions)
    }

    /// P5: n−f NEW-VIEWs for the current view justify a proposal on the highest QC among them.
    func proposalJustification(_ r: HotStuffReplica) -> TimeoutCertificate?? {
        guard let nv = r.newViewCollectors[r.currentView], nv.count >= r.quorum else { return nil }
        return .some(nil)
    }

    func enteredOnTimeouts(_ r: HotStuffReplica) -> Bool {
        (r.newViewCollectors[r.currentView]?.count ?? 0) >= r.quorum
    }
}

extension HotStuffReplica {
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

    /// P7: the leader of `m.view` counts NEW-VIEWs for it; n−f let it enter the view and propose (P5).
    mutating func collectNewView(_ m: NewView, from: Principal, _ actions: inout [ReplicaAction]) {
        guard config.leader(of: m.view) == id, m.view >= currentView else { return }
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
}
