import BFTCore
import BFTCrypto
import Checkers
import Runner
import ScenarioFormat

/// Bounds and switches of one exploration (`bftsim explore`).
public struct ExploreOptions: Sendable, Equatable {
    /// Most transitions on a path (deliveries, drops and timer firings).
    public var depth: Int
    /// Breadth-first instead of depth-first (same states; more memory; a shortest first violation).
    public var breadthFirst = false
    /// Sleep sets over independent transitions (Godefroid).
    public var partialOrderReduction = true
    /// Prune states already visited (by `ExploreState.fingerprint`).
    public var stateHashing = true
    /// Messages the adversary may lose on a path.
    public var drops = 0
    /// Only messages of these types (as the protocol's describer names them, `CostTable.messageTypes`)
    /// may be dropped; nil: any. Narrows the adversary to, say, lost view-change traffic, which keeps
    /// deeper drop budgets affordable. `TYPE:K` also caps that type at K drops per path (within `drops`),
    /// e.g. `REQUEST:1`: one replica may miss a request, but not so many that no correct replica can
    /// act on it before the client retransmits.
    public var dropTypes: [String]?
    /// Timer firings allowed on a path (view-change/pacemaker timeouts, client retransmissions).
    public var timeouts = 1
    /// Delay bounding (Emmi, Qadeer & Rakamarić, "Delay-bounded scheduling", POPL'11): nil explores every
    /// interleaving; K follows one default schedule and deviates from it at most K times per path, which
    /// reaches far deeper (view changes, checkpoints) at a bounded cost. The default schedule delivers
    /// messages in send order (FIFO) and, when nothing is in flight, fires the timer armed longest ago;
    /// delivering the i-th message in flight instead of the first costs i delays, firing a timer while
    /// messages are in flight (or another than the oldest) costs 1. Timer firings are not budgeted by
    /// `timeouts` in this mode (time passing when the network is idle is the default, not a fault);
    /// drops and restarts keep their own budgets. Sleep sets are off (they are unsound under a bound on
    /// deviations); state caching keeps a state's least depth and most delays left.
    public var delays: Int?
    /// Crash-restarts of a replica allowed on a path: the replica loses its unsynced writes and armed
    /// timers and recovers from what it synced (`.recover(durable:)`), as the simulator's `restart` does.
    public var restarts = 0
    /// Identify a machine by its own canonical state hash where it has one (`StateFingerprinting`),
    /// else (and when off) by the hash of its input history (sound for any deterministic machine, merges less).
    public var protocolFingerprints = true
    /// Stop after this many distinct states (nil: no limit).
    public var statesMax: Int?
    /// Liveness after the faults (`--liveness`): at every new state whose last transition was a fault (a
    /// drop or a crash-restart), the path so far plus `gst` runs through the simulator, whose network
    /// model then delivers everything and whose timers run in full. Partial synchrony's promise (Dwork,
    /// Lynch & Stockmeyer 1988): once faults stop, the protocol recovers, whatever the faults did before.
    /// nil: off.
    public var livenessAfterFaults: LivenessAfterFaults?
    /// What "recovers" means for `livenessAfterFaults`.
    public enum LivenessAfterFaults: String, Sendable, Equatable {
        /// Every request completes before the run ends (`--liveness`): robust to timeouts that backed off
        /// during the faults.
        case recovers
        /// Every request completes within the scenario's liveness bound of GST (`--liveness-bound`), as
        /// `bftsim run` judges; stricter, and honest protocols may need a bound above their largest
        /// backed-off timeout.
        case withinBound = "within-bound"
    }
    /// Keep exploring after the first violation (collects up to `violationsMax`).
    public var continueAfterViolation = false
    public var violationsMax = 16

    public init(depth: Int) { self.depth = depth }
}

/// Counters of an exploration; deterministic for a scenario, driver and options.
public struct ExploreStats: Sendable, Equatable {
    /// Distinct states reached (with hashing off: nodes of the search tree).
    public var states = 0
    /// Transitions carried out (each one `handle` call, or a drop).
    public var transitions = 0
    /// Successors pruned because an equal state was already explored at no greater depth.
    public var hashHits = 0
    /// Transitions skipped because they were in the state's sleep set.
    public var sleepPruned = 0
    /// Deepest path explored.
    public var depthReached = 0
    /// States in which nothing was enabled (no message in flight, no timer or budget left).
    public var quiescent = 0
    /// States at the depth bound (not expanded).
    public var atBound = 0
    /// Safety checks run (at states whose last transition committed, executed, voted, locked, ...).
    public var checks = 0
    /// Transitions not taken because they would exceed the delay bound (`ExploreOptions.delays`).
    public var delayPruned = 0
    /// States waiting to be expanded (BFS queue or DFS stack) when the last report was made.
    public var frontier = 0
    /// Simulator runs that checked liveness after a fault (`ExploreOptions.livenessAfterFaults`).
    public var livenessChecks = 0

    /// hits / (hits + states): how much of what was generated was already known.
    public var hashHitRatio: Double { states + hashHits == 0 ? 0 : Double(hashHits) / Double(states + hashHits) }
    /// sleep-pruned / (sleep-pruned + transitions): how much partial-order reduction saved.
    public var porPruningRatio: Double {
        sleepPruned + transitions == 0 ? 0 : Double(sleepPruned) / Double(sleepPruned + transitions)
    }
}

/// A safety violation and the path that reaches it.
public struct ExploreViolation: Sendable {
    public var violation: Violation
    public var steps: [ScheduleStep]
}

/// Why an exploration ended.
public enum ExploreStop: String, Sendable, Equatable {
    /// Every state within the bound was explored.
    case exhausted
    /// A violation was found (and `continueAfterViolation` was off).
    case violation
    /// `statesMax` was reached.
    case statesMax = "states-max"
    /// The caller asked to stop (SIGINT, --max-seconds).
    case interrupted
}

public struct ExploreResult: Sendable {
    public var stats: ExploreStats
    public var stop: ExploreStop
    public var violations: [ExploreViolation]
    /// Requests the clients issue in the scenario (closed loop: clients × requests per client).
    public var requestsTotal: Int
    /// The first path (in search order) on which every request completed at its client: the bounded
    /// liveness witness ("some schedule within the bound commits"). Nil: none within the bound.
    public var completionWitness: [ScheduleStep]?
    /// Paths to the states not yet expanded when the search stopped early (empty when exhausted).
    public var frontier: [[ScheduleStep]]
    /// Every distinct fingerprint reached, sorted (only when `Explorer.recordsFingerprints`).
    public var fingerprints: [UInt64]
}

/// Bounded exhaustive exploration of the real replica state machines (issue 17).
///
/// A state is every machine of the scenario (replicas as `ScenarioRun.makeReplica` builds them, Byzantine
/// layers included, and the clients), the multiset of messages in flight, the armed timers and the fault
/// budgets left (`ExploreState`). A transition delivers one message in flight, drops one (within
/// `drops`), fires one armed timer (within `timeouts`) or crashes and restarts a replica (within
/// `restarts`; it recovers from the writes it synced, as in the simulator); each runs the machine's real `handle` and its
/// batch through `Runtime.interpret`, the contract every shell shares. This is stateless model checking of
/// implementation code in the manner of CHESS (Musuvathi et al., OSDI'08), with the network as the
/// scheduler, as Twins (Bano et al., OPODIS'21) schedules BFT messages, but exhaustive within the bound.
///
/// Reductions:
/// - **State caching**: a successor whose fingerprint was explored at no greater depth is pruned. The
///   depth is stored with it, because in depth-bounded search a state first met deep must be expanded
///   again when met shallower.
/// - **Sleep sets** (Godefroid, "Partial-Order Methods for the Verification of Concurrent Systems",
///   LNCS 1032, 1996, ch. 5; Flanagan & Godefroid, POPL'05 for the dynamic variant): two transitions at
///   different machines are independent (each touches only its machine, removes its own message and
///   adds to the multiset), unless both spend one shared budget (two drops, two timer firings). After
///   exploring t from s, t sleeps in the successors of s's later siblings that are independent of it.
///   Sleep sets never lose a reachable state; combined with caching, the sleep set is stored with the
///   state and a revisit with a smaller one explores only what slept before (Godefroid §6.4).
///
/// Safety checks run the ordinary `InvariantChecker` over the observations of the path, at every state
/// whose last transition produced a safety-relevant observation. Deterministic: machines are value
/// copies, collections that decide order are arrays, fingerprints are SplitMix/FNV over canonical values.
public final class Explorer {
    public let scenario: Scenario
    public let options: ExploreOptions
    /// The protocol (honest or a mutant) the machines run; the simulator replays with it.
    let driver: any ProtocolDriver
    /// Called every `progressInterval` transitions with the counters so far.
    public var progress: ((ExploreStats) -> Void)?
    public var progressInterval = 1 << 14
    /// Asked every 1024 transitions; true stops the search (`ExploreStop.interrupted`).
    public var shouldStop: (() -> Bool)?
    /// Collect every fingerprint into the result (tests compare reductions with it).
    public var recordsFingerprints = false

    let n: Int
    let principals: [Principal]
    /// `options.dropTypes` parsed: each droppable type and its per-path cap, if any.
    let dropFilter: [(type: String, cap: Int?)]?
    let initial: ExploreState
    let checkerConfig: CheckerConfig
    let requestsTotal: Int
    var stats = ExploreStats()
    var visited: [UInt64: Visit] = [:]
    var violations: [ExploreViolation] = []
    var completionWitness: [ScheduleStep]?
    // Scratch filled by `ExploreSink` during one `handle`.
    var actionBuffer: [ReplicaAction] = []
    var sends: [(bytes: [UInt8], to: Int)] = []
    var timerChanges: [(timer: TimerID, armed: Bool)] = []
    var observed: [Observation] = []
    /// Persists (key, bytes) and syncs (nil) of one batch, in order (only when restarts are explored).
    var storageOps: [(key: String, bytes: [UInt8])?] = []

    /// What is stored per visited state: the least depth it was expanded at and its sleep set then.
    struct Visit {
        var depth: Int
        var sleep: [UInt64]
        /// Delays left when it was expanded (delay bounding only; 0 otherwise).
        var delays = 0
    }

    /// One enabled transition. `key` names it across states (sleep sets); `target` is the machine it
    /// changes (-1: none but the shared drop budget).
    struct Transition {
        enum Kind: UInt8 { case deliver, drop, fire, restart }
        var kind: Kind
        var key: UInt64
        var target: Int
        var timer: TimerID
        /// Delays this transition spends under delay bounding (its distance from the default schedule).
        var cost = 0

        /// Independent transitions commute and neither disables the other.
        func isIndependent(of other: Transition) -> Bool {
            if kind == .drop || other.kind == .drop { return false }
            if target == other.target { return false }
            if kind == .fire && other.kind == .fire { return false }  // one timeout budget
            if kind == .restart && other.kind == .restart { return false }  // one restart budget
            return true
        }
    }

    /// A state waiting to be (or being) expanded.
    struct Node {
        var state: ExploreState
        var depth: Int
        var enabled: [Transition]
        var next = 0
        var sleep: [Transition]
        /// On a revisit at the same depth: only these transitions are new (they slept before).
        var only: [UInt64]?
        /// Delays left on the path (delay bounding only).
        var delays = 0
    }

    /// Builds the machines of `scenario` with `driver` (honest, or a test mutant's). Twins and timelines
    /// are not explored: the adversary here is the explorer's own drops and timer firings.
    public init(scenario: Scenario, driver: any ProtocolDriver, options: ExploreOptions) throws(RunError) {
        guard scenario.twins == nil else { throw .unsupported("explore does not model Twins; use `bftsim fuzz --strategy twins`") }
        guard scenario.timeline.isEmpty else {
            throw .unsupported("explore ignores timelines: the explorer itself drops messages (--drops) and fires timers (--timeouts); remove 'timeline'")
        }
        guard options.depth >= 0 else { throw .unsupported("--depth must be at least 0") }
        guard (options.delays ?? 0) >= 0 else { throw .unsupported("--delays must be at least 0") }
        var dropFilter: [(type: String, cap: Int?)]?
        if let entries = options.dropTypes {
            dropFilter = []
            for entry in entries {
                let parts = entry.split(separator: ":", omittingEmptySubsequences: false).map(String.init)
                guard CostTable.messageTypes.contains(parts[0]) else {
                    throw .unsupported("--drop-types: unknown message type '\(parts[0])' (known: \(CostTable.messageTypes.joined(separator: ", ")))")
                }
                guard parts.count <= 2, parts.count == 1 || Int(parts[1]).map({ $0 >= 0 }) == true else {
                    throw .unsupported("--drop-types: '\(entry)' is not TYPE or TYPE:K with K a whole number of drops")
                }
                dropFilter!.append((parts[0], parts.count == 2 ? Int(parts[1]) : nil))
            }
        }
        self.dropFilter = dropFilter
        self.scenario = scenario
        self.driver = driver
        var options = options
        if options.delays != nil { options.partialOrderReduction = false }
        self.options = options
        n = scenario.replicas
        let keyring = Keyring(scheme: scenario.crypto, seed: scenario.seed, replicas: scenario.replicas, clients: scenario.workload.clients)
        let machines = try ScenarioRun.buildMachines(scenario, driver: driver, keyring: keyring)
        principals = machines.map(\.principal)
        var config = ScenarioRun.checkerConfig(for: scenario)
        config.retainedSequences = 256
        config.retainedViews = 256
        config.recordsLatencies = false
        checkerConfig = config
        if case .closed = scenario.workload.mode {
            requestsTotal = (scenario.workload.requestsPerClient ?? 0) * scenario.workload.clients
        } else {
            requestsTotal = 0
        }
        var state = ExploreState(machines: machines, drops: options.drops, timeouts: options.timeouts)
        state.tracksArmOrder = options.delays != nil
        if dropFilter?.contains(where: { $0.cap != nil }) == true { state.dropsByType = Array(repeating: 0, count: dropFilter!.count) }
        state.allowRestarts(options.restarts)
        initial = state
        initialStarted = state
        // Machines start in index order, as the simulator starts them at time 0.
        for m in machines.indices { handle(&state, machine: m, .start, depth: 0) }
        for m in machines.indices { state.rehash(m, protocolFingerprint: options.protocolFingerprints) }
        initialStarted = state
    }

    /// Per machine: whether it is identified by its own protocol-state hash (`StateFingerprinting`) rather
    /// than by its input history.
    public var fingerprintedMachines: [Bool] {
        initialStarted.machines.map { options.protocolFingerprints && $0 is any StateFingerprinting }
    }

    /// The state after every machine handled `.start` (the root of the search).
    var initialStarted: ExploreState

    // MARK: Search

    public func run(resumeFrom roots: [[ScheduleStep]]? = nil) -> ExploreResult {
        var roots2: [(ExploreState, Int)] = []
        if let roots {
            for path in roots {
                guard let (s, d) = replay(path) else { continue }
                roots2.append((s, d))
            }
        } else {
            roots2 = [(initialStarted, 0)]
        }
        if let v = check(initialStarted), roots == nil {
            violations.append(ExploreViolation(violation: v, steps: []))
            return result(.violation, frontier: [])
        }
        return options.breadthFirst ? breadthFirst(roots2) : depthFirst(roots2)
    }

    func depthFirst(_ roots: [(ExploreState, Int)]) -> ExploreResult {
        var stop = ExploreStop.exhausted
        var stack: [Node] = []
        for (s, d) in roots.reversed() { if let node = visit(s, depth: d, sleep: [], delays: options.delays ?? 0) { stack.append(node) } }
        while !stack.isEmpty {
            if let reason = shouldHalt() {
                stop = reason
                break
            }
            let top = stack.count - 1
            guard stack[top].next < stack[top].enabled.count else {
                stack.removeLast()
                continue
            }
            stats.frontier = stack.count
            if let child = expandNext(&stack[top]) { stack.append(child) }
        }
        // The frontier of a depth-first search: each stack state's transitions not yet taken (and not
        // asleep), as paths to the roots of the unexplored subtrees.
        var frontier: [[ScheduleStep]] = []
        if stop != .exhausted && stop != .violation {
            for node in stack {
                let path = Trail.elements(node.state.trail)
                for t in node.enabled[node.next...] where !node.sleep.contains(where: { $0.key == t.key }) {
                    if let only = node.only, !only.contains(t.key) { continue }
                    frontier.append(path + [step(for: t, in: node.state)])
                }
            }
        }
        return result(stop, frontier: frontier)
    }

    /// The schedule step that carries out `t` in `s`.
    func step(for t: Transition, in s: ExploreState) -> ScheduleStep {
        switch t.kind {
        case .deliver:
            let e = s.pending.first { $0.key == t.key }!
            return .deliver(from: e.from, to: e.to, message: e.hash)
        case .drop:
            let e = s.pending.first { mix64($0.key ^ 0xD809) == t.key }!
            return .drop(from: e.from, to: e.to, message: e.hash)
        case .fire:
            return .timer(node: t.target, kind: t.timer.kind, key: t.timer.key)
        case .restart:
            return .restart(node: t.target)
        }
    }

    func breadthFirst(_ roots: [(ExploreState, Int)]) -> ExploreResult {
        var stop = ExploreStop.exhausted
        var queue: [Node] = []
        var head = 0
        for (s, d) in roots { if let node = visit(s, depth: d, sleep: [], delays: options.delays ?? 0) { queue.append(node) } }
        outer: while head < queue.count {
            var node = queue[head]
            queue[head].state = initial  // release the expanded state's memory
            while node.next < node.enabled.count {
                if let reason = shouldHalt() {
                    stop = reason
                    queue[head] = node
                    break outer
                }
                stats.frontier = queue.count - head
                if let child = expandNext(&node) { queue.append(child) }
            }
            head += 1
            if head > 4096 && head * 2 > queue.count {
                queue.removeFirst(head)
                head = 0
            }
        }
        let frontier = stop == .exhausted || stop == .violation ? [] : queue[head...].map { Trail.elements($0.state.trail) }
        return result(stop, frontier: frontier)
    }

    private func shouldHalt() -> ExploreStop? {
        if !violations.isEmpty && (!options.continueAfterViolation || violations.count >= options.violationsMax) { return .violation }
        if let max = options.statesMax, stats.states >= max { return .statesMax }
        if stats.transitions & 1023 == 0, let shouldStop, shouldStop() { return .interrupted }
        return nil
    }

    private func result(_ stop: ExploreStop, frontier: [[ScheduleStep]]) -> ExploreResult {
        ExploreResult(stats: stats, stop: stop, violations: violations, requestsTotal: requestsTotal,
                      completionWitness: completionWitness, frontier: frontier,
                      fingerprints: recordsFingerprints ? visited.keys.sorted() : [])
    }

    /// Takes the node's next transition: skipped if asleep (or explored on an earlier visit), else
    /// carried out; returns the successor when it is to be expanded.
    func expandNext(_ node: inout Node) -> Node? {
        let t = node.enabled[node.next]
        node.next += 1
        if options.partialOrderReduction, node.sleep.contains(where: { $0.key == t.key }) {
            stats.sleepPruned += 1
            return nil
        }
        if let only = node.only, !only.contains(t.key) { return nil }
        if t.cost > node.delays {
            stats.delayPruned += 1
            return nil
        }
        let childSleep = options.partialOrderReduction ? node.sleep.filter { $0.isIndependent(of: t) } : []
        if options.partialOrderReduction { node.sleep.append(t) }
        var child = node.state
        let checkNeeded = apply(t, to: &child, depth: node.depth + 1)
        stats.transitions += 1
        if stats.transitions % progressInterval == 0 { progress?(stats) }
        stats.depthReached = max(stats.depthReached, node.depth + 1)
        if completionWitness == nil, requestsTotal > 0, child.completed >= requestsTotal {
            completionWitness = Trail.elements(child.trail)
        }
        return visit(child, depth: node.depth + 1, sleep: childSleep, delays: node.delays - t.cost, checkNeeded: checkNeeded,
                     afterFault: t.kind == .drop || t.kind == .restart)
    }

    /// Records a reached state and decides whether (and what of it) to expand.
    ///
    /// The safety check runs only on a state seen for the first time: a state already visited was
    /// checked then, and what the checkers judge (commits, executions, votes, locks) is part of every
    /// replica's state and so of its fingerprint.
    func visit(_ state: ExploreState, depth: Int, sleep: [Transition], delays: Int, checkNeeded: Bool = false,
               afterFault: Bool = false) -> Node? {
        var only: [UInt64]?
        var isNew = !options.stateHashing
        if options.stateHashing {
            let fp = state.fingerprint
            let keys = sleep.map(\.key).sorted()
            if let v = visited[fp] {
                let covered = v.sleep.allSatisfy { keys.contains($0) }  // stored sleep ⊆ current sleep
                // Under delay bounding a state is covered when it was expanded no deeper and with no
                // fewer delays left (everything reachable from here was reachable from there).
                if depth >= v.depth && covered && delays <= v.delays {
                    stats.hashHits += 1
                    return nil
                }
                if options.delays != nil {
                    visited[fp] = Visit(depth: depth, sleep: [], delays: delays)  // expanded again, with this bound
                } else if depth < v.depth {
                    visited[fp] = Visit(depth: depth, sleep: keys)
                } else {
                    only = v.sleep.filter { !keys.contains($0) }
                    visited[fp]!.sleep = v.sleep.filter { keys.contains($0) }
                }
            } else {
                visited[fp] = Visit(depth: depth, sleep: keys, delays: delays)
                stats.states += 1
                isNew = true
            }
        } else {
            stats.states += 1
        }
        if checkNeeded, isNew, let v = check(state) {
            violations.append(ExploreViolation(violation: v, steps: Trail.elements(state.trail)))
            return nil
        }
        if afterFault, isNew, let mode = options.livenessAfterFaults {
            stats.livenessChecks += 1
            let steps = Trail.elements(state.trail) + [.gst]
            if let v = ExploreReplay.livenessAfterGST(ExploreReplay.scenario(scenario, steps: steps), driver: driver,
                                                      withinBound: mode == .withinBound) {
                violations.append(ExploreViolation(violation: v, steps: steps))
                return nil
            }
        }
        if depth >= options.depth {
            stats.atBound += 1
            return nil
        }
        let enabled = enabledTransitions(state)
        if enabled.isEmpty {
            stats.quiescent += 1
            return nil
        }
        return Node(state: state, depth: depth, enabled: enabled, sleep: sleep, only: only, delays: delays)
    }

    /// Deliveries in send order, then drops, then timer firings by machine and (kind, key); identical
    /// messages (same sender, receiver and bytes) are one transition.
    func enabledTransitions(_ s: ExploreState) -> [Transition] {
        var out: [Transition] = []
        out.reserveCapacity(s.pending.count * (s.dropsLeft > 0 ? 2 : 1) + 4)
        var seen: [UInt64] = []
        seen.reserveCapacity(s.pending.count)
        var droppable: [UInt64] = []
        let bounded = options.delays != nil
        for e in s.pending where !seen.contains(e.key) {
            // Delay bounding: the i-th distinct message in send order postpones the i before it.
            out.append(Transition(kind: .deliver, key: e.key, target: e.to, timer: TimerID(kind: 0), cost: bounded ? seen.count : 0))
            seen.append(e.key)
            if s.dropsLeft > 0, droppableType(e.bytes, s) != nil { droppable.append(e.key) }
        }
        for key in droppable { out.append(Transition(kind: .drop, key: mix64(key ^ 0xD809), target: -1, timer: TimerID(kind: 0))) }
        if s.timeoutsLeft > 0 || bounded {
            for (m, timers) in s.armed.enumerated() {
                for t in timers {
                    // Default: the oldest armed timer, once nothing is in flight.
                    let oldest = s.armOrder.first.map { $0.machine == m && $0.timer == t } ?? false
                    let cost = seen.isEmpty && oldest ? 0 : 1
                    out.append(Transition(kind: .fire, key: Self.timerKey(machine: m, t), target: m, timer: t, cost: bounded ? cost : 0))
                }
            }
        }
        if s.restartsLeft > 0 {
            for m in 0..<n { out.append(Transition(kind: .restart, key: Self.restartKey(m), target: m, timer: TimerID(kind: 0))) }
        }
        return out
    }

    /// Whether the adversary may drop this message now: its index in `dropFilter` (0 without one),
    /// nil when its type is not listed or its cap is spent.
    func droppableType(_ bytes: [UInt8], _ s: ExploreState) -> Int? {
        guard let dropFilter else { return 0 }
        let type = driver.describe(bytes).type
        guard let k = dropFilter.firstIndex(where: { $0.type == type }) else { return nil }
        if let cap = dropFilter[k].cap, s.dropsByType[k] >= cap { return nil }
        return k
    }

    static func restartKey(_ m: Int) -> UInt64 { mix64(UInt64(m) &+ 0x2E57_A27) }

    static func timerKey(machine m: Int, _ t: TimerID) -> UInt64 {
        combine(combine(UInt64(m) &+ 0x7173, UInt64(t.kind)), t.key)
    }

    // MARK: Transitions

    /// Carries out `t` on `s`; returns whether the machine produced an observation the safety checkers judge.
    func apply(_ t: Transition, to s: inout ExploreState, depth: Int) -> Bool {
        switch t.kind {
        case .deliver:
            let i = s.pending.firstIndex { $0.key == t.key }!
            let e = s.removePending(at: i)
            s.trail = Trail(.deliver(from: e.from, to: e.to, message: e.hash), parent: s.trail)
            s.histories[e.to] = combine(s.histories[e.to], e.key)
            return handle(&s, machine: e.to, .message(from: principals[e.from], bytes: e.bytes), depth: depth)
        case .drop:
            let i = s.pending.firstIndex { mix64($0.key ^ 0xD809) == t.key }!
            let e = s.removePending(at: i)
            s.dropsLeft -= 1
            if !s.dropsByType.isEmpty, let k = droppableType(e.bytes, s) { s.dropsByType[k] += 1 }
            s.trail = Trail(.drop(from: e.from, to: e.to, message: e.hash), parent: s.trail)
            return false
        case .fire:
            s.disarm(t.timer, machine: t.target)
            if options.delays == nil { s.timeoutsLeft -= 1 }
            s.trail = Trail(.timer(node: t.target, kind: t.timer.kind, key: t.timer.key), parent: s.trail)
            s.histories[t.target] = combine(s.histories[t.target], t.key)
            return handle(&s, machine: t.target, .timer(t.timer), depth: depth)
        case .restart:
            // The simulator's crash + restart: unsynced writes and armed timers are lost, the machine is
            // rebuilt as the scenario built it and recovers from its synced storage.
            let m = t.target
            s.restartsLeft -= 1
            s.trail = Trail(.restart(node: m), parent: s.trail)
            s.histories[m] = combine(s.histories[m], t.key)
            s.machines[m] = initial.machines[m]
            s.armed[m] = []
            s.armOrder.removeAll { $0.machine == m }
            s.unsynced[m] = []
            s.storageHashes[m] = combine(s.storageHashes[m], t.key)
            let (restarted, recover) = Runtime.restartInputs(durable: s.durable[m])
            s.records = RecordTrail(ObservationRecord(time: Nanoseconds(depth) * nanosPerMillisecond, eventIndex: UInt64(depth),
                                                      source: principals[m], observation: restarted), parent: s.records)
            return handle(&s, machine: m, recover, depth: depth)
        }
    }

    /// Runs one input through the machine and its batch through `Runtime.interpret`, as the simulator
    /// does: sends join the multiset (replies to a client that finished its workload are dropped, as it
    /// ignores them), timers are armed or disarmed, observations extend the path's records.
    @discardableResult
    func handle(_ s: inout ExploreState, machine m: Int, _ input: ReplicaInput, depth: Int) -> Bool {
        actionBuffer.removeAll(keepingCapacity: true)
        s.machines[m].handle(input, into: &actionBuffer)
        sends.removeAll(keepingCapacity: true)
        timerChanges.removeAll(keepingCapacity: true)
        observed.removeAll(keepingCapacity: true)
        storageOps.removeAll(keepingCapacity: true)
        var table = TimerTable()
        var sink = ExploreSink(explorer: self, sender: m)
        Runtime.interpret(actionBuffer, sender: principals[m], timers: &table, into: &sink)
        var lastBytes: [UInt8]?
        var lastHash: UInt64 = 0
        for (bytes, to) in sends {
            if to >= n, let client = s.machines[to] as? Client, client.isFinished { continue }
            // A broadcast sends one buffer to several replicas: hash it once.
            if lastBytes == nil || lastBytes! != bytes {
                lastHash = ScheduleStep.messageHash(bytes)
                lastBytes = bytes
            }
            s.addPending(Envelope(from: m, to: to, bytes: bytes, hash: lastHash))
        }
        if !s.storageHashes.isEmpty {
            for op in storageOps {
                if let (key, bytes) = op {
                    s.unsynced[m].append((key, bytes))
                    s.storageHashes[m] = combine(combine(s.storageHashes[m], ScheduleStep.messageHash(Array(key.utf8))), ScheduleStep.messageHash(bytes))
                } else if !s.unsynced[m].isEmpty {
                    for w in s.unsynced[m] { s.durable[m][w.key] = w.bytes }
                    s.unsynced[m].removeAll()
                    s.storageHashes[m] = combine(s.storageHashes[m], 0x5F4C)
                }
            }
        }
        s.rehash(m, protocolFingerprint: options.protocolFingerprints)
        for (timer, armed) in timerChanges {
            if armed { s.arm(timer, machine: m) } else { s.disarm(timer, machine: m) }
        }
        var checkNeeded = false
        for o in observed {
            switch o {
            case .rejected, .pendingRequests, .highQC: continue
            case .committed, .executed, .voted, .blockCertified, .blockCommitted, .locked, .stateTransferred: checkNeeded = true
            case .requestCompleted:
                checkNeeded = true
                s.completed += 1
            default: break
            }
            let record = ObservationRecord(time: Nanoseconds(depth) * nanosPerMillisecond, eventIndex: UInt64(depth),
                                           source: principals[m], observation: o)
            s.records = RecordTrail(record, parent: s.records)
        }
        return checkNeeded
    }

    /// The first safety violation of the path's observations, by the ordinary checkers.
    func check(_ s: ExploreState) -> Violation? {
        stats.checks += 1
        let checker = InvariantChecker(config: checkerConfig)
        checker.observe(contentsOf: RecordTrail.elements(s.records))
        guard checker.safetyViolated else { return nil }
        return checker.detectedViolations.first { $0.kind.isSafety }
    }

    /// The state a path reaches from the start (nil if a step names nothing enabled), and its length.
    func replay(_ steps: [ScheduleStep]) -> (ExploreState, Int)? {
        var s = initialStarted
        for (k, step) in steps.enumerated() {
            let enabled = enabledTransitions(s)
            let match: Transition?
            switch step {
            case .deliver(let from, let to, let hash):
                match = enabled.first { $0.kind == .deliver && $0.key == Envelope(from: from, to: to, bytes: [], hash: hash).key }
            case .drop(let from, let to, let hash):
                match = enabled.first { $0.kind == .drop && $0.key == mix64(Envelope(from: from, to: to, bytes: [], hash: hash).key ^ 0xD809) }
            case .timer(let m, let kind, let key):
                match = enabled.first { $0.kind == .fire && $0.key == Self.timerKey(machine: m, TimerID(kind: kind, key: key)) }
            case .restart(let m):
                match = enabled.first { $0.kind == .restart && $0.key == Self.restartKey(m) }
            case .gst:
                match = nil  // the end of a checked path, never a transition of the search
            }
            guard let t = match else { return nil }
            _ = apply(t, to: &s, depth: k + 1)
        }
        return (s, steps.count)
    }
}

/// The explorer as an `EffectSink`: collects one batch's effects for `Explorer.handle` to apply.
struct ExploreSink: EffectSink {
    unowned let explorer: Explorer
    let sender: Int

    func persist(key: String, bytes: [UInt8]) {
        if explorer.options.restarts > 0 { explorer.storageOps.append((key, bytes)) }
    }
    func sync() {
        if explorer.options.restarts > 0 { explorer.storageOps.append(nil) }
    }
    func send(_ bytes: [UInt8], to: Principal) {
        switch to {
        case .replica(let r):
            guard r >= 0, r < explorer.n else { return }
            explorer.sends.append((bytes, r))
        case .client(let c):
            let index = explorer.n + c
            guard c >= 0, index < explorer.principals.count else { return }
            explorer.sends.append((bytes, index))
        }
    }
    func broadcast(_ bytes: [UInt8]) {
        for r in 0..<explorer.n where r != sender { explorer.sends.append((bytes, r)) }
    }
    func setTimer(_ timer: TimerID, after: Nanoseconds, generation: UInt64) { explorer.timerChanges.append((timer, true)) }
    func cancelTimer(_ timer: TimerID) { explorer.timerChanges.append((timer, false)) }
    func observe(_ observation: Observation) { explorer.observed.append(observation) }
}
