import BFTCore

/// Durable state (Specs/HotStuff.md R1–R3).
extension HotStuffReplica {
    static let safetyKey = "hotstuff/safety"
    static let committedKey = "hotstuff/committed"

    /// R1: last voted view, locked QC and highest QC, emitted in the same batch as — and before — the
    /// vote or timeout that depends on them (the shell makes persists durable before sends).
    mutating func persistSafetyState(_ actions: inout [ReplicaAction]) {
        if config.mutations.contains(.sendVoteBeforePersist) && !safetyPersistDeferred {
            safetyPersistDeferred = true
            return
        }
        safetyPersistDeferred = false
        var w = ByteWriter(capacity: 256)
        w.u64(lastVotedView)
        lockedQC.encode(into: &w)
        highQC.encode(into: &w)
        actions.append(.persist(key: Self.safetyKey, bytes: w.bytes))
    }

    /// R2: the committed frontier block, the key-value store and the client table, after each commit,
    /// so a recovered replica neither re-executes nor forgets replies.
    func persistCommittedState(_ actions: inout [ReplicaAction]) {
        var w = ByteWriter(capacity: 1024)
        tree.committed.encode(into: &w)
        w.lengthPrefixed(store.snapshot())
        let clients = clientTable.keys.sorted()
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
        if let bytes = durable[Self.committedKey], let restored = try? Self.decodeCommitted(bytes) {
            tree = BlockTree(root: restored.block)
            store = restored.store
            clientTable = restored.clients
            certifiedSeen = [restored.block.digest]
        }
    }

    private static func decodeCommitted(_ bytes: [UInt8]) throws(DecodeError) -> (block: Block, store: KeyValueStore, clients: [ClientID: ClientRecord]) {
        var r = ByteReader(bytes)
        let block = try Block.decode(from: &r)
        let store = try KeyValueStore(snapshot: try r.lengthPrefixed("kv snapshot", max: 1 << 30))
        let count = try r.count("client records", max: 1 << 20, minElementSize: 24)
        var clients: [ClientID: ClientRecord] = [:]
        for _ in 0..<count {
            let c = Int(try r.u32("client"))
            clients[c] = ClientRecord(timestamp: try r.u64("timestamp"), view: try r.u64("view"),
                                      result: try r.lengthPrefixed("result", max: ClientReply.resultSizeMax))
        }
        try r.expectEnd()
        return (block, store, clients)
    }
}
