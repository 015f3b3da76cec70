import BFTCore
import BFTCrypto
@testable import PBFT

/// A tiny in-test shell: delivers actions between replicas instantly through one FIFO queue, records
/// observations, persisted state, armed timers and client replies. Timers fire only when a test says so.
final class TestCluster {
    struct Envelope {
        var from: Principal
        var to: Principal
        var bytes: [UInt8]
    }

    let config: PBFTConfig
    let keyring: Keyring
    var nodes: [any StateMachine]
    var queue: [Envelope] = []
    var head = 0
    var observations: [[Observation]]
    /// Every action batch per replica, in order (for persist-before-send and timer assertions).
    var actionLog: [[[ReplicaAction]]]
    var persisted: [[String: [UInt8]]]
    var timers: [[TimerID: Nanoseconds]]
    var timerTables: [TimerTable]
    var clientInbox: [ClientID: [ClientReply]] = [:]
    var crashed: Set<ReplicaID> = []
    /// Returns false to drop a message (partitions, lost commits, ...).
    var filter: ((Envelope) -> Bool)?
    var delivered = 0
    let stepMax = 2_000_000

    init(config: PBFTConfig, scheme: SignatureScheme = .fast, seed: UInt64 = 7, clients: Int = 4,
         wrap: (ReplicaID, PBFTReplica, Keyring) -> any StateMachine = { _, r, _ in r },
         configFor: ((ReplicaID) -> PBFTConfig)? = nil) {
        self.config = config
        keyring = Keyring(scheme: scheme, seed: seed, replicas: config.n, clients: clients)
        var nodes: [any StateMachine] = []
        for i in 0..<config.n {
            let c = configFor?(i) ?? config
            let replica = PBFTReplica(id: i, config: c, signer: keyring.signer(for: .replica(i)), verifier: keyring.verifier)
            nodes.append(wrap(i, replica, keyring))
        }
        self.nodes = nodes
        observations = Array(repeating: [], count: config.n)
        actionLog = Array(repeating: [], count: config.n)
        persisted = Array(repeating: [:], count: config.n)
        timers = Array(repeating: [:], count: config.n)
        timerTables = Array(repeating: TimerTable(), count: config.n)
    }

    func replica(_ i: ReplicaID) -> PBFTReplica {
        if let r = nodes[i] as? PBFTReplica { return r }
        if let e = nodes[i] as? EquivocatingPrimary { return e.inner }
        fatalError("unknown node type")
    }

    func start() {
        for i in 0..<config.n { input(.start, at: i) }
        run()
    }

    func input(_ input: ReplicaInput, at i: ReplicaID) {
        guard !crashed.contains(i) else { return }
        var actions: [ReplicaAction] = []
        nodes[i].handle(input, into: &actions)
        apply(actions, from: i)
    }

    func apply(_ actions: [ReplicaAction], from i: ReplicaID) {
        actionLog[i].append(actions)
        var sink = Sink(cluster: self, replica: i)
        Runtime.interpret(actions, sender: .replica(i), timers: &timerTables[i], into: &sink)
    }

    /// This shell as an `EffectSink` (`Runtime`): instant FIFO delivery, persists applied at once,
    /// timers as virtual deadlines.
    struct Sink: EffectSink {
        unowned let cluster: TestCluster
        let replica: ReplicaID
        func persist(key: String, bytes: [UInt8]) { cluster.persisted[replica][key] = bytes }
        func sync() {}
        func send(_ bytes: [UInt8], to: Principal) {
            if case .client(let c) = to {
                if let reply = try? ClientReply(decoding: bytes) { cluster.clientInbox[c, default: []].append(reply) }
            } else {
                cluster.enqueue(Envelope(from: .replica(replica), to: to, bytes: bytes))
            }
        }
        func broadcast(_ bytes: [UInt8]) {
            for r in 0..<cluster.config.n where r != replica { cluster.enqueue(Envelope(from: .replica(replica), to: .replica(r), bytes: bytes)) }
        }
        func setTimer(_ timer: TimerID, after: Nanoseconds, generation: UInt64) { cluster.timers[replica][timer] = cluster.now + after }
        func cancelTimer(_ timer: TimerID) { cluster.timers[replica][timer] = nil }
        func observe(_ observation: Observation) { cluster.observations[replica].append(observation) }
    }

    func enqueue(_ e: Envelope) {
        if let filter, !filter(e) { return }
        if var r = rng {
            let lost = r.chance(lossRate)
            let duplicated = r.chance(duplicateRate)
            rng = r
            if lost { return }
            if duplicated { pending.append(e) }
            pending.append(e)
        }
        queue.append(e)
    }

    // MARK: Random delivery (chaos tests)

    /// When set, messages are delivered in a random order drawn from it (with loss and duplication)
    /// instead of FIFO; `queue` is then only a log of what was sent.
    var rng: DeterministicRNG?
    var pending: [Envelope] = []
    var lossRate = 0.0
    var duplicateRate = 0.0

    /// Delivers up to `count` randomly chosen pending messages.
    func deliverRandom(_ count: Int) {
        var k = 0
        while k < count, !pending.isEmpty, var r = rng {
            let index = Int(r.below(UInt64(pending.count)))
            rng = r
            pending.swapAt(index, pending.count - 1)
            let e = pending.removeLast()
            k += 1
            delivered += 1
            precondition(delivered < stepMax, "test cluster did not quiesce")
            guard case .replica(let to) = e.to, !crashed.contains(to) else { continue }
            input(.message(from: e.from, bytes: e.bytes), at: to)
        }
    }

    /// Delivers queued messages FIFO until the queue is empty.
    func run() {
        if rng != nil {
            while !pending.isEmpty { deliverRandom(1 << 20) }
            head = queue.count
            return
        }
        while head < queue.count {
            let e = queue[head]
            head += 1
            delivered += 1
            precondition(delivered < stepMax, "test cluster did not quiesce")
            guard case .replica(let to) = e.to, !crashed.contains(to) else { continue }
            input(.message(from: e.from, bytes: e.bytes), at: to)
        }
    }

    /// Fires `timer` at each listed replica where it is armed, then runs to quiescence.
    func fire(_ timer: TimerID, at replicas: [ReplicaID]) {
        for i in replicas where timers[i][timer] != nil && !crashed.contains(i) {
            timers[i][timer] = nil
            input(.timer(timer), at: i)
        }
        run()
    }

    /// Virtual time: timer deadlines are `now + after`. Tests that never advance it see durations.
    var now: Nanoseconds = 0

    /// Advances virtual time to the earliest armed timer of a live replica, fires every timer due
    /// then (by replica, then kind), and runs to quiescence. Returns false if no timer is armed.
    @discardableResult
    func advanceToNextTimer() -> Bool {
        var earliest: Nanoseconds?
        for i in 0..<config.n where !crashed.contains(i) {
            for (_, deadline) in timers[i] { earliest = min(earliest ?? deadline, deadline) }
        }
        guard let due = earliest else { return false }
        now = due
        for i in 0..<config.n where !crashed.contains(i) {
            for t in timers[i].keys.sorted(by: { $0.kind < $1.kind }) where timers[i][t] == due {
                timers[i][t] = nil
                input(.timer(t), at: i)
            }
        }
        run()
        return true
    }

    // MARK: Clients

    func request(client: ClientID, timestamp: UInt64, _ op: KeyValueStore.Operation) -> ClientRequest {
        ClientRequest(client: client, timestamp: timestamp, operation: op.encoded, signer: keyring.signer(for: .client(client)))
    }

    func submit(_ request: ClientRequest, to replicas: [ReplicaID]) {
        for r in replicas { input(.message(from: .client(request.client), bytes: request.bytes), at: r) }
        run()
    }

    // MARK: Observation queries

    func executed(_ i: ReplicaID) -> [(sequence: UInt64, request: RequestID)] {
        observations[i].compactMap {
            if case .executed(let s, _, let req, _, _) = $0 { return (s, req) }
            return nil
        }
    }

    func executedRequests(_ i: ReplicaID) -> [RequestID] { executed(i).map(\.request) }

    func committed(_ i: ReplicaID) -> [(sequence: UInt64, view: UInt64, digest: Digest, count: Int)] {
        observations[i].compactMap {
            if case .committed(let s, let v, let d, let c) = $0 { return (s, v, d, c) }
            return nil
        }
    }

    func rejections(_ i: ReplicaID) -> [RejectReason] {
        observations[i].compactMap {
            if case .rejected(let reason, _) = $0 { return reason }
            return nil
        }
    }

    func has(_ i: ReplicaID, _ o: Observation) -> Bool { observations[i].contains(o) }

    /// Replies received by `client` for `timestamp` from distinct replicas.
    func replyCount(client: ClientID, timestamp: UInt64) -> Int {
        Set((clientInbox[client] ?? []).filter { $0.timestamp == timestamp }.map(\.replica)).count
    }

    func messages(of type: String) -> [Envelope] {
        queue.filter { describePBFTMessage($0.bytes).type == type }
    }
}

extension PBFTConfig {
    /// Small, fast settings for unit tests: no batch delay, short window.
    static func test(n: Int = 4, f: Int? = nil, batchSizeMax: Int = 8, batchDelayMax: Nanoseconds = 0,
                     checkpointInterval: Int = 4, watermarkWindow: Int = 8, mutations: PBFTMutations = []) -> PBFTConfig {
        PBFTConfig(n: n, f: f, batchSizeMax: batchSizeMax, batchDelayMax: batchDelayMax, checkpointInterval: checkpointInterval,
                   watermarkWindow: watermarkWindow, viewChangeTimeout: 100 * nanosPerMillisecond,
                   viewChangeTimeoutMax: 800 * nanosPerMillisecond, mutations: mutations)
    }
}

let putA = KeyValueStore.Operation.put(key: "a", value: [1])
func put(_ k: String, _ v: UInt8) -> KeyValueStore.Operation { .put(key: k, value: [v]) }
