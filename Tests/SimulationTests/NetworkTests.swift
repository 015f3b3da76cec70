import BFTCore
import ScenarioFormat
import Testing
@testable import Simulation

@Suite("network model")
struct NetworkTests {
    static let ms = nanosPerMillisecond
    /// GST that never comes: faults stay in force for the whole run (also the default, `gst: nil`).
    static let never = Nanoseconds.max

    /// Mean and range of `count` samples of one distribution.
    static func stats(_ d: LatencyDistribution, count: Int = 20_000) -> (mean: Double, min: Int64, max: Int64, median: Int64) {
        var rng = DeterministicRNG(seed: 42, stream: "test")
        var samples: [Int64] = []
        for _ in 0..<count { samples.append(NetworkModel.sample(d, &rng)) }
        samples.sort()
        let mean = Double(samples.reduce(0, +)) / Double(count)
        return (mean, samples.first!, samples.last!, samples[count / 2])
    }

    @Test("constant and uniform latency stay in bounds with the right mean")
    func constantAndUniform() {
        // Proves the bounded distributions: constant is exact, uniform covers [min, max] with mean in the middle.
        let c = Self.stats(.constant(5 * Self.ms), count: 100)
        #expect(c.min == 5 * Self.ms && c.max == 5 * Self.ms)
        let u = Self.stats(.uniform(min: 1 * Self.ms, max: 3 * Self.ms))
        #expect(u.min >= 1 * Self.ms && u.max <= 3 * Self.ms)
        #expect(abs(u.mean - 2e6) < 0.03e6)
    }

    @Test("normal latency has the right mean and is clamped to at least 1 ns")
    func normal() {
        // Proves Box–Muller sampling and the 1 ns clamp for a wide normal.
        let n = Self.stats(.normal(mean: 10 * Self.ms, stddev: 1 * Self.ms))
        #expect(abs(n.mean - 10e6) < 0.05e6)
        let wide = Self.stats(.normal(mean: 1 * Self.ms, stddev: 10 * Self.ms))
        #expect(wide.min == 1)
    }

    @Test("exponential and lognormal latency have the right mean and median")
    func exponentialAndLognormal() {
        // Proves exponential (mean) and lognormal (median = e^μ, mean = median·e^(σ²/2)).
        let e = Self.stats(.exponential(mean: 4 * Self.ms))
        #expect(abs(e.mean - 4e6) < 0.2e6)
        #expect(e.min >= 1)
        let l = Self.stats(.lognormal(median: 2 * Self.ms, sigma: 0.5))
        #expect(abs(Double(l.median) - 2e6) < 0.1e6)
        #expect(abs(l.mean - 2e6 * 1.1331) < 0.1e6)
    }

    /// r0 sends `count` DATA messages to r1 at start, numbered 0..<count.
    static func burst(_ count: Int) -> [any StateMachine] {
        let log = Log()
        var sender = Scripted(.replica(0), log: log)
        sender.onStart = { a in for i in 0..<count { a.append(.send(Toy.message(Toy.data, UInt64(i)), to: .replica(1))) } }
        return [sender, Sink(principal: .replica(1), log: log)]
    }

    @Test("loss drops about p of the messages")
    func lossRate() {
        // Proves per-send loss: 20% of 10 000 sends are lost, within a generous tolerance.
        let result = simulate(toyScenario(n: 2, network: NetworkSpec(loss: 0.2, gst: Self.never)), Self.burst(10_000), trace: .off)
        #expect(abs(result.messagesDropped.loss - 2000) < 200)
        #expect(result.messagesDelivered + result.messagesDropped.loss == 10_000)
    }

    @Test("duplication delivers about p extra copies")
    func duplicationRate() {
        // Proves duplication: 10% of 10 000 sends arrive twice.
        let result = simulate(toyScenario(n: 2, network: NetworkSpec(duplication: 0.1, gst: Self.never)), Self.burst(10_000), trace: .off)
        #expect(abs(result.messagesDuplicated - 1000) < 150)
        #expect(result.messagesDelivered == 10_000 + result.messagesDuplicated)
    }

    @Test("jitter reorders messages on a link; without jitter order is kept")
    func jitterReorders() {
        // Proves jitter: the same burst arrives out of order with jitter and in order without.
        let log = Log()
        var sender = Scripted(.replica(0), log: log)
        sender.onStart = { a in for i in 0..<200 { a.append(.send(Toy.message(Toy.data, UInt64(i)), to: .replica(1))) } }
        simulate(toyScenario(n: 2, network: NetworkSpec(jitter: Self.ms, gst: Self.never)), [sender, Sink(principal: .replica(1), log: log)])
        let jittered = log.received[.replica(1)]!.map(\.value)
        #expect(jittered.count == 200)
        #expect(jittered != jittered.sorted())

        let log2 = Log()
        var sender2 = Scripted(.replica(0), log: log2)
        sender2.onStart = sender.onStart
        simulate(toyScenario(n: 2), [sender2, Sink(principal: .replica(1), log: log2)])
        let plain = log2.received[.replica(1)]!.map(\.value)
        #expect(plain == Array(0..<200))
    }

    @Test("a slow link override applies to one direction only")
    func linkOverride() {
        // Proves NetworkSpec.links: 0→1 takes 10 ms, 1→0 keeps the default 1 ms.
        let log = Log()
        var a = Scripted(.replica(0), log: log)
        a.onStart = { x in x.append(.send(Toy.message(Toy.data, 0), to: .replica(1))) }
        var b = Scripted(.replica(1), log: log)
        b.onStart = a.onStart
        b.onStart = { x in x.append(.send(Toy.message(Toy.data, 1), to: .replica(0))) }
        let spec = NetworkSpec(links: [LinkSpec(from: 0, to: 1, latency: .constant(10 * Self.ms))])
        simulate(toyScenario(n: 2, network: spec), [a, b], log: log)
        let times = log.entries.map { ($0.who, $0.time) }
        #expect(times.first! == (.replica(0), 1 * Self.ms))
        #expect(times.last! == (.replica(1), 10 * Self.ms))
    }

    /// Every replica broadcasts its id at start and again on a timer at 20 ms.
    static func broadcasters(_ n: Int, log: Log) -> [any StateMachine] {
        (0..<n).map { r in
            var m = Scripted(.replica(r), log: log)
            m.onStart = { a in
                a.append(.broadcast(Toy.message(Toy.data, UInt64(r))))
                a.append(.setTimer(TimerID(kind: 1), after: 20 * Self.ms))
            }
            m.onTimer = { _, a in a.append(.broadcast(Toy.message(Toy.data, UInt64(100 + r)))) }
            return m
        }
    }

    static func senders(_ log: Log, to r: Int, round: UInt64) -> [Int] {
        (log.received[.replica(r)] ?? []).filter { $0.value / 100 == round }.compactMap { $0.from.replicaID }.sorted()
    }

    @Test("a symmetric partition splits groups both ways and heal restores all links")
    func symmetricPartitionAndHeal() {
        // Proves partition(groups:) blocks cross-group traffic in both directions until heal.
        let log = Log()
        let timeline = [TimelineEvent(at: 0, action: .partition(groups: [[0, 1]])),  // {2,3} is the implicit group
                        TimelineEvent(at: 10 * Self.ms, action: .heal)]
        let result = simulate(toyScenario(n: 4, network: NetworkSpec(gst: Self.never), timeline: timeline), Self.broadcasters(4, log: log), log: log)
        #expect(Self.senders(log, to: 0, round: 0) == [1])
        #expect(Self.senders(log, to: 3, round: 0) == [2])
        #expect(Self.senders(log, to: 0, round: 1) == [1, 2, 3])
        #expect(Self.senders(log, to: 3, round: 1) == [0, 1, 2])
        #expect(result.messagesDropped.partition == 8)
    }

    @Test("a one-way cut blocks one direction only; isolate blocks both")
    func oneWayCutAndIsolate() {
        // Proves cutLink(oneWay:) and isolate.
        let log = Log()
        let timeline = [TimelineEvent(at: 0, action: .cutLink(from: 0, to: 1, oneWay: true)),
                        TimelineEvent(at: 0, action: .isolate(replica: 3))]
        simulate(toyScenario(n: 4, network: NetworkSpec(gst: Self.never), timeline: timeline), Self.broadcasters(4, log: log), log: log)
        #expect(Self.senders(log, to: 1, round: 0) == [2])
        #expect(Self.senders(log, to: 0, round: 0) == [1, 2])
        #expect(Self.senders(log, to: 3, round: 0) == [])
        #expect(Self.senders(log, to: 3, round: 1) == [])
    }

    @Test("a message in flight when a partition starts is dropped at delivery")
    func partitionAtDeliveryTime() {
        // Proves the delivery-time check: sent at 0 over a 10 ms link, partition from 5 ms.
        let log = Log()
        let timeline = [TimelineEvent(at: 5 * Self.ms, action: .partition(groups: [[0], [1]]))]
        let result = simulate(toyScenario(n: 2, network: NetworkSpec(latency: .constant(10 * Self.ms), gst: Self.never), timeline: timeline),
                              Self.burst(3))
        #expect(result.messagesDropped.partition == 3)
        #expect(result.messagesDelivered == 0)
        _ = log
    }

    @Test("clients are not affected by replica partitions")
    func clientLinksIgnorePartitions() {
        // Proves that partitions concern replica links only.
        let log = Log()
        var client = Scripted(.client(0), log: log)
        client.onStart = { a in a.append(.broadcast(Toy.message(Toy.data, 9))) }
        var scenario = toyScenario(n: 2, network: NetworkSpec(gst: Self.never),
                                   timeline: [TimelineEvent(at: 0, action: .isolate(replica: 1))])
        scenario.workload = WorkloadSpec(clients: 1, requestsPerClient: nil)
        let machines: [any StateMachine] = [Sink(principal: .replica(0), log: log), Sink(principal: .replica(1), log: log), client]
        let result = simulate(scenario, machines)
        #expect(result.messagesDelivered == 2)
    }

    @Test("from GST on there is no loss and delays are capped; timeline partitions last until healed")
    func gstRemovesLossAndCapsDelay() {
        // Proves GST: a lossy, partitioned, 100 ms network delivers every message sent after GST and the heal within 20 ms.
        let log = Log()
        var sender = Scripted(.replica(0), log: log)
        sender.onStart = { a in a.append(.setTimer(TimerID(kind: 1), after: 10 * Self.ms)) }
        var sent = 0
        sender.onTimer = { t, a in
            sent += 1
            a.append(.send(Toy.message(Toy.data, UInt64(sent)), to: .replica(1)))
            if sent < 10 { a.append(.setTimer(t, after: 10 * Self.ms)) }
        }
        let spec = NetworkSpec(latency: .constant(100 * Self.ms), loss: 0.5, duplication: 0.5, gst: 50 * Self.ms,
                               delayMaxAfterGST: 20 * Self.ms)
        let timeline = [TimelineEvent(at: 0, action: .partition(groups: [[0], [1]])),
                        TimelineEvent(at: 45 * Self.ms, action: .heal)]
        let result = simulate(toyScenario(n: 2, network: spec, timeline: timeline), [sender, Sink(principal: .replica(1), log: log)],
                              log: log)
        // Sends at 10..40 ms hit the partition; sends at 50..100 ms arrive 20 ms later, once each.
        let arrivals = log.entries.filter { $0.who == .replica(1) }
        #expect(arrivals.map(\.time) == [70, 80, 90, 100, 110, 120].map { $0 * Self.ms })
        #expect(result.messagesDropped.partition == 4)
        #expect(result.messagesDropped.loss == 0)
    }
}
