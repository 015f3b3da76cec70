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
    private var bySequence: SequenceRing<[ExecutionEntry?]>
    private var outliers: [Position: ExecutionEntry] = [:]
    /// Number of positions with an entry.
    private(set) var count = 0

    /// A table for sequences that always lie less than `spanMax` apart (see `SequenceRing`).
    init(spanMax: UInt64) {
        bySequence = SequenceRing(spanMax: spanMax)
    }

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
        // In place: the row is moved out of the ring and back, not copied.
        let i = bySequence.claim(p.sequence)
        var row = bySequence[at: i] ?? []
        bySequence[at: i] = nil
        ExecutionEntry.store(entry, at: p.index, in: &row)
        bySequence[at: i] = row
    }

    /// Keeps the positions whose sequence is at least `floor`.
    mutating func removeAll(below floor: UInt64) {
        bySequence.removeAll(below: floor)
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

/// Per-sequence entries of the checker's retention window, in an array indexed by `sequence mod capacity`.
///
/// Same contents as a `[UInt64: Entry]`. The checker keeps entries only for sequences in
/// `[windowFloor, highestSequence]`, a span below `spanMax` (`noteSequence` prunes before an entry
/// above the window is added), so once the capacity (a power of two) exceeds that span no two live
/// sequences share an index. The ring starts small and doubles when two live sequences collide, up to
/// the first power of two above `spanMax`; `claim` checks the bound with a precondition. A lookup is a
/// mask and a compare, no hashing; pruning is one pass over the ring every quarter window.
struct SequenceRing<Entry> {
    private var sequences: [UInt64] = []
    private var entries: [Entry?] = []
    private var mask: UInt64 = 0
    private let capacityMax: Int
    /// Number of sequences with an entry.
    private(set) var count = 0

    /// A ring for live sequences that always lie less than `spanMax` apart.
    init(spanMax: UInt64) {
        precondition(spanMax >= 1 && spanMax < 1 << 40, "spanMax out of range")
        var c = 1
        while UInt64(c) <= spanMax { c <<= 1 }
        capacityMax = c
    }

    subscript(sequence: UInt64) -> Entry? {
        guard !entries.isEmpty else { return nil }
        let i = Int(truncatingIfNeeded: sequence & mask)
        return sequences[i] == sequence ? entries[i] : nil
    }

    /// Index of the entry for `sequence`, making room for it (the entry stays nil until the caller
    /// stores one through `subscript(at:)`).
    mutating func claim(_ sequence: UInt64) -> Int {
        if entries.isEmpty { resize(to: Swift.min(capacityMax, 256)) }
        while true {
            let i = Int(truncatingIfNeeded: sequence & mask)
            if entries[i] == nil {
                sequences[i] = sequence
                return i
            }
            if sequences[i] == sequence { return i }
            precondition(entries.count < capacityMax, "two live sequences share a ring index: the window bound broke")
            resize(to: entries.count * 2)
        }
    }

    /// The entry at an index from `claim`, read and written in place; storing nil frees it.
    subscript(at i: Int) -> Entry? {
        get { entries[i] }
        set {
            count += (newValue == nil ? 0 : 1) - (entries[i] == nil ? 0 : 1)
            entries[i] = newValue
        }
    }

    /// Entries in unspecified order (callers only count).
    var values: [Entry] { entries.compactMap { $0 } }

    /// Keeps the entries whose sequence is at least `floor`.
    mutating func removeAll(below floor: UInt64) {
        for i in entries.indices where sequences[i] < floor && entries[i] != nil {
            entries[i] = nil
            count -= 1
        }
    }

    private mutating func resize(to capacity: Int) {
        let oldSequences = sequences
        let oldEntries = entries
        sequences = Array(repeating: 0, count: capacity)
        entries = Array(repeating: nil, count: capacity)
        mask = UInt64(capacity - 1)
        count = 0
        for i in oldEntries.indices {
            guard let entry = oldEntries[i] else { continue }
            let j = Int(truncatingIfNeeded: oldSequences[i] & mask)
            precondition(entries[j] == nil, "ring resize collision")
            sequences[j] = oldSequences[i]
            entries[j] = entry
            count += 1
        }
    }
}
