import BFTCore

extension HotStuffReplica {
    /// S1: asks a peer (the hint, else the next replica) for a block referenced by a verified QC or by
    /// a proposal's parent, and its ancestors above the committed height. Bounded by `fetchesMax`.
    mutating func fetch(_ digest: Digest, hint: ReplicaID?, _ actions: inout [ReplicaAction]) {
        guard !tree.contains(digest), orphans[digest] == nil, fetches[digest] == nil else { return }
        guard fetches.count < HotStuffLimits.fetchesMax else { return }
        let peer = hint.flatMap { $0 == id ? nil : $0 } ?? nextPeer(after: id)
        fetches[digest] = Fetch(peer: peer, attempts: 1)
        actions.append(.send(BlockRequest(block: digest, stopHeight: tree.committed.height).bytes, to: .replica(peer)))
        if !fetchTimerArmed {
            fetchTimerArmed = true
            actions.append(.setTimer(Self.fetchTimer, after: config.viewTimeout))
        }
    }

    private func nextPeer(after r: ReplicaID) -> ReplicaID {
        var p = (r + 1) % config.n
        if p == id { p = (p + 1) % config.n }
        return p
    }

    /// S4: unanswered fetches go to the next peer; a fetch is abandoned after two rounds of all peers.
    mutating func onFetchTimeout(_ actions: inout [ReplicaAction]) {
        fetchTimerArmed = false
        for digest in fetches.keys.sorted() {
            guard var f = fetches[digest] else { continue }
            f.attempts += 1
            guard f.attempts <= 2 * config.n else {
                fetches[digest] = nil
                continue
            }
            f.peer = nextPeer(after: f.peer)
            fetches[digest] = f
            actions.append(.send(BlockRequest(block: digest, stopHeight: tree.committed.height).bytes, to: .replica(f.peer)))
        }
        if !fetches.isEmpty {
            fetchTimerArmed = true
            actions.append(.setTimer(Self.fetchTimer, after: config.viewTimeout))
        }
    }

    /// S2 (serving): the requested block and up to `blocksPerResponseMax − 1` ancestors above the
    /// requester's committed height, newest first.
    mutating func onBlockRequest(_ m: BlockRequest, from: Principal, _ actions: inout [ReplicaAction]) {
        guard let r = from.replicaID, r < config.n, r != id else { return reject(.unknownSender, from, &actions) }
        let blocks = tree.ancestry(from: m.block, above: m.stopHeight, max: HotStuffLimits.blocksPerResponseMax)
        guard !blocks.isEmpty else { return }
        actions.append(.send(BlockResponse(blocks: blocks).bytes, to: from))
    }

    /// S2 (receiving): accepts only an answer to an outstanding fetch whose blocks are hash-linked
    /// from the requested digest down; S3: connects them to the tree oldest first (B2), fetching
    /// further ancestors if needed, then re-applies the highest QC and retries parked proposals.
    mutating func onBlockResponse(_ m: BlockResponse, from: Principal, _ actions: inout [ReplicaAction]) {
        guard let first = m.blocks.first else { return }
        guard fetches[first.digest] != nil else { return reject(.stale, from, &actions) }
        for (upper, lower) in zip(m.blocks, m.blocks.dropFirst()) {
            guard lower.digest == upper.parent, lower.height + 1 == upper.height else {
                return reject(.digestMismatch, from, &actions)
            }
        }
        guard m.blocks.allSatisfy(\.isWellFormed) else { return reject(.malformed, from, &actions) }
        fetches[first.digest] = nil
        for b in m.blocks where b.height > tree.committed.height && !tree.contains(b.digest) {
            guard orphans.count < HotStuffLimits.orphansMax else { break }
            orphans[b.digest] = b
        }
        let inserted = connectOrphans(&actions)
        if let lowest = m.blocks.last, !tree.contains(lowest.parent), orphans[lowest.parent] == nil,
           lowest.height > tree.committed.height + 1 {
            fetch(lowest.parent, hint: from.replicaID, &actions)
        }
        guard inserted else { return }
        if tree.contains(highQC.block) { apply(highQC, &actions) }
        let parked = parkedProposals
        parkedProposals.removeAll()
        for p in parked { onProposal(p, from: .replica(p.block.proposer), &actions) }
        updateViewTimer(&actions)
        tryPropose(&actions)
    }

    /// Inserts every orphan whose parent is stored, lowest height first, until none connects.
    private mutating func connectOrphans(_ actions: inout [ReplicaAction]) -> Bool {
        var insertedAny = false
        while true {
            let ready = orphans.values.filter { tree.contains($0.parent) }
                .sorted { ($0.height, $0.digest) < ($1.height, $1.digest) }
            guard !ready.isEmpty else { return insertedAny }
            for b in ready {
                orphans[b.digest] = nil
                let before = tree.count
                insert(b, &actions)
                if tree.count > before { insertedAny = true }
            }
        }
    }
}
