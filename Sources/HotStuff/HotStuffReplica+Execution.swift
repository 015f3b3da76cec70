import BFTCore

extension HotStuffReplica {
    // MARK: Client requests (E3, E4)

    /// E4: a verified request joins the bounded mempool unless already executed; a retransmission of
    /// the last executed request gets the cached reply again (E3).
    mutating func onClientRequest(_ request: ClientRequest, from: Principal, _ actions: inout [ReplicaAction]) {
        guard request.verify(verifier) else { return reject(.badSignature, from, &actions) }
        if let record = clientTable[request.client] {
            if request.timestamp == record.timestamp {
                sendReply(client: request.client, record: record, &actions)
                return
            }
            guard request.timestamp > record.timestamp else { return reject(.stale, from, &actions) }
        }
        guard mempool.insert(request) else {
            if !mempool.contains(request.id) { reject(.outsideWindow, from, &actions) }
            return
        }
        updateViewTimer(&actions)
        tryPropose(&actions)
    }

    func isExecuted(_ request: ClientRequest) -> Bool {
        guard let record = clientTable[request.client] else { return false }
        return request.timestamp <= record.timestamp
    }

    // MARK: Execution (E1, E2)

    /// E1: reports the committed block, then executes its requests in order on the key-value store;
    /// E2: a request whose client timestamp is not newer than the client's last executed one is
    /// skipped (exactly once). Every replica signs and sends the reply.
    mutating func execute(_ block: Block, _ actions: inout [ReplicaAction]) {
        actions.append(.observe(.blockCommitted(height: block.height, digest: block.digest, parent: block.parent)))
        actions.append(.observe(.committed(sequence: block.height, view: block.view, digest: block.digest,
                                           requestCount: block.requests.count)))
        let digests = block.requestDigests
        for (index, request) in block.requests.enumerated() {
            mempool.remove(request.id)
            guard !isExecuted(request) || config.mutations.contains(.executeTwice) else { continue }
            let result = store.execute(request)
            let record = ClientRecord(timestamp: request.timestamp, view: block.view, result: result)
            clientTable[request.client] = record
            actions.append(.observe(.executed(sequence: block.height, index: index, request: request.id,
                                              requestDigest: digests[index], result: Digest.fingerprint(ofResult: result))))
            sendReply(client: request.client, record: record, &actions)
        }
    }

    private func sendReply(client: ClientID, record: ClientRecord, _ actions: inout [ReplicaAction]) {
        let reply = ClientReply(view: record.view, client: client, timestamp: record.timestamp, result: record.result, signer: signer)
        actions.append(.send(reply.bytes, to: .client(client)))
    }
}

/// Verified requests waiting to be ordered, in arrival order, bounded by `capacity`.
struct Mempool {
    let capacity: Int
    private var order: [RequestID] = []
    private var requests: [RequestID: ClientRequest] = [:]

    init(capacity: Int) { self.capacity = capacity }

    /// The waiting requests in arrival order, by their signed bytes (`bftsim explore`).
    func fingerprint(into h: inout StateHasher) {
        let waiting = order.compactMap { requests[$0] }
        h.int(waiting.count)
        for r in waiting { h.bytes(r.bytes) }
    }

    var count: Int { requests.count }
    var isEmpty: Bool { requests.isEmpty }
    func contains(_ id: RequestID) -> Bool { requests[id] != nil }

    /// Adds a request; false if it is already present or the pool is full.
    mutating func insert(_ r: ClientRequest) -> Bool {
        guard requests[r.id] == nil, requests.count < capacity else { return false }
        requests[r.id] = r
        order.append(r.id)
        return true
    }

    mutating func remove(_ id: RequestID) {
        guard requests.removeValue(forKey: id) != nil else { return }
        if order.count > 2 * requests.count + 64 { order.removeAll { requests[$0] == nil } }
    }

    /// Up to `max` requests in arrival order that satisfy `include`.
    func batch(max: Int, where include: (ClientRequest) -> Bool) -> [ClientRequest] {
        var out: [ClientRequest] = []
        for id in order {
            guard out.count < max else { break }
            guard let r = requests[id], include(r) else { continue }
            out.append(r)
        }
        return out
    }
}
