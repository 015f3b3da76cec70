import BFTCore
import DequeModule
import ScenarioFormat

/// A discrete-event simulator: the shell that carries out the actions of sans-IO state machines
/// over a modelled network in virtual time.
///
/// Events are ordered by (time, insertion sequence), a total order, so a scenario and its seed decide
/// the whole run. Nothing here reads a clock, draws system randomness or iterates a hashed collection
/// to decide what happens next.
public final class Simulator {
    // MARK: Configuration
    let scenario: Scenario
    let replicaCount: Int
    let describe: MessageDescriber
    let observer: (ObservationRecord) -> Void
    let traceSink: TraceSink?
    let tracing: Bool
    /// Completions after which the run stops (nil: run to the time limit).
    let completionsTarget: Int?

    // MARK: State
    var machines: [any StateMachine]
    let principals: [Principal]
    let names: [String]
    var crashed: [Bool]
    var network: NetworkModel
    var queue = EventQueue()
    /// What each queued event does, by `Event.slot` (kept out of the heap so its nodes stay small).
    var eventKinds: [Event.Kind?] = []
    /// Free indices of `eventKinds`.
    var freeEventSlots: [UInt32] = []
    var nextSequence: UInt64 = 0
    var nextMessageID: UInt64 = 0
    /// Generation of each armed timer per machine; an event whose generation differs is stale.
    var timerGenerations: [TimerTable]
    /// What each machine's storage has synced (survives crashes) and has not synced yet (lost by one).
    var storage: [Storage]
    /// Rebuilds a replica for a `restart` (nil: restarts are not supported by this run).
    let rebuild: ((Int) -> any StateMachine)?
    /// Replica id of each machine index (clients: nil); twins share their original's id.
    let replicaOfMachine: [Int?]
    /// Network node of each machine: replicas 0..<n, twins n..<n+t, clients after them.
    let node: [Int]
    /// Machine indices of each replica id's instances (one, or two when twinned), by replica id.
    let instances: [[Int]]
    /// Message faults in force, with their end time.
    var messageFaults: [MessageFaultSpec] = []
    /// The Twins round (highest view any replica entered) whose partition is in force.
    var twinsRound: UInt64 = 0
    var actionBuffer: [ReplicaAction] = []
    /// Reused for rendering trace lines.
    var traceBuffer: [UInt8] = []
    var hasher: TraceHasher?
    var traceHash: Digest?
    /// The simulated time of the event being processed.
    public internal(set) var now: Nanoseconds = 0
    /// Index of the event being processed.
    var eventIndex: UInt64 = 0
    var started = false
    /// Messages and timers held for an explicit schedule (`scenario.schedule`), nil otherwise.
    var scheduled: ScheduledNetwork?
    /// Hosts, cores and links when the scenario models costs or bandwidth (issue 15); nil otherwise,
    /// and then no cost code runs.
    var hosts: HostModel?
    /// Whether handlers cost CPU time (`scenario.costs`); checked once per handled input.
    let costed: Bool
    /// Signatures signed and verified so far by the run's crypto (the runner supplies it; the
    /// simulator does not link the crypto module). Read around each costed handler.
    public var cryptoCounter: (() -> (signed: Int, verified: Int))?

    // MARK: Counters
    var eventsProcessed: UInt64 = 0
    var staleTimersSkipped: UInt64 = 0
    var messagesSent = 0
    var messagesDelivered = 0
    var messagesDuplicated = 0
    var drops = SimulationResult.Drops()
    var bytesSent = 0
    var traceLines = 0
    var requestsCompleted = 0
    /// Per wire tag (`bytes[0]`): counts and the type name `describe` gave the first message seen.
    var sentByTag = [Int](repeating: 0, count: 256)
    var deliveredByTag = [Int](repeating: 0, count: 256)
    var nameByTag = [String?](repeating: nil, count: 256)

    /// Builds a simulator.
    ///
    /// - Parameters:
    ///   - machines: replicas `0..<scenario.replicas` first (index = ReplicaID), then clients
    ///     (index = replicas + ClientID). Each machine's `principal` must match its index.
    ///   - describe: names wire bytes for traces and per-type counters.
    ///   - observer: receives every observation, stamped with time and event index.
    ///   - trace: `.hashOnly` (default) computes the trace hash; `.full` also writes lines; `.off` neither.
    ///   - rebuild: makes a fresh replica machine for a `restart` timeline event (by machine index).
    ///
    /// With `scenario.twins`, the machines after the clients are the twins, in `twins.replicas` order.
    public init(scenario: Scenario, machines: [any StateMachine], describe: @escaping MessageDescriber,
                observer: @escaping (ObservationRecord) -> Void, trace: TraceMode = .hashOnly,
                rebuild: ((Int) -> any StateMachine)? = nil) {
        let n = scenario.replicas
        let twinned = scenario.twins?.replicas ?? []
        let clientCount = machines.count - n - twinned.count
        precondition(machines.count >= n + twinned.count && clientCount >= 0, "fewer machines than replicas")
        var principals: [Principal] = []
        var replicaOf: [Int?] = []
        var node: [Int] = []
        var instances = (0..<n).map { [$0] }
        for (i, m) in machines.enumerated() {
            let expected: Principal
            if i < n {
                expected = .replica(i)
                node.append(i)
            } else if i < n + clientCount {
                expected = .client(i - n)
                node.append(i + twinned.count)
            } else {
                let k = i - n - clientCount
                expected = .replica(twinned[k])
                node.append(n + k)
                instances[twinned[k]].append(i)
            }
            precondition(m.principal == expected, "machine \(i) is \(m.principal), expected \(expected)")
            principals.append(expected)
            replicaOf.append(expected.replicaID)
        }
        self.rebuild = rebuild
        self.replicaOfMachine = replicaOf
        self.node = node
        self.instances = instances
        self.scenario = scenario
        self.replicaCount = n
        self.describe = describe
        self.observer = observer
        self.machines = machines
        self.principals = principals
        self.names = principals.map(\.description)
        self.crashed = Array(repeating: false, count: machines.count)
        self.timerGenerations = Array(repeating: TimerTable(), count: machines.count)
        // Only a storage fault that undoes synced writes reads the write history; without one, keeping
        // 256 replaced values (each a QC of n−f signatures in HotStuff) per machine costs megabytes per
        // replica at n=256 for nothing (issue 19).
        let undoes = scenario.timeline.contains { event in
            if case .storageFault(_, let lost) = event.action { return lost != nil }
            return false
        }
        self.storage = Array(repeating: Storage(keepsHistory: undoes), count: machines.count)
        self.network = NetworkModel(spec: scenario.network, replicaCount: n + twinned.count, seed: scenario.seed)
        if (scenario.costs != nil || scenario.network.bandwidth != nil) && scenario.schedule == nil {
            hosts = HostModel(scenario: scenario, machineCount: machines.count, clientCount: clientCount, twinned: twinned)
        }
        // An explicit schedule (explore) decides every delivery itself: costs do not apply there.
        costed = scenario.costs != nil && scenario.schedule == nil
        if scenario.stop.untilClientsDone, let perClient = scenario.workload.requestsPerClient {
            completionsTarget = perClient * scenario.workload.clients
        } else {
            completionsTarget = nil
        }
        switch trace {
        case .off:
            traceSink = nil
            tracing = false
        case .hashOnly:
            traceSink = nil
            tracing = true
        case .full(let sink):
            traceSink = sink
            tracing = true
        }
        if tracing { hasher = TraceHasher() }
    }

    /// Same as the main initializer; a sink means `.full(sink)`, nil means `.hashOnly`.
    public convenience init(scenario: Scenario, machines: [any StateMachine], describe: @escaping MessageDescriber,
                            observer: @escaping (ObservationRecord) -> Void, trace sink: TraceSink?) {
        self.init(scenario: scenario, machines: machines, describe: describe, observer: observer,
                  trace: sink.map { .full($0) } ?? .hashOnly)
    }

    // MARK: Running

    /// Most events a run may process before it stops with `.eventBudget` (nil: no budget). The fuzzer
    /// sets one so that a run caught in a message storm ends in bounded time and is reported.
    public var eventsMax: Int?
    /// Asked every `memoryCheckInterval` events whether the run may go on (false: it stops with
    /// `.memoryBudget`). The shell supplies it (`bftsim run` reads the process's resident size); the
    /// simulator itself never looks at the machine, so runs that stay inside it are deterministic.
    public var memoryCheck: (@Sendable () -> Bool)?
    public static let memoryCheckInterval: UInt64 = 1 << 14
    /// Asked after every event whether the run should stop now (true: it stops with `.stopCondition`).
    /// The shell's own stop condition, e.g. a committed-block count read from the observations.
    public var shouldStop: (() -> Bool)?

    /// Runs the scenario to its stop condition. A simulator runs once.
    public func run() -> SimulationResult {
        precondition(!started, "a Simulator runs once")
        started = true
        if let steps = scenario.schedule { return runSchedule(steps) }
        // Faults first, so a fault at time 0 is in force before any machine starts.
        for (i, event) in scenario.timeline.enumerated() {
            schedule(at: max(0, event.at), .timeline(index: i))
        }
        for m in machines.indices { schedule(at: 0, .start(machine: m)) }
        for (tag, b) in scenario.byzantine.enumerated() where !b.isAlwaysOn {
            if let from = b.from { schedule(at: from, .layer(tag: tag, replica: b.replica, active: true)) }
            if let until = b.until { schedule(at: until, .layer(tag: tag, replica: b.replica, active: false)) }
        }
        if let first = scenario.twins?.roundPartitions?.first { network.partition(groups: first) }
        return finish(runEvents())
    }

    /// The event loop: pops and dispatches events until the queue empties or a stop condition holds.
    func runEvents() -> SimulationResult.StopReason {
        let timeLimit = scenario.stop.timeLimit
        let budget = eventsMax ?? .max
        var reason = SimulationResult.StopReason.noEvents
        while let event = queue.popMin() {
            if eventsProcessed >= budget {
                reason = .eventBudget
                break
            }
            if let memoryCheck, eventsProcessed & (Self.memoryCheckInterval - 1) == 0, eventsProcessed > 0, !memoryCheck() {
                reason = .memoryBudget
                break
            }
            let kind = eventKinds[Int(event.slot)].take()!
            freeEventSlots.append(event.slot)
            if event.time > timeLimit {
                now = timeLimit
                reason = .timeLimit
                break
            }
            now = event.time
            eventIndex = eventsProcessed
            eventsProcessed += 1
            dispatch(kind)
            if let target = completionsTarget, requestsCompleted >= target {
                reason = .clientsDone
                break
            }
            if let shouldStop, shouldStop() {
                reason = .stopCondition
                break
            }
        }
        return reason
    }

    func finish(_ reason: SimulationResult.StopReason) -> SimulationResult {
        traceSink?.flush()
        if traceHash == nil, var h = hasher {
            traceHash = h.finish()
            hasher = nil
        }
        var byType: [String: (sent: Int, delivered: Int)] = [:]
        for tag in 0..<256 where sentByTag[tag] > 0 || deliveredByTag[tag] > 0 {
            let name = nameByTag[tag] ?? "TAG-\(tag)"
            let old = byType[name] ?? (0, 0)
            byType[name] = (old.sent + sentByTag[tag], old.delivered + deliveredByTag[tag])
        }
        let typeCounts = byType.keys.sorted().map { name in
            SimulationResult.TypeCount(type: name, sent: byType[name]!.sent, delivered: byType[name]!.delivered)
        }
        return SimulationResult(
            endTime: now, eventsProcessed: eventsProcessed, staleTimersSkipped: staleTimersSkipped,
            messagesSent: messagesSent,
            messagesDelivered: messagesDelivered, messagesDuplicated: messagesDuplicated, messagesDropped: drops,
            messagesByType: typeCounts, bytesSent: bytesSent, traceHash: traceHash ?? .zero, traceLines: traceLines,
            stoppedBecause: reason, requestsCompleted: requestsCompleted,
            durable: storage.prefix(replicaCount).map(\.synced), hosts: hostUsage())
    }

    @inline(__always)
    func schedule(at time: Nanoseconds, _ kind: Event.Kind) {
        let slot: UInt32
        if let free = freeEventSlots.popLast() {
            slot = free
            eventKinds[Int(slot)] = kind
        } else {
            slot = UInt32(eventKinds.count)
            eventKinds.append(kind)
        }
        queue.insert(Event(time: time, sequence: nextSequence, slot: slot))
        nextSequence += 1
    }

    func dispatch(_ kind: Event.Kind) {
        switch kind {
        case .deliver(let from, let to, let id, let bytes):
            onDeliver(from: Int(from), to: Int(to), id: id, bytes: bytes)
        case .timer(let machine, let timer, let generation):
            onTimer(machine: Int(machine), timer: timer, generation: generation)
        case .timeline(let index):
            onTimeline(scenario.timeline[index].action)
        case .layer(let tag, let replica, let active):
            for m in instances[replica] { setLayer(machine: m, tag: tag, active: active) }
        case .restart(let machine):
            restart(machine)
        case .release(let from, let to, let id, let bytes):
            onRelease(from: Int(from), to: Int(to), id: id, bytes: bytes)
        case .complete(let machine, let incarnation, let actions, let syncs):
            onComplete(machine: Int(machine), incarnation: incarnation, actions, syncs: syncs)
        case .synced(let machine, let incarnation):
            onSynced(machine: Int(machine), incarnation: incarnation)
        case .start(let machine):
            guard !crashed[machine] else { return }
            if tracing {
                var line = TraceLine(kind: "start", time: now, event: eventIndex)
                line.set("node", names[machine])
                emit(line)
            }
            handle(machine: machine, .start)
        }
    }

    // MARK: Queries

    /// Whether the machine at `index` has crashed.
    public func isCrashed(_ index: Int) -> Bool { crashed[index] }

    /// What the machine at `index` has persisted so far.
    public func durableState(of index: Int) -> [String: [UInt8]] { storage[index].synced }
}

/// One scheduled happening. Ordered by (time, sequence): sequences are unique, so the order is total.
struct Event: Comparable {
    enum Kind {
        case deliver(from: Int32, to: Int32, id: UInt64, bytes: [UInt8])
        case timer(machine: Int32, timer: TimerID, generation: UInt64)
        case timeline(index: Int)
        case start(machine: Int)
        /// Switches a Byzantine layer (scenario entry `tag`) of every instance of `replica`.
        case layer(tag: Int, replica: Int, active: Bool)
        case restart(machine: Int)
        /// A held message leaves for delivery now (hold-and-release).
        case release(from: Int32, to: Int32, id: UInt64, bytes: [UInt8])
        /// A costed handler's CPU time is spent: its actions are carried out now, or after the sync
        /// its persists need (`syncs`; group commit, issue 15).
        case complete(machine: Int32, incarnation: UInt32, actions: [ReplicaAction], syncs: Bool)
        /// A machine's sync in flight is done (group commit, issue 15).
        case synced(machine: Int32, incarnation: UInt32)
    }
    var time: Nanoseconds
    var sequence: UInt64
    /// Index of the event's `Kind` in `Simulator.eventKinds`.
    var slot: UInt32

    @inline(__always)
    static func < (a: Event, b: Event) -> Bool {
        a.time != b.time ? a.time < b.time : a.sequence < b.sequence
    }
    @inline(__always)
    static func == (a: Event, b: Event) -> Bool { a.time == b.time && a.sequence == b.sequence }
}

/// A machine's storage: writes become durable only once synced (TigerBeetle-style storage model).
///
/// The simulator syncs a batch's writes before the first send of that batch (persist before send), so
/// anything a message depends on is durable; writes of a batch that sends nothing stay in the unsynced
/// tail until the next batch that sends. A crash loses the tail; a storage fault can also undo the
/// last synced writes (a misdirected or torn write), which breaks the durability honest replicas rely on.
struct Storage {
    static let historyMax = 256
    /// Whether synced writes are remembered for `undoLast` (only a scenario with such a storage fault needs it).
    var keepsHistory = true
    var synced: [String: [UInt8]] = [:]
    var unsynced: [(key: String, bytes: [UInt8])] = []
    /// Last synced writes, oldest first: (key, value before the write).
    var history = Deque<(key: String, previous: [UInt8]?)>()

    mutating func write(_ key: String, _ bytes: [UInt8]) { unsynced.append((key, bytes)) }

    mutating func sync() {
        // A replica's keys number a few dozen in a short run: one allocation instead of five resizes.
        if synced.isEmpty { synced.reserveCapacity(48) }
        for w in unsynced {
            // One hash per write: the replaced value comes back from the update.
            let previous = synced.updateValue(w.bytes, forKey: w.key)
            if keepsHistory { history.append((w.key, previous)) }
        }
        unsynced.removeAll(keepingCapacity: true)
        if history.count > Storage.historyMax { history.removeFirst(history.count - Storage.historyMax) }
    }

    mutating func loseUnsynced() { unsynced.removeAll() }

    mutating func undoLast(_ count: Int) {
        loseUnsynced()
        for _ in 0..<min(count, history.count) {
            let w = history.removeLast()
            synced[w.key] = w.previous
        }
    }
}

