import Testing
import BFTCore
import BFTCrypto
@testable import HotStuff

/// A message in flight between two principals.
struct Envelope {
    var from: Principal
    var to: Principal
    var bytes: [UInt8]
    var info: MessageInfo { describeHotStuffMessage(bytes) }
}

/// A tiny in-test shell: delivers messages in FIFO order with zero latency, can drop or hold them, and
/// fires timers when a test asks — one at a time in virtual-deadline order in `runWithTimeouts`, so
/// backoff matters as it would in the simulator. The real simulator (latency, faults) lives elsewhere.
struct Cluster {
    let ring: Keyring
    let config: HotStuffConfig
    var replicas: [any StateMachine]
    var clients: [Client]
    var queue: [Envelope] = []
    var held: [Envelope] = []
    /// Decides each message's fate when it is taken from the queue.
    var policy: (Envelope) -> Fate = { _ in .deliver }
    /// Armed timers: absolute virtual deadlines.
    var timers: [Principal: [TimerID: Nanoseconds]] = [:]
    var timerTables: [Principal: TimerTable] = [:]
    var now: Nanoseconds = 0
    var observations: [Principal: [Observation]] = [:]
    var durable: [Principal: [String: [UInt8]]] = [:]
    var crashed: Set<Int> = []
    /// Replicas played by the test itself: messages to them are captured, not delivered.
    var intercepted: Set<Int> = []
    var captured: [Envelope] = []
    /// Batches in which a vote left without a persist of the safety state before it.
    var votesWithoutPersist = 0
    var delivered = 0

    enum Fate { case deliver, drop, hold }

    init(config: HotStuffConfig, clients clientCount: Int = 1, requests: Int = 4, scheme: SignatureScheme = .fast,
         seed: UInt64 = 7, wrap: (Int, HotStuffReplica, MessageSigner) -> any StateMachine = { _, r, _ in r }) {
        ring = Keyring(scheme: scheme, seed: seed, replicas: config.n, clients: clientCount)
        self.config = config
        var rs: [any StateMachine] = []
        for i in 0..<config.n {
            let signer = ring.signer(for: .replica(i))
            rs.append(wrap(i, HotStuffReplica(id: i, config: config, signer: signer, verifier: ring.verifier), signer))
        }
        replicas = rs
        let quorum = config.quorum
        let ring = self.ring
        clients = (0..<clientCount).map { c in
            Client(id: c, quorum: quorum,
                   workload: WorkloadSpec(clients: clientCount, requestsPerClient: requests, keySpace: 8),
                   targeting: .all, signer: ring.signer(for: .client(c)), verifier: ring.verifier,
                   rng: DeterministicRNG(seed: seed, stream: "client/\(c)"))
        }
    }

    func replica(_ i: Int) -> HotStuffReplica {
        if let r = replicas[i] as? HotStuffReplica { return r }
        if let w = replicas[i] as? EquivocatingLeader { return w.inner }
        preconditionFailure("unknown replica type")
    }

    mutating func start(clients startClients: Bool = true) {
        for i in 0..<replicas.count { input(.start, to: .replica(i)) }
        if startClients { for c in 0..<clients.count { input(.start, to: .client(c)) } }
    }

    mutating func input(_ input: ReplicaInput, to p: Principal) {
        var actions: [ReplicaAction] = []
        switch p {
        case .replica(let i):
            guard !crashed.contains(i) else { return }
            replicas[i].handle(input, into: &actions)
        case .client(let c):
            clients[c].handle(input, into: &actions)
        }
        apply(actions, from: p)
    }

    mutating func apply(_ actions: [ReplicaAction], from p: Principal) {
        var sink = Sink(from: p, n: config.n, now: now)
        var table = timerTables[p] ?? TimerTable()
        Runtime.interpret(actions, sender: p, timers: &table, into: &sink)
        timerTables[p] = table
        queue.append(contentsOf: sink.sent)
        for (t, deadline) in sink.armed { timers[p, default: [:]][t] = deadline }
        for t in sink.cancelled where !sink.armed.contains(where: { $0.0 == t }) { timers[p]?[t] = nil }
        for (key, bytes) in sink.persisted { durable[p, default: [:]][key] = bytes }
        observations[p, default: []].append(contentsOf: sink.observed)
        votesWithoutPersist += sink.votesWithoutPersist
    }

    /// This shell as an `EffectSink` (`Runtime`), collecting a batch's effects for `apply`. A VOTE with
    /// no persist in its batch is counted: the runtime puts persists first, so only a batch that has
    /// none (the test-only `sendVoteBeforePersist`) can send one.
    struct Sink: EffectSink {
        let from: Principal
        let n: Int
        let now: Nanoseconds
        var sent: [Envelope] = []
        var armed: [(TimerID, Nanoseconds)] = []
        var cancelled: [TimerID] = []
        var persisted: [(String, [UInt8])] = []
        var observed: [Observation] = []
        var votesWithoutPersist = 0

        mutating func persist(key: String, bytes: [UInt8]) { persisted.append((key, bytes)) }
        func sync() {}
        mutating func send(_ bytes: [UInt8], to: Principal) {
            if case .replica = from, describeHotStuffMessage(bytes).type == "VOTE", persisted.isEmpty { votesWithoutPersist += 1 }
            sent.append(Envelope(from: from, to: to, bytes: bytes))
        }
        mutating func broadcast(_ bytes: [UInt8]) {
            for r in 0..<n where Principal.replica(r) != from { sent.append(Envelope(from: from, to: .replica(r), bytes: bytes)) }
        }
        mutating func setTimer(_ timer: TimerID, after: Nanoseconds, generation: UInt64) {
            armed.removeAll { $0.0 == timer }
            armed.append((timer, now + after))
        }
        mutating func cancelTimer(_ timer: TimerID) {
            armed.removeAll { $0.0 == timer }
            cancelled.append(timer)
        }
        mutating func observe(_ observation: Observation) { observed.append(observation) }
    }

    /// Delivers queued messages in FIFO order until the queue is empty or `limit` deliveries happened.
    mutating func run(limit: Int = 100_000) {
        var steps = 0
        while !queue.isEmpty, steps < limit {
            let e = queue.removeFirst()
            steps += 1
            if case .replica(let i) = e.to, intercepted.contains(i) { captured.append(e); continue }
            if case .replica(let i) = e.to, crashed.contains(i) { continue }
            if case .replica(let i) = e.from, crashed.contains(i) { continue }
            switch policy(e) {
            case .drop: continue
            case .hold: held.append(e); continue
            case .deliver: break
            }
            delivered += 1
            input(.message(from: e.from, bytes: e.bytes), to: e.to)
        }
    }

    /// Puts held messages back on the queue (in the order they were held).
    mutating func release() {
        queue.append(contentsOf: held)
        held.removeAll()
    }

    /// Fires `timer` at `p` if armed.
    mutating func fire(_ timer: TimerID, at p: Principal) {
        guard timers[p]?[timer] != nil else { return }
        timers[p]?[timer] = nil
        input(.timer(timer), to: p)
    }

    mutating func fireViewTimers(_ replicas: [Int]) {
        for r in replicas { fire(HotStuffReplica.viewTimer, at: .replica(r)) }
    }

    /// Runs to quiescence, then repeatedly advances virtual time to the earliest armed timer of a live
    /// principal, fires it and delivers what follows; at most `firings` timers. Ties fire in principal
    /// and timer order, so runs are deterministic.
    mutating func runWithTimeouts(firings: Int = 3000) {
        run()
        for _ in 0..<firings {
            var next: (deadline: Nanoseconds, principal: Principal, timer: TimerID)?
            for p in timers.keys.sorted() {
                if case .replica(let i) = p, crashed.contains(i) { continue }
                for (t, d) in (timers[p] ?? [:]).sorted(by: { ($0.key.kind, $0.key.key) < ($1.key.kind, $1.key.key) }) {
                    if next == nil || d < next!.deadline { next = (d, p, t) }
                }
            }
            guard let (deadline, p, t) = next else { return }
            now = max(now, deadline)
            fire(t, at: p)
            run()
        }
    }

    var clientsDone: Bool { clients.allSatisfy(\.isFinished) }

    // MARK: Observation helpers

    func commits(_ r: Int) -> [(height: UInt64, digest: Digest, view: UInt64)] {
        (observations[.replica(r)] ?? []).compactMap {
            if case let .committed(seq, view, digest, _) = $0 { return (seq, digest, view) }
            return nil
        }
    }

    func executed(_ r: Int) -> [RequestID] {
        (observations[.replica(r)] ?? []).compactMap {
            if case let .executed(_, _, request, _, _) = $0 { return request }
            return nil
        }
    }

    func votes(_ r: Int) -> [(view: UInt64, digest: Digest)] {
        (observations[.replica(r)] ?? []).compactMap {
            if case let .voted(view, digest) = $0 { return (view, digest) }
            return nil
        }
    }

    func rejections(_ r: Int, _ reason: RejectReason) -> Int {
        (observations[.replica(r)] ?? []).filter {
            if case .rejected(reason, _) = $0 { return true }
            return false
        }.count
    }

    /// Whether two replicas committed different blocks at one height (an agreement violation).
    func conflictingCommits() -> (UInt64, Int, Int)? {
        var byHeight: [UInt64: (Digest, Int)] = [:]
        for r in 0..<config.n {
            for c in commits(r) {
                if let (d, other) = byHeight[c.height], d != c.digest { return (c.height, other, r) }
                byHeight[c.height] = (c.digest, r)
            }
        }
        return nil
    }

    /// Checks the per-replica invariants the checkers will check: commit heights consecutive from 1,
    /// at most one vote per view, locked view never decreasing.
    func expectReplicaInvariants(sourceLocation: SourceLocation = #_sourceLocation) {
        for r in 0..<config.n {
            let heights = commits(r).map(\.height)
            #expect(heights == Array(heights.indices).map { UInt64($0 + 1) }, "r\(r) commit heights \(heights)", sourceLocation: sourceLocation)
            let views = votes(r).map(\.view)
            #expect(Set(views).count == views.count, "r\(r) voted twice in a view", sourceLocation: sourceLocation)
            let locks = (observations[.replica(r)] ?? []).compactMap { o -> UInt64? in
                if case .locked(let v) = o { return v }
                return nil
            }
            #expect(locks == locks.sorted(), "r\(r) lock decreased", sourceLocation: sourceLocation)
            // Committed blocks form one hash chain from genesis.
            var parent = Block.genesis.digest
            for o in observations[.replica(r)] ?? [] {
                guard case let .blockCommitted(_, digest, p) = o else { continue }
                #expect(p == parent, "r\(r) committed a block off the chain", sourceLocation: sourceLocation)
                parent = digest
            }
        }
        #expect(votesWithoutPersist == 0, "a vote left before its safety state was persisted", sourceLocation: sourceLocation)
    }
}
