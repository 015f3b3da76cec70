import BFTCore

extension HotStuffReplica {
    // MARK: Proposing (P5)

    /// P5: the leader of the current view proposes once, on its highest QC, when it holds a QC of the
    /// previous view, n−f NEW-VIEWs for this view (chained) or a TC of the previous view (two-chain),
    /// and there is work: requests to order, uncommitted requests that need more certified blocks,
    /// requests its highQC's chain does not yet commit for those who hold only that chain, or others'
    /// work, which a view entered on timeouts proves (`enteredOnTimeouts`).
    mutating func tryPropose(_ actions: inout [ReplicaAction]) {
        guard config.leader(of: currentView) == id, proposedView < currentView else { return }
        guard let justification = proposalJustification() else { return }
        guard let parent = tree.block(highQC.block) else {
            fetch(highQC.block, hint: nil, &actions)
            return
        }
        guard tree.count < config.blockRetention + HotStuffLimits.uncommittedBlocksMax else { return }
        let inChain = Set((tree.uncommittedChain(to: parent.digest) ?? []).flatMap { $0.requests.map(\.id) })
        let batch = mempool.batch(max: config.batchSizeMax) { request in
            !inChain.contains(request.id) && !isExecuted(request)
        }
        guard !batch.isEmpty || hasPendingRequests(above: parent.digest) || (commitQCView > 0 && highQC.view == commitQCView)
              || enteredOnTimeouts || chainLeavesRequestsUncommitted(certifiedBy: highQC) else { return }
        proposedView = currentView
        let block = Block(view: currentView, parentHeight: parent.height, proposer: id, justify: highQC, requests: batch)
        let proposal = Proposal(block: block, timeoutCertificate: justification, signer: signer)
        actions.append(.broadcast(proposal.bytes))
        onProposal(proposal, from: principal, &actions)
    }

    /// The certificate that lets the leader propose in the current view: `.some(nil)` for a QC of the
    /// previous view or (chained) n−f NEW-VIEWs, `.some(tc)` for a TC of the previous view, nil if not ready.
    private func proposalJustification() -> TimeoutCertificate?? {
        if highQC.view + 1 == currentView { return .some(nil) }
        return pacemaker.proposalJustification(self)
    }

    /// P5: the current view was entered on others' timeouts — (chained) n−f NEW-VIEWs for it, or
    /// (two-chain) a TC of the previous view. These trace back to a correct replica whose own timer
    /// fired (P10 and T4 join only after f+1 announced, P9 answers an announcement), and a timer runs
    /// only while its replica has work (P2), so someone waits even if this leader sees nothing to do:
    /// it may have committed by a QC the others lack. Without this its view passes empty and, with the
    /// leader before it crashed, three consecutive certified views (H-C1c) may never form.
    var enteredOnTimeouts: Bool {
        pacemaker.enteredOnTimeouts(self)
    }

    /// Whether requests above the committed block, or within the last `commitChainLength` blocks
    /// ending at `head`, still need certified descendants to commit (or to tell others they did).
    func hasPendingRequests(above head: Digest) -> Bool {
        if tree.uncommittedChainHasRequests(to: head) == true { return true }
        var cursor = tree.block(head)
        for _ in 0..<rules.commitChainLength {
            guard let b = cursor else { break }
            if !b.requests.isEmpty { return true }
            cursor = tree.block(b.parent)
        }
        return false
    }

    /// P5: whether the chain certified by `qc` carries requests that its own certificates do not
    /// commit (H-C1 applied to `qc` and to each block's `justify` down the chain). Whoever holds this
    /// chain and no other certificate has not committed them, even if this replica has — by a QC of
    /// a block on an abandoned fork, which nobody else may ever learn. Without this, the leader whose
    /// lone commit made it idle never proposes again; if it sits between crashed leaders, three
    /// consecutive certified views (H-C1c) never form for the others.
    func chainLeavesRequestsUncommitted(certifiedBy qc: QuorumCertificate) -> Bool {
        // The highest block the chain's own certificates commit; blocks at the root or below it
        // (pruned, B3) are long committed.
        var frontierHeight = tree.root.height
        var certificate = qc
        while let b = tree.block(certificate.block), b.height > tree.root.height {
            if let candidate = rules.commitCandidate(certificate, tree: tree, mutations: config.mutations) {
                frontierHeight = max(candidate.height, tree.root.height)
                break
            }
            certificate = b.justify
        }
        var cursor = tree.block(qc.block)
        while let b = cursor, b.height > frontierHeight {
            if !b.requests.isEmpty { return true }
            cursor = tree.block(b.parent)
        }
        return false
    }

    // MARK: Receiving a proposal

    /// Alg. 3 `onReceiveProposal`: validate, learn its certificates (P3), store the block (B2) and vote
    /// if H-V1 and the variant's H-V2 allow.
    mutating func onProposal(_ p: Proposal, from: Principal, _ actions: inout [ReplicaAction]) {
        let block = p.block
        guard isFromLeader(block) else { return reject(.wrongView, from, &actions) }
        guard p.verify(verifier) else { return reject(.signatureFailure(claimed: block.proposer, from: from), from, &actions) }
        guard block.isWellFormed, block.requests.count <= config.batchSizeMax else { return reject(.malformed, from, &actions) }
        guard block.justify.isValid(config: config, verifier: verifier) else { return reject(.invalidCertificate, from, &actions) }
        if let tc = p.timeoutCertificate {
            guard tc.view + 1 == block.view, tc.isValid(config: config, verifier: verifier) else {
                return reject(.invalidCertificate, from, &actions)
            }
        }
        guard block.requests.allSatisfy({ $0.verify(verifier) }) else { return reject(.badSignature, from, &actions) }

        learn(block.justify, hint: block.proposer, &actions)
        if let tc = p.timeoutCertificate { learn(tc, &actions) }
        guard block.view >= currentView else { return reject(.stale, from, &actions) }
        guard block.height > tree.committed.height else { return reject(.stale, from, &actions) }
        guard !tree.contains(block.digest) else { return }
        guard let parent = tree.block(block.parent) else {
            park(p)
            fetch(block.parent, hint: block.proposer, &actions)
            return
        }
        guard block.height == parent.height + 1, block.view > parent.view else { return reject(.malformed, from, &actions) }
        guard tree.count < config.blockRetention + HotStuffLimits.uncommittedBlocksMax else { return reject(.outsideWindow, from, &actions) }
        insert(block, &actions)
        tryVote(block, timeoutCertificate: p.timeoutCertificate, from: from, &actions)
    }

    private func isFromLeader(_ block: Block) -> Bool {
        block.proposer < config.n && block.proposer == config.leader(of: block.view)
    }

    /// S3: keeps a proposal whose parent is being fetched; the oldest is dropped when full.
    private mutating func park(_ p: Proposal) {
        if parkedProposals.contains(where: { $0.block.digest == p.block.digest }) { return }
        if parkedProposals.count >= HotStuffLimits.parkedProposalsMax { parkedProposals.removeFirst() }
        parkedProposals.append(p)
    }

    // MARK: Voting (H-V1, H-V2, R1)

    /// H-V1: at most one vote per view, only in views not yet left; H-V2: the variant's safety rule.
    /// The vote goes to the leader of the next view, after the persist of the safety state (R1).
    mutating func tryVote(_ block: Block, timeoutCertificate: TimeoutCertificate?, from: Principal, _ actions: inout [ReplicaAction]) {
        guard block.view > lastVotedView || (config.mutations.contains(.voteTwiceInView) && block.view == lastVotedView) else { return }
        guard block.view >= currentView else { return }
        let safe = config.mutations.contains(.voteWithoutLockCheck)
            || rules.isSafeToVote(block, timeoutCertificate: timeoutCertificate, lockedQC: lockedQC, tree: tree)
        guard safe else { return reject(.conflicting, from, &actions) }
        // P6: a valid proposal for a later view moves this replica there.
        if block.view > currentView { enterView(block.view, &actions) }
        lastVotedView = block.view
        actions.append(.observe(.voted(view: block.view, digest: block.digest)))
        persistSafetyState(&actions)
        let vote = Vote(view: block.view, block: block.digest, signer: signer)
        lastVote = vote
        send(.vote(vote), to: config.leader(of: block.view + 1), &actions)
    }

    // MARK: Collecting votes (H-Q1)

    /// A vote for view v, collected by the leader of v+1 (or, from NEW-VIEWs, a later leader; P8);
    /// n−f distinct valid signatures form a QC. Votes no newer than the highQC are useless and ignored.
    mutating func onVote(_ vote: Vote, from: Principal, _ actions: inout [ReplicaAction]) {
        guard vote.voter < config.n else { return reject(.unknownSender, from, &actions) }
        guard vote.view > highQC.view, vote.view + UInt64(config.f + 2) >= currentView else { return }
        guard vote.view <= currentView + HotStuffLimits.viewWindow else { return reject(.outsideWindow, from, &actions) }
        let key = VoteKey(view: vote.view, block: vote.block)
        if let existing = voteCollectors[key] {
            guard !existing.formed, existing.signatures[vote.voter] == nil else { return }
        }
        guard vote.verify(verifier) else { return reject(.signatureFailure(claimed: vote.voter, from: from), from, &actions) }
        if voteCollectors[key] == nil, voteCollectors.count >= HotStuffLimits.collectorsMax {
            // Full: the collector furthest in the future makes room for a nearer one, so signed
            // votes for far-future views cannot crowd out the votes that matter now.
            guard let furthest = voteCollectors.keys.max(by: { ($0.view, $0.block) < ($1.view, $1.block) }),
                  (key.view, key.block) < (furthest.view, furthest.block) else { return reject(.outsideWindow, from, &actions) }
            voteCollectors[furthest] = nil
        }
        var collector = voteCollectors[key] ?? VoteCollector(n: config.n)
        collector.signatures[vote.voter] = vote.signature
        collector.count += 1
        let complete = collector.count >= quorum
        if complete { collector.formed = true }
        voteCollectors[key] = collector
        guard complete else { return }
        let signatures = collector.signatures.enumerated().compactMap { i, s in s.map { (signer: i, signature: $0) } }
        let qc = QuorumCertificate(view: vote.view, block: vote.block, signatures: signatures)
        learn(qc, hint: vote.voter, &actions)
    }
}
