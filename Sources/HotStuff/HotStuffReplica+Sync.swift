import BFTCore

extension HotStuffReplica {
    // MARK: Sync info (P12)

    /// P12 (sync info; DiemBFT v4 / Jolteon `SyncInfo`): a TIMEOUT for a view this replica already
    /// left through a TC means its sender lacks that TC; answer with ⟨SYNC, highQC, highTC⟩ so it moves
    /// on (T2, P3). Without this, an idle replica whose joined TIMEOUT (T4) completed a TC only it holds
    /// — every copy of that TIMEOUT lost — leaves the others repeating TIMEOUTs for the old view forever.
    /// Answered only when the sender is behind (its view below ours, its carried TC below ours), with a
    /// message that is never answered, one SYNC per late TIMEOUT received: no ping-pong, no
    /// amplification, and a lost answer is retried on the sender's next repeat (P4).
    /// Returns whether it answered (the SYNC carries our highQC too, so P9 need not).
    mutating func syncIfBehind(_ m: Timeout, _ actions: inout [ReplicaAction]) -> Bool {
        precondition(m.view < currentView, "P12 answers only TIMEOUTs for views already left")
        guard !config.mutations.contains(.noSyncAnswer) else { return false }
        guard let tc = highTC, tc.view >= m.view else { return false }
        guard (m.highTC?.view ?? 0) < tc.view else { return false }
        actions.append(.send(HotStuffMessage.syncInfo(SyncInfo(highQC: highQC, highTC: tc)).bytes, to: .replica(m.sender)))
        return true
    }

    /// P12, chained: a NEW-VIEW for a view this replica already entered means its sender has not; answer
    /// with ⟨SYNC, highQC, announcements⟩ carrying the signed NEW-VIEWs it holds for that view or later
    /// (other than the sender's), so the sender counts the n−f announcements that let this replica in
    /// (P10). Without this, a replica whose joined NEW-VIEW let it enter alone (P11) and was then lost
    /// everywhere, and which is idle, leaves the others repeating that announcement forever.
    /// Returns whether it answered. Only NEW-VIEWs a pacemaker calls late get here (`Pacemaker.isLate`).
    mutating func syncIfBehind(_ m: NewView, _ actions: inout [ReplicaAction]) -> Bool {
        guard !config.mutations.contains(.noSyncAnswer) else { return false }
        let forwarded = announcements.compactMap { $0 }.filter { $0.view >= m.view && $0.sender != m.sender }
        guard !forwarded.isEmpty else { return false }
        let sync = SyncInfo(highQC: highQC, highTC: nil, announcements: forwarded)
        actions.append(.send(HotStuffMessage.syncInfo(sync).bytes, to: .replica(m.sender)))
        return true
    }

    /// P12: learns the certificates of a SYNC (P3, T2), verifying only those that would move this
    /// replica, and handles its forwarded announcements as NEW-VIEWs (P10) without answering them.
    /// Never answered.
    mutating func onSyncInfo(_ m: SyncInfo, from: Principal, _ actions: inout [ReplicaAction]) {
        let hint: ReplicaID? = if case .replica(let r) = from, r < config.n { r } else { nil }
        if m.highQC.view > highQC.view || m.highQC.view >= currentView {
            guard m.highQC.isValid(config: config, verifier: verifier) else { return reject(.invalidCertificate, from, &actions) }
            learn(m.highQC, hint: hint, &actions)
        }
        let pacemaker = self.pacemaker
        if !m.announcements.isEmpty {
            guard pacemaker.onForwarded(m.announcements, from: from, &self, &actions) else { return }
        }
        guard let tc = m.highTC else { return }
        pacemaker.onSyncedTimeoutCertificate(tc, from: from, &self, &actions)
    }
}
