import Testing
import BFTCore
import BFTCrypto
@testable import HotStuff

/// Test-the-tester at unit level: each mutation, driven by a scripted Byzantine leader (replica 3,
/// leading every view) that chooses who receives which proposal, makes two correct replicas commit
/// different blocks at the same height; the honest rules under the same script do not.
@Suite("HotStuff mutations are caught (test-the-tester)")
struct TestTheTesterTests {
    /// Specs/HotStuff.md §12.1. Chained. Correct replicas 0,1,2. b(2) ← b1(3) ← b2(5) has a view gap;
    /// a conflicting c(4) on p(1) is certified in the gap (voters are locked only on p), and later
    /// extended by d(7) ← e(8) ← f(9) ← g(10).
    static func parentLinksScript(mutations: HotStuffMutations) -> Cluster {
        var s = ScriptedLeader(variant: .chained, mutations: mutations)
        let p = s.propose(view: 1, parent: .genesis, justify: .genesis)
        let qp = s.certify(p)!
        let b = s.propose(view: 2, parent: p, justify: qp)
        let qb = s.certify(b)!
        let b1 = s.propose(view: 3, parent: b, justify: qb)
        let qb1 = s.certify(b1)!
        let c = s.propose(view: 4, parent: p, justify: qp)
        guard let qc = s.certify(c) else { return s.cluster }
        let b2 = s.propose(view: 5, parent: b1, justify: qb1)
        guard let qb2 = s.certify(b2) else { return s.cluster }
        s.propose(view: 6, parent: b2, justify: qb2, to: [0])
        let d = s.propose(view: 7, parent: c, justify: qc, to: [1, 2])
        guard let qd = s.certify(d) else { return s.cluster }
        let e = s.propose(view: 8, parent: d, justify: qd, to: [1, 2])
        guard let qe = s.certify(e) else { return s.cluster }
        let f = s.propose(view: 9, parent: e, justify: qe, to: [1, 2])
        guard let qf = s.certify(f) else { return s.cluster }
        s.propose(view: 10, parent: f, justify: qf, to: [1, 2])
        return s.cluster
    }

    @Test("H-C1c: commit on parent links only lets two correct replicas commit conflicting blocks")
    func commitOnParentLinksIsCaught() {
        // Proves the mutation is unsafe and that the conflicting-commit check sees it.
        let c = Self.parentLinksScript(mutations: .commitOnParentLinks)
        let conflict = c.conflictingCommits()
        #expect(conflict != nil)
        #expect(conflict?.0 == 2)
    }

    @Test("H-C1c: the honest consecutive-view rule survives the same schedule")
    func consecutiveViewsSurvive() {
        // Proves the view gap blocks the commit of b: replica 0 commits only p; 1 and 2 commit c later.
        let c = Self.parentLinksScript(mutations: [])
        #expect(c.conflictingCommits() == nil)
        #expect(c.commits(0).map(\.height) == [1])
        #expect(c.commits(1).map(\.height) == [1, 2, 3])
        c.expectReplicaInvariants()
    }

    /// Specs/HotStuff.md §12.2. b at height 2 commits at replica 0 only; replicas 1, 2 are locked on it
    /// (chained) or hold its QC (two-chain); a conflicting c on p(1) with an old QC and no TC follows.
    static func lockScript(variant: HotStuffVariant, mutations: HotStuffMutations) -> Cluster {
        var s = ScriptedLeader(variant: variant, mutations: mutations)
        let p = s.propose(view: 1, parent: .genesis, justify: .genesis)
        let qp = s.certify(p)!
        let b = s.propose(view: 2, parent: p, justify: qp)
        let qb = s.certify(b)!
        let b1 = s.propose(view: 3, parent: b, justify: qb)
        let qb1 = s.certify(b1)!
        var next: UInt64 = 4
        if variant == .chained {
            let b2 = s.propose(view: 4, parent: b1, justify: qb1)
            let qb2 = s.certify(b2)!
            s.propose(view: 5, parent: b2, justify: qb2, to: [0])
            next = 6
        } else {
            s.propose(view: 4, parent: b1, justify: qb1, to: [0])
            next = 5
        }
        let c = s.propose(view: next, parent: p, justify: qp, to: [1, 2])
        guard let qc = s.certify(c) else { return s.cluster }
        var parent = c
        var qc1 = qc
        for v in (next + 1)...(next + 3) {
            let blk = s.propose(view: v, parent: parent, justify: qc1, to: [1, 2])
            guard let q = s.certify(blk) else { return s.cluster }
            parent = blk
            qc1 = q
        }
        return s.cluster
    }

    @Test("H-V2: voting without the lock check lets two correct replicas commit conflicting blocks", arguments: HotStuffVariant.allCases)
    func voteWithoutLockCheckIsCaught(variant: HotStuffVariant) {
        // Proves the mutation is unsafe in both variants and that the conflict is visible in observations.
        let c = Self.lockScript(variant: variant, mutations: .voteWithoutLockCheck)
        let conflict = c.conflictingCommits()
        #expect(conflict != nil)
        #expect(conflict?.0 == 2)
    }

    @Test("H-V2: the honest vote rule refuses the conflicting block under the same schedule", arguments: HotStuffVariant.allCases)
    func lockCheckSurvives(variant: HotStuffVariant) {
        // Proves replicas 1 and 2 refuse c (no QC can form), so nothing conflicts.
        let c = Self.lockScript(variant: variant, mutations: [])
        #expect(c.conflictingCommits() == nil)
        #expect(c.commits(0).map(\.height) == [1, 2])
        #expect(c.rejections(1, .conflicting) == 1)
        c.expectReplicaInvariants()
    }

    static func forkingLeaderRun(_ attack: ForkingLeader.Attack, variant: HotStuffVariant, mutations: HotStuffMutations) -> Cluster {
        let config = HotStuffConfig(n: 4, variant: variant, leaderSchedule: [3], mutations: mutations)
        let c = Cluster(config: config, clients: 1, requests: 3) { i, honest, signer in
            i == 3 ? ForkingLeader(wrapping: honest, attack: attack, signer: signer, config: config) as any StateMachine : honest
        }
        c.start()
        c.run()
        return c
    }

    @Test("ForkingLeader (scenario-level Byzantine behaviour) reproduces both schedules over the network",
          arguments: [(ForkingLeader.Attack.viewGap, HotStuffVariant.chained, HotStuffMutations.commitOnParentLinks),
                      (.belowLock, .chained, .voteWithoutLockCheck), (.belowLock, .twoChain, .voteWithoutLockCheck)])
    func forkingLeader(attack: ForkingLeader.Attack, variant: HotStuffVariant, mutation: HotStuffMutations) {
        // Proves the wrapper the integrator's scenarios use: conflict with the mutation, none without.
        let broken = Self.forkingLeaderRun(attack, variant: variant, mutations: mutation)
        #expect(broken.conflictingCommits()?.0 == 2)
        #expect((broken.replicas[3] as? ForkingLeader)?.finished == true)
        let honest = Self.forkingLeaderRun(attack, variant: variant, mutations: [])
        #expect(honest.conflictingCommits() == nil)
        honest.expectReplicaInvariants()
    }
}
