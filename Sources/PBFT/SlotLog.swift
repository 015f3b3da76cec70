/// The agreement log (rules N1–N5): one `Slot` per sequence number of the watermark window, in an
/// array indexed by `sequence mod L`.
///
/// Same contents as a `[UInt64: Slot]` keyed by sequence. Rule N1 admits only sequences in (h, h + L],
/// and rule K3 discards every slot at or below h when h moves, so no two live sequences share an index
/// (`claim` checks it with a precondition). A lookup is an array index and one compare, no hashing;
/// a discarded slot keeps its vote arrays, which the next sequence at that index reuses. Bounded by L.
struct SlotLog {
    /// Sequence held at each index; 0 means free (sequence 0 is the genesis checkpoint, never in the window).
    private var sequences: [UInt64]
    /// Slot storage, grown on first claim up to the highest index used (`slots.count ≤ window`): a short
    /// run (a fuzz scenario) touches a few dozen sequences of a window of hundreds, and building the whole
    /// window for every replica at init was about 2 % of such a run's instructions (issue 19). Every index
    /// with a nonzero sequence is below `slots.count`.
    private var slots: [Slot] = []
    private let n: Int
    private(set) var count = 0

    init(window: Int, n: Int) {
        precondition(window > 0, "window must be positive")
        self.n = n
        sequences = Array(repeating: 0, count: window)
    }

    @inline(__always)
    private func position(_ sequence: UInt64) -> Int { Int(sequence % UInt64(sequences.count)) }

    /// Index of the slot holding `sequence`, if any.
    @inline(__always)
    func index(of sequence: UInt64) -> Int? {
        let i = position(sequence)
        return sequence != 0 && sequences[i] == sequence ? i : nil
    }

    /// Index of the slot for `sequence`, creating an empty one if there is none. The caller keeps
    /// `sequence` inside the window (rule N1), so the index is free or already holds `sequence`.
    mutating func claim(_ sequence: UInt64) -> Int {
        precondition(sequence != 0, "sequence 0 has no slot")
        let i = position(sequence)
        if sequences[i] == sequence { return i }
        precondition(sequences[i] == 0, "two live sequences share a log index: the window invariant broke")
        sequences[i] = sequence
        count += 1
        while slots.count <= i { slots.append(Slot(n: n)) }
        return i
    }

    /// The slot at an index from `index(of:)` or `claim`, read and written in place.
    subscript(at index: Int) -> Slot {
        _read { yield slots[index] }
        _modify { yield &slots[index] }
    }

    /// The slot for `sequence`, as a dictionary would answer (tests, state transfer, execution).
    subscript(sequence: UInt64) -> Slot? {
        get { index(of: sequence).map { slots[$0] } }
        set {
            if let newValue {
                slots[claim(sequence)] = newValue
            } else if let i = index(of: sequence) {
                free(i)
            }
        }
    }

    /// The sequences holding a slot, ascending (diagnosis and tests).
    var sortedSequences: [UInt64] { sequences.filter { $0 != 0 }.sorted() }

    /// Whether the slot for `sequence` exists and is committed (read in place, nothing copied).
    func isCommitted(_ sequence: UInt64) -> Bool {
        guard let i = index(of: sequence) else { return false }
        return slots[i].committed
    }

    /// Whether a slot above `sequence` is committed.
    func hasCommitted(above sequence: UInt64) -> Bool {
        for i in sequences.indices where sequences[i] > sequence && slots[i].committed { return true }
        return false
    }

    /// Rule K3: discards every slot at or below `sequence`.
    mutating func removeAll(atOrBelow sequence: UInt64) {
        for i in sequences.indices where sequences[i] != 0 && sequences[i] <= sequence { free(i) }
    }

    mutating func removeAll() {
        for i in sequences.indices where sequences[i] != 0 { free(i) }
    }

    /// Empties a slot in place, keeping its vote arrays' storage for reuse.
    private mutating func free(_ i: Int) {
        sequences[i] = 0
        count -= 1
        slots[i].reset(n: n)
    }
}

extension Slot {
    /// Back to the state of `Slot(n:)`, reusing the vote arrays' storage when they have `n` entries.
    mutating func reset(n: Int) {
        prePrepare = nil
        prepared = false
        committed = false
        if prepares.count == n {
            for r in 0..<n { prepares[r] = SlotVote() }
        } else {
            prepares = Array(repeating: SlotVote(), count: n)
        }
        if commits.count == n {
            for r in 0..<n { commits[r] = SlotVote() }
        } else {
            commits = Array(repeating: SlotVote(), count: n)
        }
    }
}
