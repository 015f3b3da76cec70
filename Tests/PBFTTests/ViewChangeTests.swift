import BFTCore
import BFTCrypto
import Testing
@testable import PBFT

@Suite("PBFT view change (Specs/PBFT.md V1–V6)")
struct ViewChangeTests {
    /// Crashes the primary, sends `request` to every backup (a client retransmission) and fires the
    /// backups' view-change timers.
    func crashPrimaryAndTimeOut(_ cluster: TestCluster, _ request: ClientRequest, timers: [ReplicaID] = [1, 2, 3]) {
        cluster.crashed.insert(0)
        cluster.submit(request, to: [1, 2, 3])
        cluster.fire(PBFTReplica.viewChangeTimer, at: timers)
    }

    @Test("V1, V3, V5: after the primary crashes, backups change to view 1 and new requests commit there")
    func viewChangeAfterPrimaryCrash() {
        // Proves the view-change timer, VIEW-CHANGE, NEW-VIEW and resumption of the normal case in view 1.
        let cluster = TestCluster(config: .test())
        cluster.start()
        cluster.run()
        cluster.submit(cluster.request(client: 0, timestamp: 1, putA), to: [0])
        let stuck = cluster.request(client: 1, timestamp: 1, put("b", 2))
        crashPrimaryAndTimeOut(cluster, stuck)
        for i in 1..<4 {
            #expect(cluster.has(i, .viewChangeStarted(view: 1)))
            #expect(cluster.has(i, .viewEntered(view: 1, leader: 1)))
            #expect(cluster.replica(i).view == 1)
            #expect(cluster.replica(i).isViewChanging == false)
            #expect(cluster.executedRequests(i) == [RequestID(client: 0, timestamp: 1), RequestID(client: 1, timestamp: 1)])
        }
        cluster.submit(cluster.request(client: 2, timestamp: 1, put("c", 3)), to: [1])
        for i in 1..<4 {
            #expect(cluster.executed(i).count == 3)
            #expect(cluster.committed(i).last?.view == 1)
        }
        #expect(cluster.clientInbox[2]!.allSatisfy { $0.view == 1 })
    }

    @Test("V1: VIEW-CHANGE is sent in the same batch as the persisted view (persist before send)")
    func viewPersistedWithViewChange() {
        // Proves the safety state a VIEW-CHANGE depends on is handed to the shell with it.
        let cluster = TestCluster(config: .test())
        cluster.start()
        cluster.run()
        cluster.crashed.insert(0)
        cluster.submit(cluster.request(client: 0, timestamp: 1, putA), to: [2])
        cluster.input(.timer(PBFTReplica.viewChangeTimer), at: 2)
        let batch = cluster.actionLog[2].last!
        let persists = batch.filter { if case .persist(key: "view", _) = $0 { return true }; return false }
        let vcs = batch.filter { if case .broadcast(let b) = $0 { return b.first == PBFTWireTag.viewChange }; return false }
        #expect(persists.count == 1)
        #expect(vcs.count == 1)
        var r = ByteReader(cluster.persisted[2]["view"]!)
        let view = try? r.u64()
        let changing = try? r.bool()
        #expect(view == 1)
        #expect(changing == true)
    }

    @Test("V4: a request prepared before the view change is re-proposed in NEW-VIEW with the same digest and commits")
    func preparedRequestSurvivesViewChange() {
        // Proves prepared certificates carry a request across views (the highest-view rule).
        let cluster = TestCluster(config: .test())
        cluster.start()
        cluster.run()
        cluster.filter = { e in describePBFTMessage(e.bytes).type != "COMMIT" }
        let request = cluster.request(client: 0, timestamp: 1, putA)
        cluster.submit(request, to: [0])
        let digest = batchDigest([request])
        for i in 1..<4 {
            #expect(cluster.replica(i).log[1]?.prepared == true)
            #expect(cluster.committed(i).isEmpty)
        }
        cluster.filter = nil
        crashPrimaryAndTimeOut(cluster, request)
        let newViews = cluster.messages(of: "NEW-VIEW")
        #expect(newViews.count == 3)
        let nv = try! NewView(decoding: newViews[0].bytes)
        #expect(nv.prePrepares.map(\.sequence) == [1])
        #expect(nv.prePrepares.first?.digest == digest)
        for i in 1..<4 {
            #expect(cluster.committed(i).map(\.sequence) == [1])
            #expect(cluster.committed(i).first?.view == 1)
            #expect(cluster.committed(i).first?.digest == digest)
            #expect(cluster.executed(i).count == 1)
        }
    }

    @Test("V4: gaps between min-s and max-s are filled with null requests")
    func nullRequestsFillGaps() {
        // Proves sequences without a prepared certificate below max-s are re-proposed as empty batches.
        let cluster = TestCluster(config: .test(batchSizeMax: 1))
        cluster.start()
        cluster.run()
        // Sequence 1 prepares nowhere (its PREPAREs are lost); sequence 2 prepares everywhere.
        cluster.filter = { e in
            let info = describePBFTMessage(e.bytes)
            if info.type == "PREPARE" && info.sequence == 1 { return false }
            return info.type != "COMMIT"
        }
        cluster.submit(cluster.request(client: 0, timestamp: 1, putA), to: [0])
        let second = cluster.request(client: 1, timestamp: 1, put("b", 1))
        cluster.submit(second, to: [0])
        cluster.filter = nil
        crashPrimaryAndTimeOut(cluster, second)
        let nv = try! NewView(decoding: cluster.messages(of: "NEW-VIEW")[0].bytes)
        #expect(nv.prePrepares.map(\.sequence) == [1, 2])
        #expect(nv.prePrepares[0].requests.isEmpty)
        #expect(nv.prePrepares[1].digest == batchDigest([second]))
        for i in 1..<4 {
            #expect(cluster.committed(i).map(\.count) == [0, 1] || cluster.committed(i).map(\.count).prefix(2) == [0, 1])
            #expect(cluster.executedRequests(i).first == second.id)
        }
    }

    @Test("V5: a NEW-VIEW whose O differs from the one recomputed from its VIEW-CHANGEs is rejected")
    func newViewWithWrongReProposalsRejected() {
        // Proves backups verify NEW-VIEW by recomputing O, so a primary cannot drop a prepared request.
        let cluster = TestCluster(config: .test())
        cluster.start()
        cluster.run()
        cluster.filter = { e in describePBFTMessage(e.bytes).type != "COMMIT" }
        let request = cluster.request(client: 0, timestamp: 1, putA)
        cluster.submit(request, to: [0])
        // Hold back the genuine NEW-VIEW.
        cluster.filter = { e in describePBFTMessage(e.bytes).type != "NEW-VIEW" }
        crashPrimaryAndTimeOut(cluster, request)
        #expect(cluster.replica(2).isViewChanging)
        let vcs = (1..<4).compactMap { i in cluster.replica(2).latestViewChanges[i] }
        #expect(vcs.count == 3)
        let primary1 = cluster.keyring.signer(for: .replica(1))
        // O with a null request where a prepared certificate exists.
        let forged = NewView(view: 1, viewChanges: vcs, prePrepares: [PrePrepare(view: 1, sequence: 1, requests: [], signer: primary1)], signer: primary1)
        cluster.input(.message(from: .replica(1), bytes: forged.bytes), at: 2)
        // O that omits the sequence altogether.
        let empty = NewView(view: 1, viewChanges: vcs, prePrepares: [], signer: primary1)
        cluster.input(.message(from: .replica(1), bytes: empty.bytes), at: 2)
        // Too few VIEW-CHANGEs.
        let short = NewView(view: 1, viewChanges: Array(vcs.prefix(2)), prePrepares: [], signer: primary1)
        cluster.input(.message(from: .replica(1), bytes: short.bytes), at: 2)
        #expect(cluster.rejections(2).suffix(3) == [.invalidCertificate, .invalidCertificate, .invalidCertificate])
        #expect(cluster.replica(2).isViewChanging)
        // The correct NEW-VIEW is accepted.
        let correct = NewView(view: 1, viewChanges: vcs,
                              prePrepares: [PrePrepare(view: 1, sequence: 1, requests: [request], signer: primary1)], signer: primary1)
        cluster.filter = nil
        cluster.input(.message(from: .replica(1), bytes: correct.bytes), at: 2)
        cluster.run()
        #expect(cluster.replica(2).view == 1)
        #expect(cluster.replica(2).isViewChanging == false)
    }

    @Test("V2: f+1 VIEW-CHANGEs for higher views make a replica join; f of them do not")
    func weakQuorumJoins() {
        // Proves the join rule: one VIEW-CHANGE (f = 1) is not enough, two are.
        let cluster = TestCluster(config: .test())
        cluster.start()
        cluster.run()
        cluster.crashed.insert(0)
        cluster.submit(cluster.request(client: 0, timestamp: 1, putA), to: [1, 2, 3])
        cluster.filter = { e in describePBFTMessage(e.bytes).type != "VIEW-CHANGE" || e.from == .replica(3) }
        cluster.fire(PBFTReplica.viewChangeTimer, at: [3])
        #expect(cluster.replica(1).isViewChanging == false)
        #expect(cluster.replica(2).isViewChanging == false)
        cluster.filter = nil
        cluster.fire(PBFTReplica.viewChangeTimer, at: [2])
        // Replica 1's timer never fired, yet it joined and (as primary of view 1) led the new view.
        #expect(cluster.timers[1][PBFTReplica.viewChangeTimer] != nil || cluster.replica(1).view == 1)
        #expect(cluster.has(1, .viewChangeStarted(view: 1)))
        #expect(cluster.replica(1).view == 1)
        #expect(cluster.replica(3).view == 1)
        #expect(cluster.executed(3).count == 1)
    }

    @Test("V6: the view-change timeout doubles on consecutive failed view changes, is capped, and resets after execution")
    func timeoutDoubles() {
        // Proves exponential backoff of view changes (capped at viewChangeTimeoutMax) and its reset on progress.
        let cluster = TestCluster(config: .test(n: 7, f: 2))
        cluster.start()
        cluster.run()
        cluster.crashed = [0, 1]
        cluster.filter = { describePBFTMessage($0.bytes).type != "NEW-VIEW" }  // every new view fails
        let live = [2, 3, 4, 5, 6]
        cluster.submit(cluster.request(client: 0, timestamp: 1, putA), to: live)
        #expect(cluster.timers[6][PBFTReplica.viewChangeTimer] == 100 * nanosPerMillisecond)
        // Each attempt: the timer fires once to retransmit the VIEW-CHANGE, once more to move on.
        var timeouts: [Nanoseconds?] = []
        for attempt in 0..<5 {
            if attempt > 0 { cluster.fire(PBFTReplica.viewChangeTimer, at: live) }
            cluster.fire(PBFTReplica.viewChangeTimer, at: live)
            timeouts.append(cluster.timers[6][PBFTReplica.viewChangeTimer])
            #expect(cluster.replica(6).pendingView == UInt64(attempt + 1))
        }
        let ms = nanosPerMillisecond
        #expect(timeouts == [100 * ms, 200 * ms, 400 * ms, 800 * ms, 800 * ms])
        // The network delivers NEW-VIEWs again: the next view completes and the request executes.
        cluster.filter = nil
        var attempts = 0
        while cluster.executed(6).isEmpty && attempts < 16 {
            cluster.fire(PBFTReplica.viewChangeTimer, at: live)
            attempts += 1
        }
        #expect(cluster.executed(6).count == 1)
        #expect(cluster.replica(6).viewChangeTimeoutCurrent == 100 * ms)
    }

    @Test("V6: without a quorum asking for its view a replica retransmits its VIEW-CHANGE instead of moving on")
    func noEscalationWithoutQuorum() {
        // Proves a lone replica cannot run ahead of the others' views (which would stall them forever).
        let cluster = TestCluster(config: .test())
        cluster.start()
        cluster.run()
        cluster.crashed = [0]
        cluster.filter = { _ in false }
        cluster.submit(cluster.request(client: 0, timestamp: 1, putA), to: [3])
        cluster.fire(PBFTReplica.viewChangeTimer, at: [3])
        cluster.fire(PBFTReplica.viewChangeTimer, at: [3])
        cluster.fire(PBFTReplica.viewChangeTimer, at: [3])
        #expect(cluster.replica(3).pendingView == 1)
        let resent = cluster.actionLog[3].last!.contains { if case .broadcast(let b) = $0 { return b.first == PBFTWireTag.viewChange }; return false }
        #expect(resent)
    }

    @Test("V5: a replica that missed the NEW-VIEW gets it relayed when it retransmits its VIEW-CHANGE")
    func newViewRelayed() {
        // Proves a lost NEW-VIEW does not leave a correct replica outside the view for good.
        let cluster = TestCluster(config: .test())
        cluster.start()
        cluster.run()
        cluster.crashed = [0]
        cluster.filter = { e in !(e.to == .replica(3) && describePBFTMessage(e.bytes).type == "NEW-VIEW") }
        cluster.submit(cluster.request(client: 0, timestamp: 1, putA), to: [1, 2, 3])
        cluster.fire(PBFTReplica.viewChangeTimer, at: [1, 2, 3])
        #expect(cluster.replica(1).view == 1)
        #expect(cluster.replica(3).isViewChanging)
        cluster.filter = nil
        cluster.fire(PBFTReplica.viewChangeTimer, at: [3])
        #expect(cluster.replica(3).isViewChanging == false)
        #expect(cluster.replica(3).view == 1)
    }

    @Test("V5: a replica still changing to an older view gets the NEW-VIEW of the view the others reached")
    func newViewRelayedForOlderViewChange() {
        // Proves a replica isolated while the others changed views twice rejoins them once healed
        // (found by the fuzzer: Tests/FuzzingTests/Findings/pbft-isolated-replica-behind-view-change.yaml).
        let cluster = TestCluster(config: .test())
        cluster.start()
        cluster.run()
        // Replica 3 is cut off; the others see no PRE-PREPARE, so their views keep changing.
        cluster.filter = { e in
            e.to != .replica(3) && e.from != .replica(3) && describePBFTMessage(e.bytes).type != "PRE-PREPARE"
        }
        cluster.submit(cluster.request(client: 0, timestamp: 1, putA), to: [0, 1, 2, 3])
        cluster.fire(PBFTReplica.viewChangeTimer, at: [3])
        #expect(cluster.replica(3).pendingView == 1)
        cluster.fire(PBFTReplica.viewChangeTimer, at: [0, 1, 2])
        cluster.fire(PBFTReplica.viewChangeTimer, at: [0, 1, 2])
        for i in 0..<3 { #expect(cluster.replica(i).view == 2) }
        // Healed: replica 3 retransmits its VIEW-CHANGE for view 1 (V6), and is answered with view 2's NEW-VIEW.
        cluster.filter = nil
        cluster.fire(PBFTReplica.viewChangeTimer, at: [3])
        #expect(cluster.replica(3).isViewChanging == false)
        #expect(cluster.replica(3).view == 2)
        #expect(cluster.rejections(0).contains(.stale))
    }

    @Test("V5: replicas ignore normal-case messages while changing views and stale VIEW-CHANGEs afterwards")
    func normalCaseIgnoredDuringViewChange() {
        // Proves a replica that sent VIEW-CHANGE for v+1 no longer takes part in view v.
        let cluster = TestCluster(config: .test())
        cluster.start()
        cluster.run()
        cluster.crashed.insert(0)
        cluster.submit(cluster.request(client: 0, timestamp: 1, putA), to: [2])
        cluster.input(.timer(PBFTReplica.viewChangeTimer), at: 2)
        let pp = PrePrepare(view: 0, sequence: 1, requests: [], signer: cluster.keyring.signer(for: .replica(0)))
        cluster.input(.message(from: .replica(0), bytes: pp.bytes), at: 2)
        #expect(cluster.rejections(2) == [.wrongView])
    }

    @Test("V2: VIEW-CHANGEs with forged proofs or extreme values are rejected without trapping")
    func hostileViewChangeRejected() {
        // Proves VIEW-CHANGE validation checks the checkpoint proof and certificates, and never overflows.
        let cluster = TestCluster(config: .test())
        cluster.start()
        cluster.run()
        let r2 = cluster.keyring.signer(for: .replica(2))
        let fakeProof = [Checkpoint(sequence: UInt64.max - 3, stateDigest: .zero, signer: r2)]
        let huge = ViewChange(newView: 1, stableSequence: UInt64.max - 3, stableDigest: .zero, checkpointProof: fakeProof,
                              preparedCertificates: [], signer: r2)
        cluster.input(.message(from: .replica(2), bytes: huge.bytes), at: 1)
        // A certificate with one PREPARE where quorum - 1 = 2 are needed.
        let request = cluster.request(client: 0, timestamp: 1, putA)
        let pp = PrePrepare(view: 0, sequence: 1, requests: [request], signer: cluster.keyring.signer(for: .replica(0)))
        let thin = PreparedCertificate(prePrepare: pp, prepares: [Prepare(view: 0, sequence: 1, digest: pp.digest, signer: r2)])
        let weak = ViewChange(newView: 1, stableSequence: 0, stableDigest: PBFTReplica.genesisStateDigest, checkpointProof: [],
                              preparedCertificates: [thin], signer: r2)
        cluster.input(.message(from: .replica(2), bytes: weak.bytes), at: 1)
        // The same PREPARE twice does not make two.
        let doubled = PreparedCertificate(prePrepare: pp, prepares: [thin.prepares[0], thin.prepares[0]])
        let twice = ViewChange(newView: 1, stableSequence: 0, stableDigest: PBFTReplica.genesisStateDigest, checkpointProof: [],
                               preparedCertificates: [doubled], signer: r2)
        cluster.input(.message(from: .replica(2), bytes: twice.bytes), at: 1)
        #expect(cluster.rejections(1) == [.invalidCertificate, .invalidCertificate, .invalidCertificate])
        #expect(cluster.replica(1).latestViewChanges.allSatisfy { $0 == nil })
    }
}
