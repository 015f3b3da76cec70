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
        // core every 200 µs, so about five batches wait for each sync. Its completions come only at the
        // ends of back-to-back syncs (1 ms apart), all 100 by 23 ms (messages arrive after 1 ms), with
        // about 20 syncs per replica.
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
            #expect(last <= 23 * Self.ms, "replica \(r): last completion at \(last) ns")
            #expect(Set(t).count <= 22)
        }
        #expect(result.hosts.first.map(\.busy) == Nanoseconds(2 * 100 * 100_000))
        let syncs = result.hosts.first?.syncs ?? 0
        #expect(syncs >= 38 && syncs <= 44, "\(syncs) syncs")
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
