import BFTCore

/// Request records by request id, without a per-request hash table entry.
///
/// Same contents as a `[RequestID: RequestRecord]`. Why not that dictionary: a run keeps every request
/// of the retention window, and the dictionary's doublings (rehashing ~200-byte entries into freshly
/// faulted pages) were most of the checkers' time in a benchmark run. Here a client's requests are
/// found by timestamp in a per-client array of slot numbers (clients issue increasing timestamps, see
/// `Client`), and the records live in fixed-size chunks that are allocated once and never moved.
/// Requests that do not fit that shape (a client id of `denseClientMax` or more, a timestamp below the
/// client's trimmed prefix or far beyond its last one) go to a side dictionary; a lookup checks both,
/// so a request is found wherever it was put. Freed slots are reused. Nothing iterates a hash table to
/// decide a verdict (`entries` is only read where callers sort or count).
struct RequestTable {
    static let denseClientMax = 1 << 16
    /// Furthest a timestamp may lie beyond a client's array and still extend it.
    static let denseStrideMax: UInt64 = 1 << 12
    static let chunkShift = 10
    static let chunkSize = 1 << chunkShift

    /// Slot numbers of one client's requests by timestamp: `slots[t - base]`, -1 where there is none.
    struct ClientSlots {
        var base: UInt64 = 0
        var slots: [Int32] = []
        /// Slots in use (when it drops to zero the array is emptied, so memory follows live requests).
        var live = 0

        /// Clears one entry and drops the empty prefix (timestamps retire roughly in order).
        mutating func clear(at offset: Int) {
            slots[offset] = -1
            live -= 1
            if live == 0 {
                slots.removeAll(keepingCapacity: true)
                return
            }
            var head = 0
            while slots[head] < 0 { head += 1 }  // live > 0: some entry is set
            if head >= 64, head * 2 >= slots.count {
                slots.removeFirst(head)
                base += UInt64(head)
            }
        }
    }

    private var clients: [ClientSlots] = []
    private var others: [RequestID: Int32] = [:]
    private var chunks: [[RequestRecord]] = []
    private var used = 0
    private var freeSlots: [Int32] = []
    private(set) var count = 0

    /// Slot of a request's record, or nil when there is none.
    func slot(of q: RequestID) -> Int? {
        if q.client >= 0, q.client < clients.count {
            let c = clients[q.client]
            if q.timestamp >= c.base, q.timestamp - c.base < UInt64(c.slots.count) {
                let s = c.slots[Int(q.timestamp - c.base)]
                if s >= 0 { return Int(s) }
            }
        }
        if others.isEmpty { return nil }
        return others[q].map { Int($0) }
    }

    subscript(q: RequestID) -> RequestRecord? {
        guard let i = slot(of: q) else { return nil }
        return self[slot: i]
    }

    /// The record in `slot` (from `slot(of:)`), read or updated in place.
    subscript(slot slot: Int) -> RequestRecord {
        get { chunks[slot >> RequestTable.chunkShift][slot & (RequestTable.chunkSize - 1)] }
        _modify { yield &chunks[slot >> RequestTable.chunkShift][slot & (RequestTable.chunkSize - 1)] }
    }

    /// Adds a record for a request that has none.
    mutating func insert(_ q: RequestID, _ record: RequestRecord) {
        precondition(slot(of: q) == nil, "request \(q) already has a record")
        let slot: Int32
        if let free = freeSlots.popLast() {
            slot = free
            self[slot: Int(slot)] = record
        } else {
            precondition(used < Int(Int32.max), "request table full")
            if used >> RequestTable.chunkShift == chunks.count {
                var chunk: [RequestRecord] = []
                chunk.reserveCapacity(RequestTable.chunkSize)
                chunks.append(chunk)
            }
            chunks[used >> RequestTable.chunkShift].append(record)
            slot = Int32(used)
            used += 1
        }
        count += 1
        if !placeDense(q, slot) { others[q] = slot }
    }

    /// Puts a slot number in the client's array when the request fits it; false when it does not.
    private mutating func placeDense(_ q: RequestID, _ slot: Int32) -> Bool {
        guard q.client >= 0, q.client < RequestTable.denseClientMax else { return false }
        if q.client >= clients.count {
            clients.append(contentsOf: repeatElement(ClientSlots(), count: q.client + 1 - clients.count))
        }
        if clients[q.client].live == 0 {
            clients[q.client].slots.removeAll(keepingCapacity: true)
            clients[q.client].base = q.timestamp
        }
        let base = clients[q.client].base
        guard q.timestamp >= base else { return false }
        let offset = q.timestamp - base
        let size = UInt64(clients[q.client].slots.count)
        if offset >= size {
            guard offset - size < RequestTable.denseStrideMax else { return false }
            clients[q.client].slots.append(contentsOf: repeatElement(-1, count: Int(offset - size) + 1))
        }
        clients[q.client].slots[Int(offset)] = slot
        clients[q.client].live += 1
        return true
    }

    mutating func remove(_ q: RequestID) {
        guard let slot = slot(of: q) else { return }
        if others.isEmpty || others.removeValue(forKey: q) == nil {
            clients[q.client].clear(at: Int(q.timestamp - clients[q.client].base))
        }
        self[slot: slot] = RequestRecord(digest: .zero, issueTime: 0)
        freeSlots.append(Int32(slot))
        count -= 1
    }

    /// Ids and records in unspecified order: callers sort, or only count.
    var entries: [(id: RequestID, record: RequestRecord)] {
        var out: [(id: RequestID, record: RequestRecord)] = []
        out.reserveCapacity(count)
        for (client, c) in clients.enumerated() {
            for (offset, s) in c.slots.enumerated() where s >= 0 {
                out.append((RequestID(client: client, timestamp: c.base + UInt64(offset)), self[slot: Int(s)]))
            }
        }
        for (q, s) in others { out.append((q, self[slot: Int(s)])) }
        return out
    }
}

/// First correct executions by position, stored per sequence in an array indexed by batch position.
///
/// Same contents as a `[Position: ExecutionEntry]`, with one small hash table entry per sequence
/// instead of one large entry per executed request (the per-request table's growth dominated the
/// checkers' cost). Indices outside `0..<denseIndexMax` (only a faulty replica reports them) go to a
/// side table so a wild index cannot make an array huge.
struct PositionTable {
    static let denseIndexMax = 1 << 12
    private var bySequence: [UInt64: [ExecutionEntry?]] = [:]
    private var outliers: [Position: ExecutionEntry] = [:]
    /// Number of positions with an entry.
    private(set) var count = 0

    subscript(p: Position) -> ExecutionEntry? {
        guard p.index >= 0, p.index < PositionTable.denseIndexMax else { return outliers[p] }
        guard let row = bySequence[p.sequence], p.index < row.count else { return nil }
        return row[p.index]
    }

    /// Stores the first execution at `p`; `p` must have none.
    mutating func insert(_ entry: ExecutionEntry, at p: Position) {
        count += 1
        guard p.index >= 0, p.index < PositionTable.denseIndexMax else {
            precondition(outliers.updateValue(entry, forKey: p) == nil, "position \(p) already has an entry")
            return
        }
        // In place through the default: one hash lookup, no copy of the row.
        ExecutionEntry.store(entry, at: p.index, in: &bySequence[p.sequence, default: []])
    }

    /// Keeps the positions whose sequence is at least `floor`.
    mutating func removeAll(below floor: UInt64) {
        bySequence = bySequence.filter { $0.key >= floor }
        outliers = outliers.filter { $0.key.sequence >= floor }
        count = outliers.count + bySequence.values.reduce(0) { total, row in total + row.reduce(0) { $0 + ($1 == nil ? 0 : 1) } }
    }
}

extension ExecutionEntry {
    static func store(_ entry: ExecutionEntry, at index: Int, in row: inout [ExecutionEntry?]) {
        if row.count <= index { row.append(contentsOf: repeatElement(nil, count: index + 1 - row.count)) }
        if case .some = row[index] { preconditionFailure("position already has an entry") }
        row[index] = entry
    }
}
