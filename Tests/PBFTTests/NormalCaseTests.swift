import BFTCore
import BFTCrypto
import Testing
@testable import PBFT

@Suite("PBFT normal case (Specs/PBFT.md R1–R3, N1–N5, E1, Q1–Q2)")
struct NormalCaseTests {
    @Test("N2–N5, E1: requests commit and execute in the same order on all 4 replicas, and the client gets replies")
    func normalCaseCommitsInOrder() {
        // Proves the three-phase protocol commits and executes every request, in one order, everywhere.
        let cluster = TestCluster(config: .test())
        cluster.start()
        cluster.run()
        for t in 1...5 { cluster.submit(cluster.request(client: 0, timestamp: UInt64(t), put("k\(t)", UInt8(t))), to: [0]) }
        for t in 1...3 { cluster.submit(cluster.request(client: 1, timestamp: UInt64(t), .append(key: "x", value: [UInt8(t)])), to: [0]) }
        let reference = cluster.executed(0)
        #expect(reference.count == 8)
        for i in 0..<4 {
            #expect(cluster.executed(i).map(\.sequence) == reference.map(\.sequence))
            #expect(cluster.executedRequests(i) == reference.map(\.request))
            #expect(cluster.replica(i).lastExecuted == 8)
            #expect(cluster.replica(i).store == cluster.replica(0).store)
        }
        #expect(cluster.replica(0).store.value(for: "x") == [1, 2, 3])
        #expect(cluster.replyCount(client: 0, timestamp: 5) == 4)
        #expect(cluster.has(1, .viewEntered(view: 0, leader: 0)))
    }

    @Test("N2: the primary batches up to batchSizeMax requests and flushes a partial batch when batchDelayMax expires")
    func batching() {
        // Proves a partial batch waits for the batch timer and a full batch goes at once.
        let cluster = TestCluster(config: .test(batchSizeMax: 4, batchDelayMax: 5 * nanosPerMillisecond))
        cluster.start()
        cluster.run()
        for c in 0..<3 { cluster.submit(cluster.request(client: c, timestamp: 1, putA), to: [0]) }
        #expect(cluster.committed(0).isEmpty)
        #expect(cluster.timers[0][PBFTReplica.batchTimer] == 5 * nanosPerMillisecond)
        cluster.fire(PBFTReplica.batchTimer, at: [0])
        #expect(cluster.committed(1).map(\.count) == [3])
        for c in 0..<4 { cluster.submit(cluster.request(client: c, timestamp: 2, putA), to: [0]) }
        #expect(cluster.committed(1).map(\.count) == [3, 4])
        #expect(cluster.timers[0][PBFTReplica.batchTimer] == nil)
        #expect(cluster.executed(2).count == 7)
    }

    @Test("R2: a retransmitted, already executed request gets the cached reply and does not execute again")
    func duplicateRequestGetsCachedReply() {
        // Proves exactly-once execution with a reply cache.
        let cluster = TestCluster(config: .test())
        cluster.start()
        cluster.run()
        let request = cluster.request(client: 2, timestamp: 1, .append(key: "z", value: [9]))
        cluster.submit(request, to: [0])
        #expect(cluster.replyCount(client: 2, timestamp: 1) == 4)
        let repliesBefore = cluster.clientInbox[2]!.count
        cluster.submit(request, to: [0, 1, 2, 3])
        #expect(cluster.clientInbox[2]!.count == repliesBefore + 4)
        #expect(Set(cluster.clientInbox[2]!.map(\.result)).count == 1)
        for i in 0..<4 { #expect(cluster.executed(i).count == 1) }
        #expect(cluster.replica(0).store.value(for: "z") == [9])
    }

    @Test("R3, V1: a backup forwards a client request to the primary and starts its view-change timer")
    func backupForwardsRequest() {
        // Proves backups relay requests and only then run the view-change timer, which stops on execution.
        let cluster = TestCluster(config: .test())
        cluster.start()
        cluster.run()
        for i in 0..<4 { #expect(cluster.timers[i].isEmpty, "idle replicas arm no timers") }
        let request = cluster.request(client: 0, timestamp: 1, putA)
        cluster.submit(request, to: [2])
        let batch = cluster.actionLog[2][1]
        #expect(batch.contains { if case .send(let b, .replica(0)) = $0 { return b == request.bytes }; return false })
        #expect(batch.contains { if case .setTimer(PBFTReplica.viewChangeTimer, _) = $0 { return true }; return false })
        #expect(cluster.executed(3).count == 1)
        for i in 0..<4 { #expect(cluster.timers[i][PBFTReplica.viewChangeTimer] == nil, "timer stops once nothing waits") }
    }

    @Test("N3, S-sig: a PREPARE with a bad signature is dropped and observed as rejected")
    func badSignatureRejected() {
        // Proves replicas verify every signature before acting.
        let cluster = TestCluster(config: .test())
        cluster.start()
        cluster.run()
        let d = batchDigest([])
        var bytes = Prepare(view: 0, sequence: 1, digest: d, signer: cluster.keyring.signer(for: .replica(2))).bytes
        bytes[bytes.count - 1] ^= 0xff
        cluster.input(.message(from: .replica(2), bytes: bytes), at: 1)
        #expect(cluster.rejections(1) == [.badSignature])
        // A PREPARE signed by replica 3 that claims to be from replica 2 fails the same way.
        let forged = Prepare(view: 0, sequence: 1, digest: d, signer: cluster.keyring.signer(for: .replica(3))).bytes
        var w = Array(forged)
        w[w.count - 64 - 1] = 2  // replica field's low byte
        cluster.input(.message(from: .replica(2), bytes: w), at: 1)
        #expect(cluster.rejections(1) == [.badSignature, .badSignature])
    }

    @Test("N2: a PRE-PREPARE carrying a request with a bad client signature is dropped and observed")
    func badClientSignatureInPrePrepare() {
        // Proves backups verify client signatures of every request in a batch.
        let cluster = TestCluster(config: .test())
        cluster.start()
        cluster.run()
        let good = cluster.request(client: 0, timestamp: 1, putA)
        var bytes = good.bytes
        bytes[bytes.count - 1] ^= 1
        let bad = try! ClientRequest(decoding: bytes)
        let pp = PrePrepare(view: 0, sequence: 1, requests: [bad], signer: cluster.keyring.signer(for: .replica(0)))
        cluster.input(.message(from: .replica(0), bytes: pp.bytes), at: 1)
        #expect(cluster.rejections(1) == [.badSignature])
        #expect(cluster.replica(1).logCount == 0)
        // And a PRE-PREPARE whose digest is not its batch's is rejected as a digest mismatch.
        let lying = PrePrepare(view: 0, sequence: 1, requests: [good], digest: batchDigest([]), signer: cluster.keyring.signer(for: .replica(0)))
        cluster.input(.message(from: .replica(0), bytes: lying.bytes), at: 1)
        #expect(cluster.rejections(1) == [.badSignature, .digestMismatch])
    }

    @Test("Q2: two PREPAREs from the same signer count once toward prepared")
    func duplicatePrepareCountsOnce() {
        // Proves distinct-signer counting: the primary needs 2f PREPAREs from distinct backups.
        let cluster = TestCluster(config: .test())
        cluster.filter = { _ in false }  // capture nothing; drive replica 0 by hand
        cluster.start()
        cluster.run()
        cluster.submit(cluster.request(client: 0, timestamp: 1, putA), to: [0])
        let pp = cluster.replica(0)
        #expect(pp.logCount == 1)
        let digest = cluster.replica(0).log[1]!.prePrepare!.digest
        let p1 = Prepare(view: 0, sequence: 1, digest: digest, signer: cluster.keyring.signer(for: .replica(1)))
        cluster.input(.message(from: .replica(1), bytes: p1.bytes), at: 0)
        cluster.input(.message(from: .replica(1), bytes: p1.bytes), at: 0)
        #expect(cluster.replica(0).log[1]!.prepared == false)
        let p2 = Prepare(view: 0, sequence: 1, digest: digest, signer: cluster.keyring.signer(for: .replica(2)))
        cluster.input(.message(from: .replica(2), bytes: p2.bytes), at: 0)
        #expect(cluster.replica(0).log[1]!.prepared == true)
        let commits = cluster.actionLog[0].last!.filter { if case .broadcast(let b) = $0 { return b.first == PBFTWireTag.commit }; return false }
        #expect(commits.count == 1)
    }

    @Test("N3: a PREPARE from the primary does not count (prepares come from backups)")
    func primaryPrepareIgnored() {
        // Proves the primary's own vote is its PRE-PREPARE, never a PREPARE.
        let cluster = TestCluster(config: .test())
        cluster.start()
        cluster.run()
        let p = Prepare(view: 0, sequence: 1, digest: batchDigest([]), signer: cluster.keyring.signer(for: .replica(0)))
        cluster.input(.message(from: .replica(0), bytes: p.bytes), at: 1)
        #expect(cluster.rejections(1) == [.unknownSender])
    }

    @Test("N1: PRE-PREPAREs, PREPAREs and COMMITs outside the window (h, h+L] are dropped")
    func outOfWindowDropped() {
        // Proves the watermark window bounds what a replica accepts.
        let cluster = TestCluster(config: .test(watermarkWindow: 8))
        cluster.start()
        cluster.run()
        let primary = cluster.keyring.signer(for: .replica(0))
        let far = PrePrepare(view: 0, sequence: 9, requests: [], signer: primary)
        cluster.input(.message(from: .replica(0), bytes: far.bytes), at: 1)
        let zero = PrePrepare(view: 0, sequence: 0, requests: [], signer: primary)
        cluster.input(.message(from: .replica(0), bytes: zero.bytes), at: 1)
        let c = Commit(view: 0, sequence: 100, digest: .zero, signer: cluster.keyring.signer(for: .replica(2)))
        cluster.input(.message(from: .replica(2), bytes: c.bytes), at: 1)
        #expect(cluster.rejections(1) == [.outsideWindow, .outsideWindow, .outsideWindow])
        #expect(cluster.replica(1).logCount == 0)
        let inside = PrePrepare(view: 0, sequence: 8, requests: [], signer: primary)
        cluster.input(.message(from: .replica(0), bytes: inside.bytes), at: 1)
        #expect(cluster.replica(1).logCount == 1)
    }

    @Test("N1: the primary keeps several instances in flight but never proposes beyond the window")
    func primaryRespectsWindow() {
        // Proves in-flight instances are bounded by L until a checkpoint becomes stable.
        let cluster = TestCluster(config: .test(batchSizeMax: 1, checkpointInterval: 4, watermarkWindow: 4))
        cluster.filter = { e in describePBFTMessage(e.bytes).type != "CHECKPOINT" }
        cluster.start()
        cluster.run()
        for c in 0..<4 { cluster.submit(cluster.request(client: 0, timestamp: UInt64(c + 1), putA), to: [0]) }
        for c in 1..<4 { cluster.submit(cluster.request(client: c, timestamp: 1, putA), to: [0]) }
        #expect(cluster.replica(0).lastExecuted == 4)
        #expect(cluster.replica(0).pendingBatch.count == 3, "window full: no checkpoint is stable")
        cluster.filter = nil
        // Checkpoints flow again: a retransmitted CHECKPOINT makes 4 stable, the window slides, the rest commit.
        let state = cluster.replica(1).snapshots[4]!
        for i in 1..<4 {
            let cp = Checkpoint(sequence: 4, stateDigest: state.digest, signer: cluster.keyring.signer(for: .replica(i)))
            cluster.input(.message(from: .replica(i), bytes: cp.bytes), at: 0)
            for j in 1..<4 where j != i { cluster.input(.message(from: .replica(i), bytes: cp.bytes), at: j) }
        }
        cluster.run()
        #expect(cluster.replica(0).lastExecuted == 7)
        #expect(cluster.replica(3).lastExecuted == 7)
    }

    @Test("Q1: n=5, f=1 uses quorum 4: commits with one replica down, stalls with two")
    func quorumsN5() {
        // Proves quorum = n - f for n > 3f+1.
        let ok = TestCluster(config: .test(n: 5, f: 1))
        ok.crashed = [4]
        ok.start()
        ok.run()
        ok.submit(ok.request(client: 0, timestamp: 1, putA), to: [0])
        #expect(ok.executed(1).count == 1)
        let stalled = TestCluster(config: .test(n: 5, f: 1))
        stalled.crashed = [3, 4]
        stalled.start()
        stalled.run()
        stalled.submit(stalled.request(client: 0, timestamp: 1, putA), to: [0])
        #expect(stalled.committed(1).isEmpty)
        #expect(stalled.replica(1).log[1]?.prepared == false, "2 matching prepares are not the 3 that n=5 needs")
    }

    @Test("Q1: n=7, f=2 uses quorum 5: commits with two replicas down, stalls with three")
    func quorumsN7() {
        // Proves the quorum arithmetic for f = 2.
        let ok = TestCluster(config: .test(n: 7, f: 2))
        ok.crashed = [5, 6]
        ok.start()
        ok.run()
        ok.submit(ok.request(client: 0, timestamp: 1, putA), to: [0])
        for i in 0..<5 { #expect(ok.executed(i).count == 1) }
        let stalled = TestCluster(config: .test(n: 7, f: 2))
        stalled.crashed = [4, 5, 6]
        stalled.start()
        stalled.run()
        stalled.submit(stalled.request(client: 0, timestamp: 1, putA), to: [0])
        #expect(stalled.committed(1).isEmpty)
    }

    @Test("Determinism: the same inputs give the same observations and messages")
    func determinism() {
        // Proves handle() is a function of state and input (no Dictionary-order leaks into output).
        func run() -> [[Observation]] {
            let cluster = TestCluster(config: .test(n: 7, f: 2, batchSizeMax: 3))
            cluster.start()
            cluster.run()
            for t in 1...6 {
                for c in 0..<4 { cluster.submit(cluster.request(client: c, timestamp: UInt64(t), put("k\(c)", UInt8(t))), to: [0]) }
            }
            cluster.crashed = [0]
            for c in 0..<4 { cluster.submit(cluster.request(client: c, timestamp: 7, putA), to: Array(1..<7)) }
            cluster.fire(PBFTReplica.viewChangeTimer, at: Array(1..<7))
            return cluster.observations
        }
        #expect(run() == run())
    }
}
