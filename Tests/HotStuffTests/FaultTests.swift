import Testing
import BFTCore
import BFTCrypto
@testable import HotStuff

@Suite("HotStuff under faults")
struct FaultTests {
    @Test("P4/P5: a crashed leader times out, the next leader proposes on the highest QC and progress resumes", arguments: HotStuffVariant.allCases)
    func crashedLeader(variant: HotStuffVariant) {
        // Proves liveness through view changes: replica 1 (leader of views 1, 5, 9, ...) never runs.
        let c = Cluster(config: HotStuffConfig(n: 4, variant: variant), clients: 1, requests: 6)
        c.crashed = [1]
        c.start()
        c.runWithTimeouts()
        #expect(c.clientsDone)
        #expect(c.conflictingCommits() == nil)
        for r in [0, 2, 3] {
            #expect(c.executedRequests(r) == c.executedRequests(0))
            let changes = c.observations[r].filter { if case .viewChangeStarted = $0 { return true }; return false }
            #expect(!changes.isEmpty, "r\(r) never timed out")
            // No correct replica ever entered a view led by the crashed replica and voted in it.
            #expect(c.votes(r).allSatisfy { c.config.leader(of: $0.view) != 1 })
            // Two-chain moves on through timeout certificates (T1–T2).
            let tcs = c.observations[r].filter { if case .timeoutCertified = $0 { return true }; return false }
            #expect(tcs.isEmpty == (variant == .chained))
            // Once everything committed the replica is idle: no view timer left armed (P2).
            #expect(c.timers[r][HotStuffReplica.viewTimer] == nil)
        }
        c.expectReplicaInvariants()
    }

    @Test("P4: the view timeout doubles on consecutive timeouts, is capped, and resets on progress")
    func backoff() {
        // Proves the exponential backoff arithmetic and its reset by a new QC.
        let config = HotStuffConfig(n: 4, viewTimeout: 100, viewTimeoutMax: 700)
        let ring = Keyring(scheme: .fast, seed: 1, replicas: 4, clients: 0)
        var r = HotStuffReplica(id: 0, config: config, signer: ring.signer(for: .replica(0)), verifier: ring.verifier)
        var durations: [Nanoseconds] = []
        for k in 0..<6 {
            r.consecutiveTimeouts = k
            durations.append(r.viewTimeoutDuration)
        }
        #expect(durations == [100, 200, 400, 700, 700, 700])
        r.consecutiveTimeouts = 1000
        #expect(r.viewTimeoutDuration == 700)

        let c = Cluster(config: HotStuffConfig(n: 4, viewTimeout: 100, viewTimeoutMax: 700), clients: 1, requests: 1)
        c.crashed = [1]
        c.start()
        c.run()
        c.fireViewTimers([0, 2, 3])
        c.run()
        // After a timeout the next view's timer was armed with the doubled value.
        #expect(c.replica(0).consecutiveTimeouts == 1 || c.replica(0).consecutiveTimeouts == 0)
        c.runWithTimeouts()
        #expect(c.clientsDone)
        #expect(c.replica(0).consecutiveTimeouts == 0, "progress resets the backoff")
    }

    @Test("P11: a replica that times out alone stays in its view; with timers at their cap and one replica crashed, the others still share a view and commit", arguments: HotStuffVariant.allCases)
    func loneTimeoutDoesNotRunAhead(variant: HotStuffVariant) {
        // Proves the pacemaker cannot let one correct replica run ahead of the others (the fuzzer's
        // hotstuff-chained-stuck-after-crash): replica 2 times out three times on its own; before P11
        // chained entered view 4 alone and, with every timer at its cap (no backoff left to close the
        // gap) and replica 1 crashed, no view ever again held the three correct replicas.
        let config = HotStuffConfig(n: 4, variant: variant, viewTimeout: 100 * nanosPerMillisecond, viewTimeoutMax: 100 * nanosPerMillisecond)
        let c = Cluster(config: config, clients: 1, requests: 1)
        c.crashed = [1]
        c.start()
        c.run()
        for _ in 0..<3 {
            c.fireViewTimers([2])
            c.run()
        }
        // Replica 2 announced the next view (and stopped voting in view 1, H-V1) but did not enter it.
        #expect(c.replica(2).currentView == 1)
        #expect(c.replica(2).lastVotedView == 1)
        #expect(c.replica(0).currentView == 1)
        #expect(c.replica(3).currentView == 1)
        c.runWithTimeouts(firings: 200)
        let done = c.clientsDone
        #expect(done, "views: \([0, 2, 3].map { c.replica($0).currentView })")
        #expect(c.conflictingCommits() == nil)
        for r in [0, 2, 3] { #expect(c.executedRequests(r) == c.executedRequests(0)) }
        c.expectReplicaInvariants()
    }

    @Test("T4: an idle replica joins the view change once f+1 replicas timed out; with one replica crashed the others still form a TC", arguments: HotStuffVariant.allCases)
    func idleReplicaJoinsTimeouts(variant: HotStuffVariant) {
        // Proves timeout amplification (the fuzzer's hotstuff-two-chain-idle-replica-withholds-timeout):
        // replica 2 never receives the client's request, so it has no work and no view timer (P2);
        // replica 1, the leader of view 1, is crashed. Replicas 0 and 3 time out of view 1, but a TC
        // needs n−f = 3 TIMEOUTs: before T4 replica 2 never sent one and two-chain stalled in view 1.
        // (Chained already joined announced views by P10; the test checks both.)
        let c = Cluster(config: HotStuffConfig(n: 4, variant: variant), clients: 1, requests: 2)
        c.crashed = [1]
        c.policy = { e in e.info.type == "REQUEST" && e.to == .replica(2) ? .drop : .deliver }
        c.start()
        c.runWithTimeouts(firings: 500)
        let done = c.clientsDone
        #expect(done, "views: \([0, 2, 3].map { c.replica($0).currentView })")
        let started = c.observations[2].contains { if case .viewChangeStarted(2) = $0 { return true }; return false }
        #expect(started, "replica 2 never joined the view change out of view 1")
        #expect(c.conflictingCommits() == nil)
        for r in [0, 2, 3] { #expect(c.executedRequests(r) == c.executedRequests(0)) }
        c.expectReplicaInvariants()
    }

    @Test("T4: f TIMEOUTs are not enough to make a correct replica leave its view")
    func oneTimeoutDoesNotPullOthers() {
        // Proves T4 cannot be driven by up to f replicas alone: with f = 1, one replica's TIMEOUT for
        // the current view leaves the others in it, voting; a second (f+1-th) one makes them join.
        let c = Cluster(config: HotStuffConfig(n: 4, variant: .twoChain), clients: 1, requests: 1)
        c.crashed = [1]
        c.policy = { e in e.info.type == "REQUEST" && e.to != .replica(0) ? .drop : .deliver }
        c.start()
        c.run()
        c.fireViewTimers([0])
        c.run()
        for r in [2, 3] {
            #expect(c.replica(r).lastVotedView == 0, "r\(r) stopped voting in view 1 on one TIMEOUT")
            #expect(c.replica(r).timedOutView == 0)
        }
        c.input(.timer(HotStuffReplica.viewTimer), to: .replica(3))  // replica 3 is idle: a forced timeout
        c.run()
        // Replicas 0 and 3 timed out; replica 2 joined, its TIMEOUT completed the TC: all left view 1.
        // (Replica 2 leads view 2, entered on that TC, so it proposes there (P5) and they move on to 3.)
        for r in [0, 2, 3] {
            #expect(c.replica(r).highTC?.view == 1, "r\(r) has no TC of view 1")
            #expect(c.replica(r).currentView >= 2, "r\(r) in view \(c.replica(r).currentView)")
        }
        #expect(c.replica(2).timedOutView == 1)
    }

    @Test("P12: an idle replica that completed a TC (two-chain) or an announcement quorum (chained) alone answers the others' late TIMEOUTs / NEW-VIEWs with SYNC",
          arguments: [(HotStuffVariant.twoChain, "TIMEOUT"), (.chained, "NEW-VIEW")])
    func idleReplicaLostJoinedMessage(variant: HotStuffVariant, joinedType: String) {
        // Proves P12 closes the gap T4/P11 leave: replica 1 crashed, replica 2 idle, and every copy of
        // replica 2's joined message for the view change is lost.
        // Two-chain: replica 2's joined TIMEOUT for view 1 completed the TC at replica 2, which enters
        // view 2 with no work and no timer; replicas 0 and 3 repeat TIMEOUT(1) to it, and it answers
        // with ⟨SYNC, highQC, TC(1)⟩, which moves them to view 2 (T2).
        // Chained: replicas 0 and 3 announce view 2, replica 2 joins (P10) and its own copy makes n−f,
        // so it enters view 2 (P11); replicas 0 and 3 repeat NEW-VIEW(2) and replica 2 answers with a
        // SYNC forwarding the n−f signed announcements it entered on (P10).
        // Replica 2 leads view 2, entered on others' timeouts, so it proposes there (P5); that proposal,
        // which carries the TC (two-chain) or moves its voters to view 2 (P6, chained), is lost too.
        // Found as a known gap; without P12 the clients never finish.
        final class Box: @unchecked Sendable { var dropped = 0; var droppedProposals = 0; var syncs = 0 }
        let box = Box()
        let c = Cluster(config: HotStuffConfig(n: 4, variant: variant), clients: 1, requests: 2)
        c.crashed = [1]
        c.policy = { e in
            let info = e.info
            if info.type == "SYNC" { box.syncs += 1 }
            if info.type == "REQUEST", e.to == .replica(2) { return .drop }
            if info.type == joinedType, e.from == .replica(2), box.dropped < 2 { box.dropped += 1; return .drop }
            if info.type == "PROPOSAL", e.from == .replica(2), info.view == 2 { box.droppedProposals += 1; return .drop }
            return .deliver
        }
        c.start()
        c.runWithTimeouts(firings: 200)
        #expect(box.dropped == 2)
        #expect(box.droppedProposals == 2)
        #expect(box.syncs >= 1, "replica 2 never answered with SYNC")
        #expect(c.replica(2).currentView >= 2)
        #expect(c.conflictingCommits() == nil)
        let views = [0, 2, 3].map { c.replica($0).currentView }
        let done = c.clientsDone
        #expect(done, "views: \(views)")
        for r in [0, 2, 3] { #expect(c.executedRequests(r) == c.executedRequests(0)) }
        c.expectReplicaInvariants()
    }

    @Test("S1–S4: a lagging replica catches up through block sync and executes everything in order", arguments: HotStuffVariant.allCases)
    func laggingReplicaCatchesUp(variant: HotStuffVariant) {
        // Proves block sync over more than one BLOCK-RESPONSE: replica 3 misses ~40 blocks, then syncs.
        let c = Cluster(config: HotStuffConfig(n: 4, variant: variant, batchSizeMax: 1), clients: 2, requests: 20)
        c.policy = { e in (e.to == .replica(3) || e.from == .replica(3)) ? .drop : .deliver }
        c.start(clients: false)
        c.input(.start, to: .client(0))
        c.runWithTimeouts()
        #expect(c.client(0).isFinished)
        #expect(c.executedRequests(3).isEmpty)
        let lag = c.replica(0).tree.committed.height
        #expect(lag > UInt64(HotStuffLimits.blocksPerResponseMax), "the lag spans several responses")
        // Heal and add work from a second client: the next proposals reference blocks replica 3 lacks.
        c.policy = { _ in .deliver }
        c.input(.start, to: .client(1))
        c.runWithTimeouts()
        let committed0 = c.commits(0)
        let committed3 = c.commits(3)
        #expect(!committed3.isEmpty)
        #expect(committed3.map(\.height) == Array(1...UInt64(committed3.count)), "heights are consecutive from 1")
        #expect(zip(committed0, committed3).allSatisfy { $0.digest == $1.digest })
        #expect(c.executedRequests(3) == Array(c.executedRequests(0).prefix(c.executedRequests(3).count)))
        #expect(c.executedRequests(3).count == 40)
        #expect(c.clientsDone)
        #expect(c.conflictingCommits() == nil)
    }

    @Test("Byzantine leader: EquivocatingLeader sends different valid blocks to the two halves; safety holds and progress resumes", arguments: HotStuffVariant.allCases)
    func equivocatingLeader(variant: HotStuffVariant) {
        // Proves the wrapper really equivocates and that honest rules stay safe and live under it.
        let config = HotStuffConfig(n: 4, variant: variant)
        let c = Cluster(config: config, clients: 1, requests: 6) { i, honest, signer in
            i == 1 ? EquivocatingLeader(wrapping: honest, signer: signer, config: config) as any StateMachine : honest
        }
        c.start()
        c.runWithTimeouts()
        // Proposals of replica 1 as received: the twins show up as two digests for one view.
        var received: [UInt64: Set<Digest>] = [:]
        for r in [0, 2, 3] {
            for o in c.observations[r] {
                if case let .voted(view, digest) = o, c.config.leader(of: view) == 1 { received[view, default: []].insert(digest) }
            }
        }
        #expect(received.values.contains { $0.count == 2 }, "the leader equivocated at least once")
        #expect(c.clientsDone)
        #expect(c.conflictingCommits() == nil)
        for r in [0, 2, 3] { #expect(c.executedRequests(r) == c.executedRequests(0)) }
        c.expectReplicaInvariants()
    }

    @Test("R1–R3: safety state is persisted before the vote and restored on recovery; no second vote in a view", arguments: HotStuffVariant.allCases)
    func recoveryKeepsSafetyState(variant: HotStuffVariant) {
        // Proves persist-before-send and that a restarted replica does not vote twice in one view.
        var s = ScriptedLeader(variant: variant)
        let p = s.propose(view: 1, parent: .genesis, justify: .genesis)
        let qp = s.certify(p)!
        let b = s.propose(view: 2, parent: p, justify: qp, to: [0])
        #expect(s.cluster.votes(0).map(\.view) == [1, 2])
        s.cluster.expectReplicaInvariants()
        let durable = s.cluster.persisted[0]
        #expect(durable[HotStuffReplica.safetyKey] != nil)
        // Restart replica 0 from its durable state.
        let ring = s.cluster.ring
        let fresh = HotStuffReplica(id: 0, config: s.cluster.config, signer: ring.signer(for: .replica(0)), verifier: ring.verifier)
        s.cluster.replicas[0] = fresh
        s.cluster.input(.recover(durable: durable), to: .replica(0))
        #expect(s.cluster.replica(0).lastVotedView == 2)
        #expect(s.cluster.replica(0).highQC == qp)
        // A different block for view 2 is not voted for.
        let twin = Block(view: 2, parentHeight: 1, proposer: 3, justify: qp,
                         requests: [ClientRequest(client: 0, timestamp: 1, operation: [0],
                                                  signer: Keyring(scheme: .fast, seed: 7, replicas: 4, clients: 1).signer(for: .client(0)))])
        #expect(twin.digest != b.digest)
        let votesBefore = s.cluster.votes(0).count
        s.cluster.input(.message(from: .replica(3), bytes: Proposal(block: twin, signer: s.signer).bytes), to: .replica(0))
        #expect(s.cluster.votes(0).count == votesBefore)
    }

    @Test("R2: a recovered replica keeps its executed state and does not re-execute")
    func recoveryKeepsExecutedState() {
        // Proves the committed-state record: store, client table and commit frontier survive a restart.
        let c = Cluster(config: HotStuffConfig(n: 4), clients: 1, requests: 3)
        c.start()
        c.run()
        #expect(c.clientsDone)
        let before = c.replica(2)
        let fresh = HotStuffReplica(id: 2, config: c.config, signer: c.ring.signer(for: .replica(2)), verifier: c.ring.verifier)
        c.replicas[2] = fresh
        c.input(.recover(durable: c.persisted[2]), to: .replica(2))
        #expect(c.replica(2).store == before.store)
        #expect(c.replica(2).tree.committed.digest == before.tree.committed.digest)
        #expect(c.replica(2).clientTable == before.clientTable)
        #expect(c.replica(2).currentView > before.lastVotedView)
    }

    @Test("R3: a replica that crashes mid-run and recovers from its durable state catches up without re-executing", arguments: HotStuffVariant.allCases)
    func crashAndRecover(variant: HotStuffVariant) {
        // Proves recovery end to end: safety and committed state restored, then block sync for what it missed.
        let c = Cluster(config: HotStuffConfig(n: 4, variant: variant, batchSizeMax: 2), clients: 3, requests: 4)
        c.start(clients: false)
        c.input(.start, to: .client(0))
        c.runWithTimeouts()
        #expect(c.client(0).isFinished)
        #expect(c.executedRequests(2).count == 4)
        c.crashed = [2]
        c.input(.start, to: .client(1))
        c.runWithTimeouts()
        #expect(c.client(1).isFinished)
        c.crashed = []
        c.replicas[2] = HotStuffReplica(id: 2, config: c.config, signer: c.ring.signer(for: .replica(2)), verifier: c.ring.verifier)
        c.input(.recover(durable: c.persisted[2]), to: .replica(2))
        #expect(c.replica(2).clientTable[0]?.timestamp == 4, "executed state survived the crash")
        c.input(.start, to: .client(2))
        c.runWithTimeouts()
        #expect(c.clientsDone)
        #expect(c.executedRequests(2) == c.executedRequests(0), "no request re-executed or skipped")
        #expect(c.replica(2).store == c.replica(0).store)
        #expect(c.conflictingCommits() == nil)
    }

    @Test("lossy network: with 15% of messages dropped and some held back, both variants stay safe and finish", arguments: HotStuffVariant.allCases)
    func lossyNetwork(variant: HotStuffVariant) {
        // Proves liveness and safety under loss and reordering across several seeds (timeouts, NEW-VIEW/TC, block sync, retries).
        for seed in 1...24 as ClosedRange<UInt64> {
            let n = seed % 3 == 0 ? 7 : 4
            let c = Cluster(config: HotStuffConfig(n: n, variant: variant, batchSizeMax: 3), clients: 2, requests: 5, seed: seed)
            let rngBox = RNGBox(DeterministicRNG(seed: seed, stream: "loss"))
            c.policy = { _ in
                let u = rngBox.rng.unit()
                return u < 0.15 ? .drop : (u < 0.25 ? .hold : .deliver)
            }
            c.start()
            for _ in 0..<60 where !c.clientsDone {
                c.runWithTimeouts(firings: 50)
                c.release()
            }
            #expect(c.clientsDone, "seed \(seed)")
            #expect(c.conflictingCommits() == nil, "seed \(seed)")
            c.expectReplicaInvariants()
        }
    }
}

final class RNGBox: @unchecked Sendable {
    var rng: DeterministicRNG
    init(_ rng: DeterministicRNG) { self.rng = rng }
}
