import BFTCore
import ScenarioFormat

/// SplitMix64's finaliser: a bijective 64-bit mix, the same in every process (no `Hasher`, no seed).
@inline(__always)
func mix64(_ x: UInt64) -> UInt64 {
    var z = x &+ 0x9e37_79b9_7f4a_7c15
    z = (z ^ (z >> 30)) &* 0xbf58_476d_1ce4_e5b9
    z = (z ^ (z >> 27)) &* 0x94d0_49bb_1331_11eb
    return z ^ (z >> 31)
}

/// Folds `value` into a running 64-bit hash (order-dependent).
@inline(__always)
func combine(_ h: UInt64, _ value: UInt64) -> UInt64 { mix64(h ^ mix64(value &+ 0x632b_e59b_d9b4_e019)) }

/// A message in flight between two machines of the explored cluster.
struct Envelope {
    /// Machine indices: replicas `0..<n`, then clients.
    var from: Int
    var to: Int
    var bytes: [UInt8]
    /// FNV-1a 64 of `bytes` (`ScheduleStep.messageHash`): names the message in a schedule.
    var hash: UInt64
    /// (from, to, hash) folded: the message's identity for the multiset, sleep sets and histories.
    var key: UInt64
    init(from: Int, to: Int, bytes: [UInt8], hash: UInt64) {
        self.from = from
        self.to = to
        self.bytes = bytes
        self.hash = hash
        key = combine(combine(UInt64(from) &+ 1, UInt64(to) &+ 0x100), hash)
    }
}

/// A path's steps (`Trail`) and the observations it produced (`RecordTrail`), each kept as a shared
/// linked list: a child's list is its parent's plus one element, so a state costs one node, not a copy.
final class Chain<Element> {
    let element: Element
    let parent: Chain?
    init(_ element: Element, parent: Chain?) {
        self.element = element
        self.parent = parent
    }

    /// The elements from the first to `chain`'s.
    static func elements(_ chain: Chain?) -> [Element] {
        var out: [Element] = []
        var t = chain
        while let node = t {
            out.append(node.element)
            t = node.parent
        }
        return out.reversed()
    }
}

typealias Trail = Chain<ScheduleStep>
typealias RecordTrail = Chain<ObservationRecord>

/// One global state of the explored system: every machine (a value copy), the messages in flight (a
/// multiset), the armed timers and the fault budgets left. The path that reached it rides along
/// (`trail`, `records`) but is not part of its identity (`fingerprint`).
struct ExploreState {
    var machines: [any StateMachine]
    /// Per machine, a hash of every input it handled, in order. `StateMachine.handle` is a deterministic
    /// function of the state and the input, so equal histories from equal initial machines mean equal
    /// machines: the hash is a sound (never merging distinct states) fingerprint of the machine.
    var histories: [UInt64]
    /// Per machine, what the state fingerprint uses: the machine's own canonical hash when it has one
    /// (`StateFingerprinting`: honest PBFT and HotStuff replicas), else its input history.
    var hashes: [UInt64]
    /// Messages in flight, in send order (order is not part of the state: `pendingSum` is order-free).
    var pending: [Envelope] = []
    /// Sum of `mix64(key)` over `pending`: a multiset hash, updated in O(1) per send and delivery.
    var pendingSum: UInt64 = 0
    /// Armed timers per machine, kept sorted by (kind, key).
    var armed: [[TimerID]]
    /// Every armed timer, oldest arming first (a re-armed timer moves to the end): delay bounding's
    /// default fires the oldest, as the one whose deadline comes first when timeouts are alike. Not part
    /// of the fingerprint. Kept only under delay bounding (`tracksArmOrder`), off the exhaustive search's path.
    var armOrder: [(machine: Int, timer: TimerID)] = []
    var tracksArmOrder = false
    var dropsLeft: Int
    /// Drops per capped type of `--drop-types` (empty when no type is capped).
    var dropsByType: [Int] = []
    var timeoutsLeft: Int
    /// Crash-restarts left on the path (`ExploreOptions.restarts`).
    var restartsLeft = 0
    /// Per machine, only when restarts are explored: what its storage synced (what a restart recovers
    /// from), the writes not yet synced (lost by a restart), and an order-dependent hash of both for the
    /// fingerprint (sound: it never merges different storage).
    var durable: [[String: [UInt8]]] = []
    var unsynced: [[(key: String, bytes: [UInt8])]] = []
    var storageHashes: [UInt64] = []
    var trail: Trail?
    var records: RecordTrail?
    /// Requests clients reported completed along the path.
    var completed = 0

    init(machines: [any StateMachine], drops: Int, timeouts: Int) {
        self.machines = machines
        histories = machines.indices.map { mix64(UInt64($0) &+ 0xE17) }
        hashes = histories
        armed = Array(repeating: [], count: machines.count)
        dropsLeft = drops
        timeoutsLeft = timeouts
    }

    /// Turns on storage tracking for `restarts` crash-restarts.
    mutating func allowRestarts(_ restarts: Int) {
        guard restarts > 0 else { return }
        restartsLeft = restarts
        durable = Array(repeating: [:], count: machines.count)
        unsynced = Array(repeating: [], count: machines.count)
        storageHashes = Array(repeating: 0x570_4A6E, count: machines.count)
    }

    /// The state's identity: machine histories by index, the in-flight multiset, armed timers, budgets.
    var fingerprint: UInt64 {
        var h: UInt64 = 0x5EED_0F_E4F1_0E17
        for x in hashes { h = combine(h, x) }
        h = combine(h, pendingSum)
        for (m, timers) in armed.enumerated() where !timers.isEmpty {
            h = combine(h, UInt64(m) | 0x8000_0000)
            for t in timers { h = combine(h, UInt64(t.kind) << 48 ^ t.key) }
        }
        h = combine(h, UInt64(dropsLeft) << 32 | UInt64(timeoutsLeft))
        for d in dropsByType { h = combine(h, UInt64(d) | 0xD809_0000_0000) }
        if !storageHashes.isEmpty {
            h = combine(h, UInt64(restartsLeft) | 0x4E57_0000_0000)
            for x in storageHashes { h = combine(h, x) }
        }
        return h
    }

    /// Refreshes `hashes[m]` after machine `m` changed.
    mutating func rehash(_ m: Int, protocolFingerprint: Bool) {
        if protocolFingerprint, let value = machines[m].stateFingerprint(seed: UInt64(m) &+ 0xF1) {
            hashes[m] = value
        } else {
            hashes[m] = histories[m]
        }
    }

    mutating func addPending(_ e: Envelope) {
        pending.append(e)
        pendingSum = pendingSum &+ mix64(e.key)
    }

    mutating func removePending(at i: Int) -> Envelope {
        let e = pending.remove(at: i)
        pendingSum = pendingSum &- mix64(e.key)
        return e
    }

    mutating func arm(_ timer: TimerID, machine m: Int) {
        if tracksArmOrder {
            if let i = armOrder.firstIndex(where: { $0.machine == m && $0.timer == timer }) { armOrder.remove(at: i) }
            armOrder.append((m, timer))
        }
        let key = (timer.kind, timer.key)
        if let i = armed[m].firstIndex(where: { ($0.kind, $0.key) >= key }) {
            if armed[m][i] != timer { armed[m].insert(timer, at: i) }
        } else {
            armed[m].append(timer)
        }
    }

    mutating func disarm(_ timer: TimerID, machine m: Int) {
        if let i = armed[m].firstIndex(of: timer) { armed[m].remove(at: i) }
        if tracksArmOrder, let i = armOrder.firstIndex(where: { $0.machine == m && $0.timer == timer }) { armOrder.remove(at: i) }
    }
}
