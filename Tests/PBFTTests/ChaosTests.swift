import BFTCore
import BFTCrypto
import Testing
@testable import PBFT

@Suite("PBFT under random delivery, loss and crashes (Specs/PBFT.md N1–N5, V1–V6, K1–K3, S1–S5)")
struct ChaosTests {
    /// Agreement and total order from observations: at every sequence, correct replicas committed one
    /// digest and executed the same requests.
    static func checkSafety(_ cluster: TestCluster, correct: [ReplicaID]) -> [String] {
        var problems: [String] = []
        var digests: [UInt64: Digest] = [:]
        var executions: [UInt64: [RequestID]] = [:]
        var executedIDs: [ReplicaID: Set<RequestID>] = [:]
        for i in correct {
            for c in cluster.committed(i) {
                if let d = digests[c.sequence], d != c.digest { problems.append("r\(i) committed \(c.digest) at \(c.sequence), another \(d)") }
                digests[c.sequence] = c.digest
            }
            var mine: [UInt64: [RequestID]] = [:]
            for e in cluster.executed(i) {
                mine[e.sequence, default: []].append(e.request)
                if executedIDs[i, default: []].contains(e.request) { problems.append("r\(i) executed \(e.request) twice") }
                executedIDs[i, default: []].insert(e.request)
            }
            for (s, reqs) in mine.sorted(by: { $0.key < $1.key }) {
                if let other = executions[s], other != reqs { problems.append("r\(i) executed \(reqs) at \(s), another \(other)") }
                executions[s] = reqs
            }
        }
        return problems
    }

    /// Runs a chaotic phase, then heals and checks that every request completes (f+1 replies).
    static func run(seed: UInt64, n: Int, crash: [ReplicaID], isolate: ReplicaID?, equivocator: ReplicaID? = nil, lossRate: Double = 0.2) -> (TestCluster, [String], Int) {
        let config = PBFTConfig.test(n: n, batchSizeMax: 3, batchDelayMax: nanosPerMillisecond, checkpointInterval: 4, watermarkWindow: 8)
        let cluster = TestCluster(config: config, seed: seed, wrap: { i, replica, keyring in
            i == equivocator ? EquivocatingPrimary(wrapping: replica, signer: keyring.signer(for: .replica(i)), config: config) as any StateMachine : replica
        })
        var rng = DeterministicRNG(seed: seed, stream: "chaos")
        cluster.rng = DeterministicRNG(seed: seed, stream: "network")
        cluster.lossRate = lossRate
        cluster.duplicateRate = 0.05
        cluster.start()
        cluster.run()
        let clients = 4
        let requestsPerClient = 12
        var next = Array(repeating: UInt64(1), count: clients)
        let f = cluster.replica(0).quorum.f
        func completed(_ c: Int) -> Bool { cluster.replyCount(client: c, timestamp: next[c]) >= f + 1 }
        func send(_ c: Int, to replicas: [ReplicaID]) {
            let request = cluster.request(client: c, timestamp: next[c], .append(key: "k\(c % 2)", value: [UInt8(next[c])]))
            for r in replicas { cluster.input(.message(from: .client(c), bytes: request.bytes), at: r) }
        }
        func advanceClients(retransmit: Bool) {
            for c in 0..<clients where next[c] <= UInt64(requestsPerClient) {
                if completed(c) {
                    next[c] += 1
                    if next[c] <= UInt64(requestsPerClient) { send(c, to: [cluster.replica(1).view % UInt64(n) == 0 ? 0 : Int(cluster.replica(1).view % UInt64(n))]) }
                } else if retransmit {
                    send(c, to: Array(0..<n))
                }
            }
        }
        func fireSome(probability: Double) {
            for i in 0..<n {
                for t in cluster.timers[i].keys.sorted(by: { $0.kind < $1.kind }) where rng.chance(probability) {
                    cluster.timers[i][t] = nil
                    cluster.input(.timer(t), at: i)
                }
            }
        }
        if let isolate { cluster.filter = { e in e.to != .replica(isolate) && e.from != .replica(isolate) } }
        for c in 0..<clients { send(c, to: [0]) }
        // Unsafe phase: random order, loss, duplication, random timers, crashes.
        for round in 0..<150 {
            cluster.deliverRandom(Int(rng.below(40)))
            if round == 30 { cluster.crashed.formUnion(crash) }
            fireSome(probability: 0.03)
            advanceClients(retransmit: rng.chance(0.05))
        }
        // Healing phase: no loss, partitions healed; crashed replicas stay down (at most f).
        for i in 0..<n { for t in cluster.timers[i].keys { cluster.timers[i][t] = cluster.now + 100 * nanosPerMillisecond } }
        cluster.lossRate = 0
        cluster.duplicateRate = 0
        cluster.filter = nil
        var rounds = 0
        while (0..<clients).contains(where: { next[$0] <= UInt64(requestsPerClient) }) && rounds < 400 {
            cluster.run()
            advanceClients(retransmit: rounds % 3 == 2)
            cluster.run()
            // Timers fire in deadline order on the virtual clock, so longer (doubled) timeouts wait.
            cluster.advanceToNextTimer()
            rounds += 1
        }
        let unfinished = (0..<clients).filter { next[$0] <= UInt64(requestsPerClient) }.count
        if unfinished > 0 {
            for i in 0..<n {
                let r = cluster.replica(i)
                print("seed \(seed) r\(i) crashed=\(cluster.crashed.contains(i)) view=\(r.view) changing=\(r.isViewChanging) pending=\(r.pendingView) exec=\(r.lastExecuted) stable=\(r.stableSequence) waiting=\(r.waitingCount) fetching=\(String(describing: r.fetching)) log=\(r.log.sortedSequences.map { k in "\(k):\(r.log[k]!.prePrepare != nil ? "pp" : "-")\(r.log[k]!.prepared ? "P" : "")\(r.log[k]!.committed ? "C" : "")" }) timers=\(cluster.timers[i].keys.map(\.kind).sorted()) next=\(r.nextSequence) pendingBatch=\(r.pendingBatch.count) vcs=\(r.latestViewChanges.map { $0?.newView })")
            }
            for i in 0..<n {
                var counts: [String: Int] = [:]
                for o in cluster.observations[i].suffix(300) {
                    if case .rejected(let reason, let from) = o { counts["\(reason.rawValue)<\(from)", default: 0] += 1 }
                }
                print("seed \(seed) r\(i) recent rejections \(counts.sorted { $0.key < $1.key })")
            }
            print("clients next=\(next)")
        }
        let correct = (0..<n).filter { !crash.contains($0) && $0 != equivocator }
        return (cluster, checkSafety(cluster, correct: correct), unfinished)
    }

    @Test("chaos n=4: random order, 20% loss, 5% duplication, primary crash: safe, and live after healing", arguments: Array(UInt64(100)..<UInt64(130)))
    func chaosPrimaryCrash(seed: UInt64) {
        // Proves agreement/total order under asynchrony and a crashed primary, and liveness after GST.
        let (cluster, problems, unfinished) = ChaosTests.run(seed: seed, n: 4, crash: [0], isolate: nil)
        #expect(problems.isEmpty, "\(problems.prefix(5))")
        #expect(unfinished == 0)
        #expect((1..<4).allSatisfy { cluster.replica($0).view >= 1 })
    }

    @Test("chaos n=4: an isolated backup is healed and catches up by state transfer", arguments: Array(UInt64(200)..<UInt64(220)))
    func chaosIsolatedBackup(seed: UInt64) {
        // Proves a replica cut off for the first phase converges to the others' state afterwards.
        let (cluster, problems, unfinished) = ChaosTests.run(seed: seed, n: 4, crash: [], isolate: 3, lossRate: 0.02)
        #expect(problems.isEmpty, "\(problems.prefix(5))")
        #expect(unfinished == 0)
        #expect(cluster.replica(3).stableSequence == cluster.replica(0).stableSequence)
        #expect(cluster.replica(3).stableSequence > 0)
        #expect(cluster.observations[3].contains { if case .stateTransferred = $0 { return true }; return false })
    }

    @Test("chaos n=7, f=2: two crashes including the primary; safe and live", arguments: Array(UInt64(300)..<UInt64(315)))
    func chaosSevenReplicas(seed: UInt64) {
        // Proves the general quorum arithmetic under asynchrony with f = 2 crashed replicas.
        let (_, problems, unfinished) = ChaosTests.run(seed: seed, n: 7, crash: [0, 4], isolate: nil)
        #expect(problems.isEmpty, "\(problems.prefix(5))")
        #expect(unfinished == 0)
    }

    @Test("chaos n=4: an equivocating primary never makes correct replicas disagree, and requests still complete", arguments: Array(UInt64(400)..<UInt64(420)))
    func chaosEquivocatingPrimary(seed: UInt64) {
        // Proves safety under a Byzantine primary (rule N3) and liveness through view changes away from it.
        let (_, problems, unfinished) = ChaosTests.run(seed: seed, n: 4, crash: [], isolate: nil, equivocator: 0)
        #expect(problems.isEmpty, "\(problems.prefix(5))")
        #expect(unfinished == 0)
    }
}
