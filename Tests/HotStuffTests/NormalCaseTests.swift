import Testing
import BFTCore
import BFTCrypto
@testable import HotStuff

@Suite("HotStuff normal case")
struct NormalCaseTests {
    @Test("H-C1/E1: normal case commits and executes every request in order on 4 replicas", arguments: HotStuffVariant.allCases)
    func normalCaseCommits(variant: HotStuffVariant) {
        // Proves the happy path: proposals, votes, QCs, the commit rule and execution agree everywhere.
        let c = Cluster(config: HotStuffConfig(n: 4, variant: variant), clients: 2, requests: 5)
        c.start()
        c.run()
        #expect(c.clientsDone)
        #expect(c.conflictingCommits() == nil)
        let reference = c.executedRequests(0)
        #expect(reference.count == 10)
        for r in 0..<4 {
            #expect(c.executedRequests(r) == reference, "r\(r) executed a different order")
            #expect(c.replica(r).store == c.replica(0).store)
            #expect(c.replica(r).tree.committed.height >= 1)
        }
        // Idle afterwards: no view timer armed (P2), so the cluster is quiet.
        for r in 0..<4 { #expect(c.timers[r][HotStuffReplica.viewTimer] == nil) }
        c.expectReplicaInvariants()
    }

    @Test("P1: leaders rotate round-robin and a leader schedule overrides it")
    func leaderSchedule() {
        // Proves P1 for both the default and an overridden schedule.
        let rr = HotStuffConfig(n: 4)
        #expect((0..<8).map { rr.leader(of: UInt64($0)) } == [0, 1, 2, 3, 0, 1, 2, 3])
        let fixed = HotStuffConfig(n: 4, leaderSchedule: [2, 2, 3])
        #expect((0..<6).map { fixed.leader(of: UInt64($0)) } == [2, 2, 3, 2, 2, 3])
        let c = Cluster(config: fixed, requests: 3)
        c.start()
        c.run()
        #expect(c.clientsDone)
        for r in 0..<4 {
            for o in c.observations[r] {
                if case let .viewEntered(view, leader) = o { #expect(leader == fixed.leader(of: view)) }
            }
        }
    }

    @Test("n=7 and n=16: both variants commit; normal-case messages per block grow linearly", arguments: HotStuffVariant.allCases, [7, 16])
    func largerClusters(variant: HotStuffVariant, n: Int) {
        // Proves quorum arithmetic beyond n=4 and that the normal case sends O(n) replica messages per block.
        let c = Cluster(config: HotStuffConfig(n: n, variant: variant), clients: 1, requests: 4)
        var replicaMessages = 0
        c.policy = { e in
            if case .replica = e.from, case .replica = e.to { replicaMessages += 1 }
            return .deliver
        }
        c.start()
        c.run()
        #expect(c.clientsDone)
        #expect(c.conflictingCommits() == nil)
        for r in 0..<n { #expect(c.executedRequests(r) == c.executedRequests(0)) }
        let blocks = (0..<n).map { c.replica($0).tree.committed.height }.max()!
        // One proposal broadcast (n−1) and n votes per block, plus the trailing uncommitted blocks.
        #expect(replicaMessages <= Int(blocks + 3) * 2 * n)
        c.expectReplicaInvariants()
    }

    @Test("E3: a retransmitted, already executed request is answered from the reply cache, not re-executed")
    func exactlyOnce() {
        // Proves exactly-once execution with the per-client timestamp table.
        let c = Cluster(config: HotStuffConfig(n: 4), requests: 1)
        c.start()
        c.run()
        #expect(c.clientsDone)
        let request = c.observations(of: .client(0)).compactMap { o -> RequestID? in
            if case .requestIssued(let id, _) = o { return id }
            return nil
        }
        #expect(request.count == 1)
        // Replay the original request bytes to replica 1.
        let executedBefore = c.executedRequests(1).count
        let ring = c.ring
        let replayed = ClientRequest(client: 0, timestamp: 1, operation: KeyValueStore.Operation.get(key: "k0").encoded,
                                     signer: ring.signer(for: .client(0)))
        c.input(.message(from: .client(0), bytes: replayed.bytes), to: .replica(1))
        #expect(c.executedRequests(1).count == executedBefore)
        #expect(c.queue.contains { $0.to == .client(0) && describeHotStuffMessage($0.bytes).type == "REPLY" })
    }

    @Test("determinism: the same inputs give the same observations, and Ed25519 works like the fast scheme", arguments: HotStuffVariant.allCases)
    func deterministic(variant: HotStuffVariant) {
        // Proves the replica is a pure function of its inputs (no Dictionary-order or clock leaks).
        func trace(_ scheme: SignatureScheme) -> [[Observation]] {
            let c = Cluster(config: HotStuffConfig(n: 4, variant: variant), clients: 2, requests: 3, scheme: scheme)
            c.crashed = [2]
            c.start()
            c.runWithTimeouts()
            #expect(c.clientsDone)
            return (0..<4).map { c.observations[$0] }
        }
        let a = trace(.fast)
        #expect(a == trace(.fast))
        let e = trace(.ed25519)
        #expect(e.map { $0.count } == a.map { $0.count })
    }
}
