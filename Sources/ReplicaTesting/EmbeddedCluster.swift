import BFTCore

/// A deterministic in-process shell for unit tests, in the manner of swift-nio's `EmbeddedChannel`:
/// it holds state machines of any protocol behind `StateMachine`, carries out their batches through
/// `Runtime.interpret` (the same contract as the simulator and the live host), and moves nothing on its
/// own. Messages wait in `queue` until the test delivers them (`run`, `deliverNext`, `deliverRandom`),
/// drops, holds, reorders or duplicates them; timers fire only when the test fires them (`fire`,
/// `advanceToNextTimer`, `runWithTimeouts`). Everything a machine did is recorded: batches
/// (`actionLog`), persisted state, armed timers, observations, messages sent and replies to clients
/// that have no machine here.
///
/// Nodes are indexed by slot: replica `i` is slot `i`, client `c` (when the test gave it a machine) is
/// slot `n + c`. `Context` is whatever the test built the machines from (configuration, keys); the
/// shell never reads it.
public final class EmbeddedCluster<Context> {
    /// A message in flight between two principals.
    public struct Envelope: Sendable {
        public var from: Principal
        public var to: Principal
        public var bytes: [UInt8]
        public init(from: Principal, to: Principal, bytes: [UInt8]) {
            self.from = from
            self.to = to
            self.bytes = bytes
        }
    }

    /// What happens to a message when it is taken from the queue (`policy`).
    public enum Fate: Sendable { case deliver, drop, hold }

    public let context: Context
    /// Number of replicas.
    public let n: Int
    public var replicas: [any StateMachine]
    /// Client machines (slots `n...`); a send to a client without one lands in `clientInbox`.
    public var clients: [any StateMachine]

    /// Messages in flight, delivered FIFO by `run` (or in random order by `deliverRandom`).
    public var queue: [Envelope] = []
    /// Every message the network carried (it passed `filter` and was not lost), in send order.
    public private(set) var sent: [Envelope] = []
    /// Messages a `.hold` policy set aside, until `release()`.
    public var held: [Envelope] = []
    /// Replicas played by the test itself: messages to them are captured, not delivered.
    public var intercepted: Set<ReplicaID> = []
    public var captured: [Envelope] = []
    /// Replicas that handle no input. A message already in flight from a replica that crashes later is
    /// still delivered (it has left).
    public var crashed: Set<ReplicaID> = []
    /// Decides at send time whether the network carries a message (false: lost).
    public var filter: ((Envelope) -> Bool)?
    /// Decides each message's fate when it is taken from the queue.
    public var policy: (Envelope) -> Fate = { _ in .deliver }

    /// Per slot: every action batch in emission order, the last persisted value per key, armed timers
    /// (absolute virtual deadlines) and observations.
    public var actionLog: [[[ReplicaAction]]]
    public var persisted: [[String: [UInt8]]]
    public var timers: [[TimerID: Nanoseconds]]
    public var observations: [[Observation]]
    var timerTables: [TimerTable]
    /// Replies sent to clients that have no machine in this shell, decoded.
    public var clientInbox: [ClientID: [ClientReply]] = [:]
    /// Virtual time: a timer armed with `after` is due at `now + after`.
    public var now: Nanoseconds = 0
    /// Messages handed to a machine so far.
    public private(set) var delivered = 0

    /// Random delivery (chaos tests): when set, `enqueue` loses and duplicates messages with these
    /// rates, and `run` delivers in an order drawn from it instead of FIFO.
    public var rng: DeterministicRNG?
    public var lossRate = 0.0
    public var duplicateRate = 0.0

    public init(context: Context, replicas: [any StateMachine], clients: [any StateMachine] = []) {
        self.context = context
        n = replicas.count
        self.replicas = replicas
        self.clients = clients
        let slots = replicas.count + clients.count
        actionLog = Array(repeating: [], count: slots)
        persisted = Array(repeating: [:], count: slots)
        timers = Array(repeating: [:], count: slots)
        observations = Array(repeating: [], count: slots)
        timerTables = Array(repeating: TimerTable(), count: slots)
    }

    /// The slot of `p`, or nil for a client without a machine.
    public func slot(_ p: Principal) -> Int? {
        switch p {
        case .replica(let i): return i
        case .client(let c): return c < clients.count ? n + c : nil
        }
    }

    func principal(ofSlot s: Int) -> Principal { s < n ? .replica(s) : .client(s - n) }

    public func observations(of p: Principal) -> [Observation] { slot(p).map { observations[$0] } ?? [] }

    // MARK: Inputs

    /// Starts every replica, then (if `clients`) every client machine; delivers nothing.
    public func start(clients startClients: Bool = true) {
        for i in 0..<n { input(.start, to: .replica(i)) }
        if startClients { for c in clients.indices { input(.start, to: .client(c)) } }
    }

    /// Hands `input` to `p`'s machine (ignored if `p` crashed or has no machine) and carries out its batch.
    public func input(_ input: ReplicaInput, to p: Principal) {
        var actions: [ReplicaAction] = []
        switch p {
        case .replica(let i):
            guard !crashed.contains(i) else { return }
            replicas[i].handle(input, into: &actions)
        case .client(let c):
            guard c < clients.count else { return }
            clients[c].handle(input, into: &actions)
        }
        apply(actions, from: p)
    }

    /// `input(_:to:)` for replica `i`.
    public func input(_ input: ReplicaInput, at i: ReplicaID) { self.input(input, to: .replica(i)) }

    /// Carries out one batch of `p`'s actions through `Runtime.interpret`.
    public func apply(_ actions: [ReplicaAction], from p: Principal) {
        guard let s = slot(p) else { return }
        actionLog[s].append(actions)
        var sink = Sink(cluster: self, slot: s, from: p)
        Runtime.interpret(actions, sender: p, timers: &timerTables[s], into: &sink)
    }

    /// This shell as an `EffectSink`: persists applied at once (`sync` has nothing to wait for), sends
    /// queued, timers recorded as deadlines.
    struct Sink: EffectSink {
        unowned let cluster: EmbeddedCluster
        let slot: Int
        let from: Principal
        func persist(key: String, bytes: [UInt8]) { cluster.persisted[slot][key] = bytes }
        func sync() {}
        func send(_ bytes: [UInt8], to: Principal) {
            if case .client(let c) = to, cluster.slot(to) == nil {
                if let reply = try? ClientReply(decoding: bytes) { cluster.clientInbox[c, default: []].append(reply) }
                return
            }
            cluster.enqueue(Envelope(from: from, to: to, bytes: bytes))
        }
        func broadcast(_ bytes: [UInt8]) {
            for r in 0..<cluster.n where Principal.replica(r) != from {
                cluster.enqueue(Envelope(from: from, to: .replica(r), bytes: bytes))
            }
        }
        func setTimer(_ timer: TimerID, after: Nanoseconds, generation: UInt64) {
            cluster.timers[slot][timer] = cluster.now + after
        }
        func cancelTimer(_ timer: TimerID) { cluster.timers[slot][timer] = nil }
        func observe(_ observation: Observation) { cluster.observations[slot].append(observation) }
    }

    /// Puts a sent message in flight: through `filter`, then (random delivery) loss and duplication.
    public func enqueue(_ e: Envelope) {
        if let filter, !filter(e) { return }
        if var r = rng {
            let lost = r.chance(lossRate)
            let duplicated = r.chance(duplicateRate)
            rng = r
            if lost { return }
            if duplicated { queue.append(e) }
        }
        sent.append(e)
        queue.append(e)
    }

    // MARK: Delivery

    /// Hands one message taken from the queue to its destination, unless intercepted, crashed, dropped
    /// or held by `policy`.
    public func deliver(_ e: Envelope) {
        if case .replica(let i) = e.to, intercepted.contains(i) { captured.append(e); return }
        if case .replica(let i) = e.to, crashed.contains(i) { return }
        switch policy(e) {
        case .drop: return
        case .hold: held.append(e); return
        case .deliver: break
        }
        delivered += 1
        input(.message(from: e.from, bytes: e.bytes), to: e.to)
    }

    /// Delivers the oldest message in flight; false if none.
    @discardableResult
    public func deliverNext() -> Bool {
        guard !queue.isEmpty else { return false }
        deliver(queue.removeFirst())
        return true
    }

    /// Delivers up to `count` messages in flight, each chosen at random by `rng`.
    public func deliverRandom(_ count: Int) {
        var k = 0
        while k < count, !queue.isEmpty, var r = rng {
            let index = Int(r.below(UInt64(queue.count)))
            rng = r
            queue.swapAt(index, queue.count - 1)
            k += 1
            deliver(queue.removeLast())
        }
    }

    /// Delivers messages (FIFO, or at random when `rng` is set) until none is in flight or `limit`
    /// messages were taken from the queue.
    public func run(limit: Int = 100_000) {
        var steps = 0
        if rng != nil {
            while !queue.isEmpty, steps < limit {
                deliverRandom(1)
                steps += 1
            }
            return
        }
        var head = 0
        while head < queue.count, steps < limit {
            let e = queue[head]
            head += 1
            steps += 1
            // Compact now and then: deliveries append to the queue.
            if head >= 4096 {
                queue.removeFirst(head)
                head = 0
            }
            deliver(e)
        }
        queue.removeFirst(head)
    }

    /// Puts held messages back on the queue, in the order they were held.
    public func release() {
        queue.append(contentsOf: held)
        held.removeAll()
    }

    // MARK: Timers

    /// Fires `timer` at each listed replica where it is armed, then runs to quiescence.
    public func fire(_ timer: TimerID, at replicas: [ReplicaID]) {
        for i in replicas { fireIfArmed(timer, slot: i) }
        run()
    }

    @discardableResult
    func fireIfArmed(_ timer: TimerID, slot s: Int) -> Bool {
        guard timers[s][timer] != nil else { return false }
        if s < n, crashed.contains(s) { return false }
        timers[s][timer] = nil
        input(.timer(timer), to: principal(ofSlot: s))
        return true
    }

    func isLive(slot s: Int) -> Bool { s >= n || !crashed.contains(s) }

    /// The armed timers of a live slot in a fixed order (kind, then key): ties never depend on hashing.
    func armed(slot s: Int) -> [(timer: TimerID, deadline: Nanoseconds)] {
        timers[s].map { ($0.key, $0.value) }.sorted { ($0.timer.kind, $0.timer.key) < ($1.timer.kind, $1.timer.key) }
    }

    /// Advances virtual time to the earliest armed timer of a live node, fires every timer due then (by
    /// slot, then kind and key) and runs to quiescence. Returns false if no timer is armed.
    @discardableResult
    public func advanceToNextTimer() -> Bool {
        var earliest: Nanoseconds?
        for s in timers.indices where isLive(slot: s) {
            for (_, deadline) in timers[s] { earliest = min(earliest ?? deadline, deadline) }
        }
        guard let due = earliest else { return false }
        now = due
        for s in timers.indices where isLive(slot: s) {
            for (t, deadline) in armed(slot: s) where deadline == due { fireIfArmed(t, slot: s) }
        }
        run()
        return true
    }

    /// Runs to quiescence, then repeatedly advances virtual time to the earliest armed timer of a live
    /// node, fires that one timer and delivers what follows; at most `firings` timers. Ties fire in slot,
    /// then kind and key order, so backoff matters as it would in the simulator.
    public func runWithTimeouts(firings: Int = 3000) {
        run()
        for _ in 0..<firings {
            var next: (deadline: Nanoseconds, slot: Int, timer: TimerID)?
            for s in timers.indices where isLive(slot: s) {
                for (t, d) in armed(slot: s) where next == nil || d < next!.deadline { next = (d, s, t) }
            }
            guard let (deadline, s, t) = next else { return }
            now = max(now, deadline)
            fireIfArmed(t, slot: s)
            run()
        }
    }

    // MARK: Observation queries

    public func committed(_ i: ReplicaID) -> [(sequence: UInt64, view: UInt64, digest: Digest, count: Int)] {
        observations[i].compactMap {
            if case .committed(let s, let v, let d, let c) = $0 { return (s, v, d, c) }
            return nil
        }
    }

    public func executed(_ i: ReplicaID) -> [(sequence: UInt64, request: RequestID)] {
        observations[i].compactMap {
            if case .executed(let s, _, let req, _, _) = $0 { return (s, req) }
            return nil
        }
    }

    public func executedRequests(_ i: ReplicaID) -> [RequestID] { executed(i).map(\.request) }

    public func rejections(_ i: ReplicaID) -> [RejectReason] {
        observations[i].compactMap {
            if case .rejected(let reason, _) = $0 { return reason }
            return nil
        }
    }

    /// How many messages replica `i` rejected for `reason`.
    public func rejections(_ i: ReplicaID, _ reason: RejectReason) -> Int { rejections(i).filter { $0 == reason }.count }

    public func has(_ i: ReplicaID, _ o: Observation) -> Bool { observations[i].contains(o) }

    /// Replies received by machine-less `client` for `timestamp` from distinct replicas.
    public func replyCount(client: ClientID, timestamp: UInt64) -> Int {
        Set((clientInbox[client] ?? []).filter { $0.timestamp == timestamp }.map(\.replica)).count
    }
}
