import BFTCore
import BFTCrypto
import Testing
@testable import PBFT

@Suite("PBFT test the tester: equivocating primary (Specs/PBFT.md N3, N5, T1)")
struct TestTheTesterTests {
    /// n = 4 with an `EquivocatingPrimary` as replica 0; every replica runs `mutations`.
    func attack(mutations: PBFTMutations) -> TestCluster {
        let config = PBFTConfig.test(batchSizeMax: 2, batchDelayMax: 1, mutations: mutations)
        let cluster = TestCluster(config: config, wrap: { i, replica, keyring in
            i == 0 ? EquivocatingPrimary(wrapping: replica, signer: keyring.signer(for: .replica(0)), config: config) as any StateMachine : replica
        })
        cluster.start()
        cluster.run()
        // A one-request batch (conflict: the null request) and a two-request batch (conflict: reversed order).
        cluster.submit(cluster.request(client: 0, timestamp: 1, putA), to: [0])
        cluster.fire(PBFTReplica.batchTimer, at: [0])
        cluster.submit(cluster.request(client: 1, timestamp: 1, put("b", 1)), to: [0])
        cluster.submit(cluster.request(client: 2, timestamp: 1, put("b", 2)), to: [0])
        return cluster
    }

    /// Sequences at which two of the correct backups committed different digests (what an agreement
    /// checker reads from observations).
    func conflicts(_ cluster: TestCluster) -> [UInt64] {
        var bySequence: [UInt64: Set<Digest>] = [:]
        for i in 1..<4 {
            for c in cluster.committed(i) { bySequence[c.sequence, default: []].insert(c.digest) }
        }
        return bySequence.filter { $0.value.count > 1 }.keys.sorted()
    }

    @Test("T1: the equivocating primary sends validly signed, conflicting PRE-PREPAREs to the two halves of the backups")
    func primaryEquivocates() {
        // Proves the Byzantine wrapper does what the negative control needs.
        let cluster = attack(mutations: [])
        let pps = cluster.sent.filter { $0.bytes.first == PBFTWireTag.prePrepare }.compactMap { e -> (Principal, PrePrepare)? in
            guard let pp = try? PrePrepare(decoding: e.bytes) else { return nil }
            return (e.to, pp)
        }
        let atOne = pps.filter { $0.0 == .replica(1) && $0.1.sequence == 1 }.map(\.1)
        let atThree = pps.filter { $0.0 == .replica(3) && $0.1.sequence == 1 }.map(\.1)
        #expect(atOne.count == 1 && atThree.count == 1)
        #expect(atOne.first?.digest != atThree.first?.digest)
        #expect(atThree.first?.verify(cluster.keyring.verifier) == true)
    }

    @Test("T1, N5: with the commitWithoutDigestMatch mutation two correct backups commit different digests at one sequence")
    func mutatedReplicasViolateAgreement() {
        // Proves the broken variant is observably unsafe, so an agreement checker has something to catch.
        let cluster = attack(mutations: [.commitWithoutDigestMatch])
        #expect(conflicts(cluster) == [1, 2])
    }

    @Test("T1, N3: honest replicas under the same attack never commit conflicting digests")
    func honestReplicasStayInAgreement() {
        // Proves the real digest-matching rules make equivocation harmless for safety.
        let cluster = attack(mutations: [])
        #expect(conflicts(cluster).isEmpty)
        // The half that received the original batch still commits it (2f+1 = 3 with the primary).
        #expect(cluster.committed(1).map(\.sequence) == [1, 2])
        #expect(cluster.committed(3).isEmpty)
        #expect(cluster.rejections(3).isEmpty)
    }
}
