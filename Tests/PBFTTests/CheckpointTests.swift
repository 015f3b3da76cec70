import BFTCore
import BFTCrypto
import Testing
@testable import PBFT

@Suite("PBFT checkpoints and state transfer (Specs/PBFT.md K1–K3, S1–S3)")
struct CheckpointTests {
    @Test("K1–K3: a checkpoint becomes stable with a quorum of matching CHECKPOINTs and the log below it is collected")
    func checkpointStableAndGarbageCollected() {
        // Proves checkpoints every K become stable everywhere and discard the log at or below them.
        let cluster = TestCluster(config: .test(batchSizeMax: 1, checkpointInterval: 4, watermarkWindow: 8))
        cluster.start()
        cluster.run()
        for t in 1...10 { cluster.submit(cluster.request(client: 0, timestamp: UInt64(t), put("k", UInt8(t))), to: [0]) }
        for i in 0..<4 {
            let r = cluster.replica(i)
            #expect(r.lastExecuted == 10)
            #expect(r.stableSequence == 8)
            #expect(r.logCount == 2, "only sequences 9 and 10 remain")
            #expect(r.preparedCertificateCount == 2)
            #expect(r.stableProof.count == 3)
            let stable = cluster.observations[i].compactMap { o -> UInt64? in
                if case .checkpointStable(let s, _) = o { return s }
                return nil
            }
            #expect(stable == [4, 8])
        }
        #expect(cluster.replica(0).stableDigest == cluster.replica(3).stableDigest)
    }

    @Test("K3: memory stays bounded over a long run across many checkpoints")
    func boundedMemoryOnLongRun() {
        // Proves log, certificates, snapshots and checkpoint votes do not grow with the run's length.
        let cluster = TestCluster(config: .test(batchSizeMax: 2, checkpointInterval: 4, watermarkWindow: 8))
        cluster.start()
        cluster.run()
        for t in 1...150 {
            cluster.submit(cluster.request(client: t % 4, timestamp: UInt64(t), .append(key: "k\(t % 5)", value: [UInt8(t % 256)])), to: [0])
            if t % 25 == 0 {
                for i in 0..<4 {
                    let r = cluster.replica(i)
                    #expect(r.logCount <= 8)
                    #expect(r.preparedCertificateCount <= 8)
                    #expect(r.snapshotCount <= 8 / 4 + 1)
                    #expect(r.checkpointVotes.allSatisfy { $0.count <= r.checkpointVotesPerReplicaMax })
                }
            }
        }
        #expect(cluster.replica(2).lastExecuted == 150)
        #expect(cluster.replica(2).stableSequence == 148)
    }

    @Test("K2: CHECKPOINTs with different digests never make a checkpoint stable")
    func mismatchedCheckpointsNotStable() {
        // Proves stability needs matching digests from distinct signers.
        let cluster = TestCluster(config: .test())
        cluster.start()
        cluster.run()
        for i in 1..<4 {
            let cp = Checkpoint(sequence: 4, stateDigest: Digest.of([UInt8(i)]), signer: cluster.keyring.signer(for: .replica(i)))
            cluster.input(.message(from: .replica(i), bytes: cp.bytes), at: 0)
            cluster.input(.message(from: .replica(i), bytes: cp.bytes), at: 0)
        }
        #expect(cluster.replica(0).stableSequence == 0)
    }

    @Test("S1–S3: a replica isolated while others moved past a checkpoint catches up by state transfer after healing")
    func stateTransferCatchesUpLaggingReplica() {
        // Proves a lagging replica fetches the checkpointed state, checks its digest against the
        // stable checkpoint's, installs it, and then executes new requests with the others.
        let cluster = TestCluster(config: .test(batchSizeMax: 1, checkpointInterval: 4, watermarkWindow: 8))
        cluster.start()
        cluster.run()
        cluster.filter = { e in e.to != .replica(3) && e.from != .replica(3) }
        for t in 1...13 { cluster.submit(cluster.request(client: 0, timestamp: UInt64(t), put("k\(t)", UInt8(t))), to: [0]) }
        #expect(cluster.replica(0).lastExecuted == 13)
        #expect(cluster.replica(3).lastExecuted == 0)
        cluster.filter = nil
        for t in 14...16 { cluster.submit(cluster.request(client: 0, timestamp: UInt64(t), put("k\(t)", UInt8(t))), to: [0]) }
        let r3 = cluster.replica(3)
        #expect(r3.lastExecuted == 16)
        #expect(r3.store == cluster.replica(0).store)
        let transferred = cluster.observations[3].contains { if case .stateTransferred(16, _) = $0 { return true }; return false }
        #expect(transferred)
        // Afterwards it participates in the normal case again.
        for t in 17...18 { cluster.submit(cluster.request(client: 0, timestamp: UInt64(t), put("k", UInt8(t))), to: [0]) }
        #expect(cluster.replica(3).lastExecuted == 18)
        #expect(cluster.executed(3).map(\.sequence) == [17, 18])
    }

    @Test("S3: a STATE whose digest does not match the stable checkpoint is rejected")
    func wrongStateRejected() {
        // Proves state transfer trusts only state that matches the checkpoint certificate.
        let cluster = TestCluster(config: .test(batchSizeMax: 1, checkpointInterval: 4, watermarkWindow: 8))
        cluster.start()
        cluster.run()
        cluster.filter = { e in e.to != .replica(3) && e.from != .replica(3) }
        for t in 1...4 { cluster.submit(cluster.request(client: 0, timestamp: UInt64(t), putA), to: [0]) }
        // Replica 3 learns of the stable checkpoint 4 but its fetches go nowhere.
        let digest = cluster.replica(0).stableDigest
        for i in 0..<3 {
            let cp = Checkpoint(sequence: 4, stateDigest: digest, signer: cluster.keyring.signer(for: .replica(i)))
            cluster.input(.message(from: .replica(i), bytes: cp.bytes), at: 3)
        }
        #expect(cluster.replica(3).fetching?.sequence == 4)
        let forged = CheckpointState(sequence: 4, state: PBFTReplica.encodeState(store: KeyValueStore(), replyCache: [:]),
                                     signer: cluster.keyring.signer(for: .replica(1)))
        cluster.input(.message(from: .replica(1), bytes: forged.bytes), at: 3)
        #expect(cluster.rejections(3) == [.digestMismatch])
        #expect(cluster.replica(3).lastExecuted == 0)
        // The fetch timer retries; with the network healed the state arrives.
        cluster.filter = nil
        cluster.fire(PBFTReplica.fetchTimer, at: [3])
        #expect(cluster.replica(3).lastExecuted == 4)
        #expect(cluster.replica(3).store == cluster.replica(0).store)
    }
}

@Suite("PBFT committed certificates (Specs/PBFT.md S4–S5)")
struct CommittedBatchTests {
    @Test("S5: a BATCH is accepted only with quorum matching COMMITs from distinct replicas")
    func committedCertificateChecked() {
        // Proves a lagging replica executes a fetched batch only on proof that it committed.
        let cluster = TestCluster(config: .test())
        cluster.start()
        cluster.run()
        let request = cluster.request(client: 0, timestamp: 1, putA)
        let pp = PrePrepare(view: 0, sequence: 1, requests: [request], signer: cluster.keyring.signer(for: .replica(0)))
        let commit = { (i: Int) in Commit(view: 0, sequence: 1, digest: pp.digest, signer: cluster.keyring.signer(for: .replica(i))) }
        let responder = cluster.keyring.signer(for: .replica(1))
        let short = CommittedBatch(prePrepare: pp, commits: [commit(0), commit(1)], signer: responder)
        let repeated = CommittedBatch(prePrepare: pp, commits: [commit(0), commit(1), commit(1)], signer: responder)
        let wrongDigest = CommittedBatch(prePrepare: pp, commits: [commit(0), commit(1),
            Commit(view: 0, sequence: 1, digest: .zero, signer: cluster.keyring.signer(for: .replica(2)))], signer: responder)
        for bad in [short, repeated, wrongDigest] { cluster.input(.message(from: .replica(1), bytes: bad.bytes), at: 3) }
        #expect(cluster.rejections(3) == [.invalidCertificate, .invalidCertificate, .invalidCertificate])
        #expect(cluster.replica(3).lastExecuted == 0)
        let good = CommittedBatch(prePrepare: pp, commits: [commit(0), commit(1), commit(2)], signer: responder)
        cluster.input(.message(from: .replica(1), bytes: good.bytes), at: 3)
        #expect(cluster.replica(3).lastExecuted == 1)
        #expect(cluster.executedRequests(3) == [request.id])
    }
}

extension CommittedBatchTests {
    @Test("S5: a batch executed before a view change can still be fetched: its committed certificate outlives the log")
    func committedCertificateSurvivesViewChange() throws {
        // Proves FETCH-BATCH is answered with the certificate of the view the batch committed in, although
        // the NEW-VIEW replaced the log and the batch did not commit again in the new view (found by the
        // fuzzer: Tests/FuzzingTests/Findings/pbft-isolated-replica-behind-view-change.yaml).
        let cluster = TestCluster(config: .test())
        cluster.start()
        cluster.run()
        cluster.submit(cluster.request(client: 0, timestamp: 1, putA), to: [0])
        #expect(cluster.replica(2).lastExecuted == 1)
        // Replica 2 misses every later COMMIT, so sequence 1, re-proposed in view 1, never commits there.
        cluster.filter = { e in !(e.to == .replica(2) && describePBFTMessage(e.bytes).type == "COMMIT") }
        cluster.crashed.insert(0)
        cluster.submit(cluster.request(client: 1, timestamp: 1, put("b", 2)), to: [1, 2, 3])
        cluster.fire(PBFTReplica.viewChangeTimer, at: [1, 2, 3])
        #expect(cluster.replica(2).view == 1)
        #expect(!cluster.replica(2).log.isCommitted(1))
        let fetch = FetchBatch(sequence: 1, signer: cluster.keyring.signer(for: .replica(3)))
        cluster.input(.message(from: .replica(3), bytes: fetch.bytes), at: 2)
        var answers: [CommittedBatch] = []
        for case .send(let bytes, to: .replica(3)) in cluster.actionLog[2].last! where bytes.first == PBFTWireTag.batch {
            answers.append(try CommittedBatch(decoding: bytes))
        }
        #expect(answers.count == 1)
        #expect(answers.first?.prePrepare.sequence == 1)
        #expect(answers.first?.prePrepare.view == 0)
        #expect(answers.first?.commits.count == cluster.replica(2).quorum.quorum)
    }
}

@Suite("PBFT durable state (Specs/PBFT.md D1)")
struct DurableStateTests {
    @Test("D1, S1–S5: a restarted replica resumes in its persisted view and catches up by state transfer and batch fetching")
    func recoverInPersistedView() {
        // Proves `.recover` restores the view from what was persisted, and S1–S3 restore the state.
        let cluster = TestCluster(config: .test(batchSizeMax: 1, checkpointInterval: 4, watermarkWindow: 8))
        cluster.start()
        cluster.run()
        cluster.crashed = [0]
        cluster.submit(cluster.request(client: 0, timestamp: 1, putA), to: [1, 2, 3])
        cluster.fire(PBFTReplica.viewChangeTimer, at: [1, 2, 3])
        #expect(cluster.replica(3).view == 1)
        for t in 2...5 { cluster.submit(cluster.request(client: 0, timestamp: UInt64(t), put("k", UInt8(t))), to: [1]) }
        #expect(cluster.persisted[3]["view"] != nil)
        #expect(cluster.persisted[3].keys.contains { $0.hasPrefix("vote/") })
        // Replica 3 crashes and restarts from its durable state only.
        let durable = cluster.persisted[3]
        cluster.replicas[3] = PBFTReplica(id: 3, config: cluster.config, signer: cluster.keyring.signer(for: .replica(3)), verifier: cluster.keyring.verifier)
        cluster.input(.recover(durable: durable), at: 3)
        #expect(cluster.replica(3).view == 1)
        #expect(cluster.observations[3].last == .viewEntered(view: 1, leader: 1))
        cluster.run()
        // Its probe (S1) brought it the stable checkpoint 4 and that state.
        #expect(cluster.replica(3).lastExecuted == 4)
        for t in 6...9 { cluster.submit(cluster.request(client: 0, timestamp: UInt64(t), put("k", UInt8(t))), to: [1]) }
        // Batch 5 committed while it was down; 6...9 commit with its help but wait behind the gap,
        // which the batch-fetch timer fills with a committed certificate (S4, S5).
        #expect(cluster.replica(3).lastExecuted == 4)
        #expect(cluster.timers[3][PBFTReplica.batchFetchTimer] != nil)
        cluster.fire(PBFTReplica.batchFetchTimer, at: [3])
        #expect(cluster.replica(3).lastExecuted == cluster.replica(1).lastExecuted)
        #expect(cluster.replica(3).store == cluster.replica(1).store)
    }

    @Test("D1: a restarted backup never prepares a batch conflicting with the vote it persisted before the crash")
    func recoveredVoteBlocksConflictingPrePrepare() throws {
        // Proves recovery keeps the persisted votes: an equivocating primary's second batch for the same
        // (view, sequence), delivered after the restart, is rejected instead of prepared.
        let cluster = TestCluster(config: .test(batchSizeMax: 4))
        cluster.start()
        cluster.run()
        let a = cluster.request(client: 0, timestamp: 1, putA)
        let b = cluster.request(client: 1, timestamp: 1, put("b", 2))
        let primary = cluster.keyring.signer(for: .replica(0))
        let first = PrePrepare(view: 0, sequence: 1, requests: [a], signer: primary)
        let second = PrePrepare(view: 0, sequence: 1, requests: [b], signer: primary)
        cluster.crashed = [0, 1, 2]
        cluster.input(.message(from: .replica(0), bytes: first.bytes), at: 3)
        #expect(cluster.persisted[3].keys.contains { $0.hasPrefix("vote/") })
        cluster.replicas[3] = PBFTReplica(id: 3, config: cluster.config, signer: cluster.keyring.signer(for: .replica(3)), verifier: cluster.keyring.verifier)
        cluster.input(.recover(durable: cluster.persisted[3]), at: 3)
        let before = cluster.actionLog[3].count
        cluster.input(.message(from: .replica(0), bytes: second.bytes), at: 3)
        let after = cluster.actionLog[3].dropFirst(before).flatMap { $0 }
        #expect(!after.contains { if case .broadcast = $0 { return true } else { return false } })
        #expect(cluster.rejections(3).last == .conflicting)
    }
}
