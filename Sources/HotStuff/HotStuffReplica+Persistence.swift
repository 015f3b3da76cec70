import BFTCore

/// Durable state (Specs/HotStuff.md R1–R3).
extension HotStuffReplica {
    static let safetyKey = "hotstuff/safety"
    static let committedKey = "hotstuff/committed"

    /// R1: last voted view, locked QC and highest QC, emitted in the same batch as — and before — the
    /// vote or timeout that depends on them, and whenever the lock advances (the shell makes persists
    /// durable before sends and promise observations).
    mutating func persistSafetyState(_ actions: inout [ReplicaAction]) {
        if config.mutations.contains(.sendVoteBeforePersist) && !safetyPersistDeferred {
            safetyPersistDeferred = true
            return
        }
        safetyPersistDeferred = false
        writeSafetyState(&actions)
    }

    /// R1's record as it stands. The lock path calls this directly: `sendVoteBeforePersist` defers the
    /// vote's persist only, and the record written here carries whatever the replica has already
    /// promised.
    func writeSafetyState(_ actions: inout [ReplicaAction]) {
        var w = ByteWriter(capacity: 256)
        w.u64(lastVotedView)
        lockedQC.encode(into: &w)
        highQC.encode(into: &w)
        actions.append(.persist(key: Self.safetyKey, bytes: w.bytes))
    }

    static func commitLogKey(_ height: UInt64) -> String { "hotstuff/log/\(height % commitLogSlots)" }

    /// R2 (log): each committed block, so recovery can replay what follows the last snapshot.
    func persistCommittedBlock(_ block: Block, _ actions: inout [ReplicaAction]) {
        var w = ByteWriter(capacity: 512)
        block.encode(into: &w)
        actions.append(.persist(key: Self.commitLogKey(block.height), bytes: w.bytes))
    }

    /// R2 (snapshot): the committed frontier block, the key-value store and the client table, every
    /// `snapshotInterval` heights. Together with the block log (at most `snapshotInterval` <
    /// `commitLogSlots` blocks since the snapshot) a recovered replica rebuilds exactly the state it had
    /// committed, so it neither re-executes nor forgets replies, and each commit costs O(block), not
    /// O(state).
    func persistCommittedState(_ actions: inout [ReplicaAction]) {
        var w = ByteWriter(capacity: 1024 + store.snapshotByteCount + clientTable.count * 64)
        tree.committed.encode(into: &w)
        // `lengthPrefixed(store.snapshot())` without building the snapshot separately.
        w.u32(UInt32(store.snapshotByteCount))
        store.appendSnapshot(to: &w)
        let clients = clientTable.sortedClients
        w.u32(UInt32(clients.count))
        for c in clients {
            let record = clientTable[c]!
            w.u32(UInt32(c))
            w.u64(record.timestamp)
            w.u64(record.view)
            w.lengthPrefixed(record.result)
        }
        actions.append(.persist(key: Self.committedKey, bytes: w.bytes))
    }

    /// R3: restores what was durable. Undecodable records are ignored (the replica starts from
    /// genesis for that part), never trapped on.
    mutating func restore(from durable: [String: [UInt8]]) {
        if let bytes = durable[Self.safetyKey] {
            var r = ByteReader(bytes)
            if let voted = try? r.u64("last voted view"),
               let locked = try? QuorumCertificate.decode(from: &r),
               let high = try? QuorumCertificate.decode(from: &r) {
                lastVotedView = voted
                lockedQC = locked
                highQC = high
            }
        }
        var frontier = Block.genesis
        if let bytes = durable[Self.committedKey], let restored = try? Self.decodeCommitted(bytes) {
            frontier = restored.block
            store = restored.store
            clientTable = restored.clients
        }
        lastSnapshotHeight = frontier.height
        // Replay the logged blocks above the snapshot, silently: their effects were already observed
        // and replied to before the crash.
        while let bytes = durable[Self.commitLogKey(frontier.height + 1)] {
            var r = ByteReader(bytes)
            guard let block = try? Block.decode(from: &r), r.isAtEnd,
                  block.height == frontier.height + 1, block.parent == frontier.digest else { break }
            for request in block.requests where !isExecuted(request) {
                let result = store.execute(request)
                clientTable[request.client] = ClientRecord(timestamp: request.timestamp, view: block.view, result: result)
            }
            frontier = block
        }
        if frontier.height > 0 {
            tree = BlockTree(root: frontier)
            certifiedSeen = [frontier.digest]
        }
    }

    private static func decodeCommitted(_ bytes: [UInt8]) throws(DecodeError) -> (block: Block, store: KeyValueStore, clients: ClientTable<ClientRecord>) {
        var r = ByteReader(bytes)
        let block = try Block.decode(from: &r)
        let store = try KeyValueStore(snapshot: try r.lengthPrefixed("kv snapshot", max: 1 << 30))
        let count = try r.count("client records", max: 1 << 20, minElementSize: 24)
        var clients = ClientTable<ClientRecord>()
        for _ in 0..<count {
            let c = Int(try r.u32("client"))
            clients[c] = ClientRecord(timestamp: try r.u64("timestamp"), view: try r.u64("view"),
                                      result: try r.lengthPrefixed("result", max: ClientReply.resultSizeMax))
        }
        try r.expectEnd()
        return (block, store, clients)
    }
}
