import BFTCore
import HeapModule
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
    var queue = Heap<Event>()
    var nextSequence: UInt64 = 0
    var nextMessageID: UInt64 = 0
    /// Generation of each armed timer per machine; an event whose generation differs is stale.
    var timerGenerations: [[TimerID: UInt64]]
    var nextGeneration: UInt64 = 1
    var durable: [[String: [UInt8]]]
    var actionBuffer: [ReplicaAction] = []
    /// Reused for rendering trace lines.
    var traceBuffer: [UInt8] = []
    var hasher: TraceHasher?
    var traceHash: Digest?
    /// The simulated time of the event being processed.
    public private(set) var now: Nanoseconds = 0
    /// Index of the event being processed.
    var eventIndex: UInt64 = 0
    var started = false

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
    public init(scenario: Scenario, machines: [any StateMachine], describe: @escaping MessageDescriber,
                observer: @escaping (ObservationRecord) -> Void, trace: TraceMode = .hashOnly) {
        let n = scenario.replicas
        precondition(machines.count >= n, "fewer machines than replicas")
        var principals: [Principal] = []
        for (i, m) in machines.enumerated() {
            let expected: Principal = i < n ? .replica(i) : .client(i - n)
            precondition(m.principal == expected, "machine \(i) is \(m.principal), expected \(expected)")
            principals.append(expected)
        }
        self.scenario = scenario
        self.replicaCount = n
        self.describe = describe
        self.observer = observer
        self.machines = machines
        self.principals = principals
        self.names = principals.map(\.description)
        self.crashed = Array(repeating: false, count: machines.count)
        self.timerGenerations = Array(repeating: [:], count: machines.count)
        self.durable = Array(repeating: [:], count: machines.count)
        self.network = NetworkModel(spec: scenario.network, replicaCount: n, seed: scenario.seed)
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

    /// Runs the scenario to its stop condition. A simulator runs once.
    public func run() -> SimulationResult {
        precondition(!started, "a Simulator runs once")
        started = true
        // Faults first, so a fault at time 0 is in force before any machine starts.
        for (i, event) in scenario.timeline.enumerated() {
            schedule(at: max(0, event.at), .timeline(index: i))
        }
        for m in machines.indices { schedule(at: 0, .start(machine: m)) }

        let timeLimit = scenario.stop.timeLimit
        var reason = SimulationResult.StopReason.noEvents
        while let event = queue.popMin() {
            if event.time > timeLimit {
                now = timeLimit
                reason = .timeLimit
                break
            }
            now = event.time
            eventIndex = eventsProcessed
            eventsProcessed += 1
            dispatch(event)
            if let target = completionsTarget, requestsCompleted >= target {
                reason = .clientsDone
                break
            }
        }
        return finish(reason)
    }

    private func finish(_ reason: SimulationResult.StopReason) -> SimulationResult {
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
            durable: Array(durable.prefix(replicaCount)))
    }

    @inline(__always)
    func schedule(at time: Nanoseconds, _ kind: Event.Kind) {
        queue.insert(Event(time: time, sequence: nextSequence, kind: kind))
        nextSequence += 1
    }

    private func dispatch(_ event: Event) {
        switch event.kind {
        case .deliver(let from, let to, let id, let bytes):
            onDeliver(from: Int(from), to: Int(to), id: id, bytes: bytes)
        case .timer(let machine, let timer, let generation):
            onTimer(machine: Int(machine), timer: timer, generation: generation)
        case .timeline(let index):
            onTimeline(scenario.timeline[index].action)
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
    public func durableState(of index: Int) -> [String: [UInt8]] { durable[index] }
}

/// One scheduled happening. Ordered by (time, sequence): sequences are unique, so the order is total.
struct Event: Comparable {
    enum Kind {
        case deliver(from: Int32, to: Int32, id: UInt64, bytes: [UInt8])
        case timer(machine: Int32, timer: TimerID, generation: UInt64)
        case timeline(index: Int)
        case start(machine: Int)
    }
    var time: Nanoseconds
    var sequence: UInt64
    var kind: Kind

    @inline(__always)
    static func < (a: Event, b: Event) -> Bool {
        a.time != b.time ? a.time < b.time : a.sequence < b.sequence
    }
    @inline(__always)
    static func == (a: Event, b: Event) -> Bool { a.time == b.time && a.sequence == b.sequence }
}
