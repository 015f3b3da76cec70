import BFTCore
import ScenarioFormat
import Testing
@testable import Simulation

/// The cost engine of issue 15: CPU time per handled message on hosts with cores, link serialisation.
@Suite("cost engine")
struct CostEngineTests {
    static let ms = nanosPerMillisecond

    /// A receiver that reports each message it handled as a completed request, so the completion is
    /// stamped when its CPU time is spent.
    struct Worker: StateMachine {
        let principal: Principal
        var handled: UInt64 = 0
        mutating func handle(_ input: ReplicaInput, into actions: inout [ReplicaAction]) {
            guard case .message = input else { return }
            handled += 1
            actions.append(.observe(.requestCompleted(request: RequestID(client: 0, timestamp: handled), result: .zero)))
        }
    }

    /// r0 sends `count` DATA messages of `size` bytes to each of `targets` at start.
    static func flooder(count: Int, targets: [Int], size: Int = 9) -> Scripted {
        var sender = Scripted(.replica(0), log: Log())
        sender.onStart = { a in
            for i in 0..<count {
                for t in targets {
                    a.append(.send(Toy.message(Toy.data, UInt64(i)) + [UInt8](repeating: 0, count: max(0, size - 9)), to: .replica(t)))
                }
            }
        }
        return sender
    }

    /// Completion times per replica.
    static func run(_ scenario: Scenario, _ machines: [any StateMachine]) -> (times: [Int: [Nanoseconds]], result: SimulationResult) {
        var times: [Int: [Nanoseconds]] = [:]
        let result = simulate(scenario, machines) { record in
            if case .requestCompleted = record.observation, let r = record.source.replicaID { times[r, default: []].append(record.time) }
        }
        return (times, result)
    }

    @Test("cost engine: one host at 100 % utilisation completes exactly 1/cost messages per second")
    func saturatedHost() throws {
        // Proves the fixed per-message cost: a backlogged one-core host finishes one message every `cost`,
        // so its throughput is exactly 1/cost and its utilisation is 1 while the backlog lasts.
        var s = toyScenario(n: 2, timeLimit: 2 * nanosPerSecond)
        s.costs = CostTable(messages: ["DATA": 250_000_000])  // 250 µs
        let (times, result) = Self.run(s, [Self.flooder(count: 1000, targets: [1]), Worker(principal: .replica(1))])
        let done = times[1] ?? []
        #expect(done.count == 1000)
        #expect(done.first == Self.ms + 250_000)
        let gaps = Set(zip(done.dropFirst(), done).map { $0 - $1 })
        #expect(gaps == [250_000])
        let throughput = Double(done.count - 1) / (Double(done.last! - done.first!) / 1e9)
        #expect(throughput == 4000)
        let host = try #require(result.hosts.first { $0.machines == ["r1"] })
        #expect(host.busy == Nanoseconds(1000) * 250_000)
    }

    @Test("cost engine: two replicas sharing one core halve each other's capacity")
    func sharedCore() {
        // Proves that machines on one host compete for its cores: on one core each replica finishes a
        // message every 2·cost; give the host a second core and each is back to one every cost.
        func gaps(cores: Int) -> Set<Nanoseconds> {
            var s = toyScenario(n: 3, timeLimit: 2 * nanosPerSecond)
            s.costs = CostTable(messages: ["DATA": 100_000_000])  // 100 µs
            s.hosts = [HostSpec(cores: cores, replicas: [1, 2])]
            let (times, _) = Self.run(s, [Self.flooder(count: 200, targets: [1, 2]), Worker(principal: .replica(1)), Worker(principal: .replica(2))])
            var all = Set<Nanoseconds>()
            for r in [1, 2] {
                let t = times[r] ?? []
                #expect(t.count == 200)
                all.formUnion(zip(t.dropFirst(), t).map { $0 - $1 })
            }
            return all
        }
        #expect(gaps(cores: 1) == [200_000])
        #expect(gaps(cores: 2) == [100_000])
    }

    /// A `Worker` that persists on every message (its sends would wait for the sync).
    struct PersistingWorker: StateMachine {
        let principal: Principal
        var handled: UInt64 = 0
        mutating func handle(_ input: ReplicaInput, into actions: inout [ReplicaAction]) {
            guard case .message = input else { return }
            handled += 1
            actions.append(.persist(key: "last", bytes: [1]))
            actions.append(.observe(.requestCompleted(request: RequestID(client: 0, timestamp: handled), result: .zero)))
        }
    }

    @Test("cost engine: syncs hold neither core nor machine and are group-committed")
    func syncGroupCommit() {
        // Proves storage time is neither CPU time nor machine time, and that persists made while a sync
        // is in flight share the next sync (group commit, as `ReplicaHost.flushOutput` does live): two
        // persisting replicas on one core, 100 µs CPU per message and 1 ms per sync. Each replica gets the
        // core every 200 µs, and the two share the host's disk, so each gets a sync every 2 ms and about
        // ten batches wait for each. Its completions come only at the ends of syncs (whole milliseconds
        // after its first), all 100 by 25 ms (messages arrive after 1 ms), with about 11 syncs per replica.
        // Charging every batch its own sync (or holding the machine during it) would take ≥ 100 ms.
        var s = toyScenario(n: 3, timeLimit: 2 * nanosPerSecond)
        s.costs = CostTable(messages: ["DATA": 100_000_000])
        s.costs?.sync = 1_000_000_000
        s.hosts = [HostSpec(cores: 1, replicas: [1, 2])]
        let (times, result) = Self.run(s, [Self.flooder(count: 100, targets: [1, 2]), PersistingWorker(principal: .replica(1)),
                                           PersistingWorker(principal: .replica(2))])
        for r in [1, 2] {
            let t = times[r] ?? []
            #expect(t.count == 100)
            guard let first = t.first, let last = t.last else { continue }
            #expect(t.allSatisfy { ($0 - first) % 1_000_000 == 0 }, "replica \(r): completions off the sync boundaries")
            #expect(last <= 25 * Self.ms, "replica \(r): last completion at \(last) ns")
            #expect(Set(t).count <= 13)
        }
        #expect(result.hosts.first.map(\.busy) == Nanoseconds(2 * 100 * 100_000))
        let syncs = result.hosts.first?.syncs ?? 0
        #expect(syncs >= 20 && syncs <= 26, "\(syncs) syncs")
    }

    @Test("cost engine: the machines of one host share its disk, so syncs started together finish one after another")
    func sharedDisk() {
        // Proves syncs queue for the host's disk: two replicas each persist one message that arrives at
        // 1 ms (100 µs CPU, 1 ms sync). On two hosts both finish at 2.1 ms; on one two-core host the
        // second sync waits for the first and finishes at 3.1 ms.
        func completions(sameHost: Bool) -> [Nanoseconds] {
            var s = toyScenario(n: 3, timeLimit: nanosPerSecond)
            s.costs = CostTable(messages: ["DATA": 100_000_000])
            s.costs?.sync = 1_000_000_000
            s.hosts = sameHost ? [HostSpec(cores: 2, replicas: [1, 2])] : [HostSpec(cores: 1, replicas: [1]), HostSpec(cores: 1, replicas: [2])]
            let (times, _) = Self.run(s, [Self.flooder(count: 1, targets: [1, 2]), PersistingWorker(principal: .replica(1)),
                                          PersistingWorker(principal: .replica(2))])
            return ((times[1] ?? []) + (times[2] ?? [])).sorted()
        }
        #expect(completions(sameHost: false) == [2_100_000, 2_100_000])
        #expect(completions(sameHost: true) == [2_100_000, 3_100_000])
    }

    @Test("cost engine: a message that finds its receiver idle pays the wake-up and the verification hand-off; messages queued behind a busy one pay neither")
    func wakeups() {
        // Proves the idle rule: three DATA messages reach r1 at 1 ms. The first finds r1 idle and pays
        // 100 µs + 30 µs wake-up + 40 µs hand-off; the other two arrive while it is handled and its
        // verifier is busy, so each costs 100 µs: completions at 1.17, 1.27 and 1.37 ms. Without the two
        // costs, 1.1, 1.2 and 1.3 ms.
        func completions(wakeup: Picoseconds, handoff: Picoseconds) -> [Nanoseconds] {
            var s = toyScenario(n: 2, timeLimit: nanosPerSecond)
            s.costs = CostTable(messages: ["DATA": 100_000_000])
            s.costs?.wakeup = wakeup
            s.costs?.handoff = handoff
            return Self.run(s, [Self.flooder(count: 3, targets: [1]), Worker(principal: .replica(1))]).times[1] ?? []
        }
        #expect(completions(wakeup: 30_000_000, handoff: 40_000_000) == [1_170_000, 1_270_000, 1_370_000])
        #expect(completions(wakeup: 0, handoff: 0) == [1_100_000, 1_200_000, 1_300_000])
    }

    @Test("cost engine: a batch that starts a sync spends the sync's CPU and the IO hand-off on its host; the hand-off also delays the sync")
    func syncCPU() throws {
        // Proves `sync_cpu` and the IO thread's hand-off: one persisting message (100 µs) that starts a
        // sync costs 100 + 20 + 5 µs of CPU, and its completion comes after the CPU, the 1 ms sync and
        // the 5 µs hand-off: 1 ms (arrival) + 125 µs + 1 ms + 5 µs.
        var s = toyScenario(n: 2, timeLimit: nanosPerSecond)
        s.costs = CostTable(messages: ["DATA": 100_000_000])
        s.costs?.sync = 1_000_000_000
        s.costs?.syncCPU = 20_000_000
        s.costs?.handoff = 5_000_000
        let (times, result) = Self.run(s, [Self.flooder(count: 1, targets: [1]), PersistingWorker(principal: .replica(1))])
        // The message itself also woke r1's verifier (a replica's message): 5 µs more CPU before the sync.
        #expect(times[1] == [1_000_000 + 130_000 + 1_000_000 + 5_000])
        let host = try #require(result.hosts.first { $0.machines == ["r1"] })
        #expect(host.busy == 130_000)
        #expect(host.syncs == 1)
    }

    @Test("cost engine: bandwidth delays a large message by size/rate, and queues the next behind it")
    func bandwidthSerialisation() {
        // Proves link serialisation: 125 000 bytes at 8 Mbit/s take 125 ms on the sender's link, so the
        // first copy arrives at 125 ms + latency and the second, sent right after, 125 ms later.
        var s = toyScenario(n: 2)
        s.network.bandwidth = 8_000_000
        let log = Log()
        let sink = Sink(principal: .replica(1), log: log)
        let sim = Simulator(scenario: s, machines: [Self.flooder(count: 2, targets: [1], size: 125_000), sink],
                            describe: Toy.describe, observer: { _ in })
        log.clock = { [unowned sim] in sim.now }
        _ = sim.run()
        #expect(log.entries.map(\.time) == [126 * Self.ms, 251 * Self.ms])
    }

    @Test("cost engine: per-byte, send, sign, verify and sync costs add up per handler")
    func costComposition() {
        // Proves the cost formula on one handler: fixed + bytes in + per send (fixed + bytes out) + crypto.
        var s = toyScenario(n: 2)
        s.costs = CostTable(messageDefault: 1_000_000, byte: 1_000, send: 2_000_000,
                            sign: .init(all: 10_000_000), verify: .init(all: 20_000_000))
        s.costs?.sync = 50_000_000
        var model = HostModel(scenario: s, machineCount: 2, clientCount: 0, twinned: [])
        let ps = model.cost(of: .message(from: .replica(0), bytes: Toy.message(Toy.data, 1)),
                            batch: [.persist(key: "k", bytes: [1]), .send(Toy.message(Toy.data, 2), to: .replica(0))], signed: 1, verified: 2,
                            describe: Toy.describe)
        #expect(ps == 1_000_000 + 9 * 1_000 + 2_000_000 + 9 * 1_000 + 10_000_000 + 2 * 20_000_000 + 50_000_000)
    }

    @Test("cost engine: without costs or bandwidth no host model exists and traces are unchanged")
    func zeroCostPath() {
        // Proves the cost-free path is untouched: no host model, no host usage, and the trace hash of a
        // run equals that of the same run with an empty `hosts` list (which alone enables nothing).
        var s = toyScenario(n: 4)
        let a = simulate(s, (0..<4).map { Gossip(id: $0, n: 4, seed: 3) })
        s.hosts = [HostSpec(cores: 1, replicas: [0, 1])]
        let b = simulate(s, (0..<4).map { Gossip(id: $0, n: 4, seed: 3) })
        #expect(a.hosts.isEmpty)
        #expect(a.traceHash == b.traceHash)
    }
}
