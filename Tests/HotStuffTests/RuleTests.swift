import Testing
import BFTCore
import BFTCrypto
@testable import HotStuff

@Suite("HotStuff rules (Specs/HotStuff.md)")
struct RuleTests {
    @Test("H-Q1: a QC needs n−f distinct signers; a duplicate vote counts once and a bad signature is dropped", arguments: HotStuffVariant.allCases)
    func quorumCertificateNeedsDistinctSigners(variant: HotStuffVariant) {
        // Proves vote aggregation: duplicates and forgeries never complete a QC.
        var s = ScriptedLeader(variant: variant)
        let p = s.propose(view: 1, parent: .genesis, justify: .genesis)
        let ring = s.cluster.ring
        // Replica 2 collects votes for a made-up digest in view 1.
        let digest = Digest.of([1, 2, 3])
        func deliver(_ v: Vote) { s.cluster.input(.message(from: .replica(v.voter), bytes: v.bytes), to: .replica(2)) }
        let v0 = Vote(view: 1, block: digest, signer: ring.signer(for: .replica(0)))
        deliver(v0)
        deliver(v0)
        // Replica 3's signature under replica 1's name.
        let forged = Vote(view: 1, block: digest, voter: 1, signature: Vote(view: 1, block: digest, signer: ring.signer(for: .replica(3))).signature)
        deliver(forged)
        #expect(s.cluster.replica(2).highQC.view == 0)
        #expect(s.cluster.rejections(2, .badSignature) == 1)
        deliver(Vote(view: 1, block: digest, signer: ring.signer(for: .replica(1))))
        #expect(s.cluster.replica(2).highQC.view == 0, "two distinct signers are not a quorum")
        deliver(Vote(view: 1, block: digest, signer: ring.signer(for: .replica(3))))
        #expect(s.cluster.replica(2).highQC.view == 1)
        #expect(s.cluster.replica(2).highQC.signatures.map(\.signer) == [0, 1, 3])

        // A proposal whose QC has only two signatures is rejected.
        var short = s.certify(p)!
        short.signatures = Array(short.signatures.prefix(2))
        let before = s.cluster.rejections(0, .invalidCertificate)
        s.propose(view: 2, parent: p, justify: short, to: [0])
        #expect(s.cluster.rejections(0, .invalidCertificate) == before + 1)
        // A QC whose signature list repeats a signer does not even decode.
        var w = ByteWriter()
        let q = s.certify(p)!
        QuorumCertificate(view: q.view, block: q.block, signatures: [q.signatures[0], q.signatures[0], q.signatures[1]]).encode(into: &w)
        var r = ByteReader(w.bytes)
        #expect(throws: DecodeError.self) { _ = try QuorumCertificate.decode(from: &r) }
    }

    @Test("H-V1: a replica votes at most once per view, even for two valid proposals", arguments: HotStuffVariant.allCases)
    func votesOncePerView(variant: HotStuffVariant) {
        // Proves the vheight rule against an equivocating leader.
        var s = ScriptedLeader(variant: variant)
        let p = s.propose(view: 1, parent: .genesis, justify: .genesis)
        let qp = s.certify(p)!
        let a = Block(view: 2, parentHeight: 1, proposer: 3, justify: qp, requests: [])
        let ring = s.cluster.ring
        let request = ClientRequest(client: 0, timestamp: 1, operation: KeyValueStore.Operation.noop.encoded,
                                    signer: Keyring(scheme: .fast, seed: 7, replicas: 4, clients: 1).signer(for: .client(0)))
        _ = ring
        let b = Block(view: 2, parentHeight: 1, proposer: 3, justify: qp, requests: [request])
        #expect(a.digest != b.digest)
        for blk in [a, b] {
            let proposal = Proposal(block: blk, signer: s.signer)
            s.cluster.input(.message(from: .replica(3), bytes: proposal.bytes), to: .replica(0))
        }
        #expect(s.cluster.votes(0).filter { $0.view == 2 }.count == 1)
        #expect(s.cluster.votes(0).last?.digest == a.digest)
        s.cluster.expectReplicaInvariants()
    }

    @Test("H-V2c: safeNode rejects a conflicting block whose QC is below the lock, accepts a newer QC")
    func safeNodeRule() {
        // Proves both halves of safeNode directly on the rules type.
        var s = ScriptedLeader(variant: .chained)
        let p = s.propose(view: 1, parent: .genesis, justify: .genesis)
        let qp = s.certify(p)!
        let b = s.propose(view: 2, parent: p, justify: qp)
        let qb = s.certify(b)!
        let b1 = s.propose(view: 3, parent: b, justify: qb)
        let qb1 = s.certify(b1)!
        let b2 = s.propose(view: 4, parent: b1, justify: qb1)
        // H-L1c: having seen QC(b1) in b2, replicas lock on QC(b).
        #expect(s.cluster.replica(0).lockedQC.view == 2)
        let tree = s.cluster.replica(0).tree
        let rules = ChainedRules()
        let conflicting = Block(view: 5, parentHeight: 1, proposer: 3, justify: qp, requests: [])
        var t = tree
        let insertedConflicting = t.insert(conflicting)
        #expect(insertedConflicting)
        #expect(!rules.isSafeToVote(conflicting, timeoutCertificate: nil, lockedQC: qb, tree: t))
        let extending = Block(view: 5, parentHeight: b2.height, proposer: 3, justify: s.certify(b2)!, requests: [])
        let insertedExtending = t.insert(extending)
        #expect(insertedExtending)
        #expect(rules.isSafeToVote(extending, timeoutCertificate: nil, lockedQC: qb, tree: t))
        // Liveness rule: a QC newer than the lock justifies a block that does not extend it.
        let fake = QuorumCertificate(view: 6, block: p.digest, signatures: [])
        let newer = Block(view: 7, parentHeight: 1, proposer: 3, justify: fake, requests: [])
        #expect(rules.isSafeToVote(newer, timeoutCertificate: nil, lockedQC: qb, tree: t))
        // Replica-level: the conflicting proposal is refused and not voted for.
        s.propose(view: 5, parent: p, justify: qp, to: [0])
        #expect(s.cluster.votes(0).map(\.view) == [1, 2, 3, 4])
        #expect(s.cluster.rejections(0, .conflicting) == 1)
    }

    @Test("H-C1c: a three-chain with a view gap does not commit; consecutive views do")
    func chainedCommitNeedsConsecutiveViews() {
        // Proves the commit rule checks views, not just parent links.
        var s = ScriptedLeader(variant: .chained)
        let p = s.propose(view: 1, parent: .genesis, justify: .genesis)
        let b = s.propose(view: 2, parent: p, justify: s.certify(p)!)
        let b1 = s.propose(view: 4, parent: b, justify: s.certify(b)!)
        let b2 = s.propose(view: 5, parent: b1, justify: s.certify(b1)!)
        let b3 = s.propose(view: 6, parent: b2, justify: s.certify(b2)!)
        // QC(b2) seen: chain b(2) ← b1(4) ← b2(5) has a gap, so b does not commit.
        #expect(s.cluster.commits(0).map(\.height) == [])
        s.propose(view: 7, parent: b3, justify: s.certify(b3)!)
        // QC(b3): b1(4) ← b2(5) ← b3(6) is consecutive, so b1 commits, with p and b before it.
        #expect(s.cluster.commits(0).map(\.height) == [1, 2, 3])
        #expect(s.cluster.commits(0).last?.digest == b1.digest)
        s.cluster.expectReplicaInvariants()
    }

    @Test("H-C1t: two-chain commits the parent of a certified block from the next view")
    func twoChainCommit() {
        // Proves the two-chain rule and its consecutive-round condition.
        var s = ScriptedLeader(variant: .twoChain)
        let p = s.propose(view: 1, parent: .genesis, justify: .genesis)
        let b = s.propose(view: 2, parent: p, justify: s.certify(p)!)
        // QC(p) and p(1) ← b(2): learning QC(b) commits p.
        #expect(s.cluster.commits(0).isEmpty)
        let tc = s.timeoutCertificate(view: 3, reports: [(0, 2), (1, 2), (3, 2)])
        let b1 = s.propose(view: 4, parent: b, justify: s.certify(b)!, tc: tc)
        #expect(s.cluster.commits(0).map(\.height) == [1])
        s.propose(view: 5, parent: b1, justify: s.certify(b1)!)
        // b(2) ← b1(4) has a gap: b does not commit.
        #expect(s.cluster.commits(0).map(\.height) == [1])
    }

    @Test("T3: a TC justifies a block only for the next view and with a QC at least the TC's highest QC")
    func timeoutCertificateRule() {
        // Proves DiemBFT v4's safe_to_vote on the rules type and end to end.
        let rules = TwoChainRules()
        let tree = BlockTree()
        let sig = Signature.zero
        func qc(_ v: UInt64) -> QuorumCertificate { QuorumCertificate(view: v, block: Block.genesis.digest, signatures: []) }
        func tc(_ v: UInt64, _ hqcs: [UInt64]) -> TimeoutCertificate {
            TimeoutCertificate(view: v, entries: hqcs.enumerated().map { .init(signer: $0, highQCView: $1, signature: sig) })
        }
        func block(_ v: UInt64, _ q: UInt64) -> Block { Block(view: v, parentHeight: 0, proposer: 0, justify: qc(q), requests: []) }
        #expect(rules.isSafeToVote(block(5, 4), timeoutCertificate: nil, lockedQC: qc(4), tree: tree))
        #expect(!rules.isSafeToVote(block(5, 3), timeoutCertificate: nil, lockedQC: qc(3), tree: tree))
        #expect(rules.isSafeToVote(block(5, 3), timeoutCertificate: tc(4, [3, 2, 1]), lockedQC: qc(3), tree: tree))
        #expect(!rules.isSafeToVote(block(5, 2), timeoutCertificate: tc(4, [3, 2, 1]), lockedQC: qc(3), tree: tree))
        #expect(!rules.isSafeToVote(block(6, 3), timeoutCertificate: tc(4, [3, 2, 1]), lockedQC: qc(3), tree: tree))

        // End to end: replicas hold QC(b) of view 2; a TC of view 3 reporting it forbids a block on QC(p).
        var s = ScriptedLeader(variant: .twoChain)
        let p = s.propose(view: 1, parent: .genesis, justify: .genesis)
        let qp = s.certify(p)!
        let b = s.propose(view: 2, parent: p, justify: qp)
        _ = s.certify(b)!
        let t3 = s.timeoutCertificate(view: 3, reports: [(0, 2), (1, 1), (3, 1)])
        s.propose(view: 4, parent: p, justify: qp, tc: t3, to: [0])
        #expect(s.cluster.votes(0).map(\.view) == [1, 2])
        #expect(s.cluster.replica(0).currentView == 4, "the TC moves the replica to view 4 (P3)")
        let t3low = s.timeoutCertificate(view: 3, reports: [(0, 1), (1, 1), (3, 1)])
        s.propose(view: 4, parent: p, justify: qp, tc: t3low, to: [1])
        #expect(s.cluster.votes(1).map(\.view) == [1, 2, 4])
        // A TC that is not from the previous view is rejected outright.
        let t2 = s.timeoutCertificate(view: 2, reports: [(0, 1), (1, 1), (3, 1)])
        s.propose(view: 5, parent: p, justify: qp, tc: t2, to: [2])
        #expect(s.cluster.rejections(2, .invalidCertificate) == 1)
    }

    @Test("P3: a replica that is behind jumps forward on a newer QC", arguments: HotStuffVariant.allCases)
    func viewSynchronisationOnQC(variant: HotStuffVariant) {
        // Proves view synchronisation: a proposal carrying a QC of view 6 moves a replica in view 1 to 7.
        var s = ScriptedLeader(variant: variant)
        var parent = s.propose(view: 1, parent: .genesis, justify: .genesis, to: [0, 1])
        for v in 2...6 as ClosedRange<UInt64> {
            parent = s.propose(view: v, parent: parent, justify: s.certify(parent)!, to: [0, 1])
        }
        #expect(s.cluster.replica(2).currentView == 1)
        s.propose(view: 7, parent: parent, justify: s.certify(parent)!, to: [2])
        #expect(s.cluster.replica(2).currentView == 7)
        // The proposer (played by the test) ignores the BLOCK-REQUEST; S4 retries with the next peer.
        s.cluster.fire(HotStuffReplica.fetchTimer, at: [2])
        s.cluster.run()
        // It fetched the missing ancestors (S1–S3), inserted them and voted.
        #expect(s.cluster.replica(2).tree.contains(parent.digest))
        #expect(s.cluster.votes(2).map(\.view) == [7])
    }

    @Test("bounded memory: far-future signed votes cannot crowd out the votes of the current view")
    func voteCollectorsAreBounded() {
        // Proves the named maximum on vote collectors and its eviction order.
        let s = ScriptedLeader(variant: .chained)
        let ring = s.cluster.ring
        for i in 0..<(HotStuffLimits.collectorsMax + 40) {
            let v = Vote(view: 500 + UInt64(i), block: Digest.of([UInt8(i & 0xff), 1]), signer: ring.signer(for: .replica(3)))
            s.cluster.input(.message(from: .replica(3), bytes: v.bytes), to: .replica(2))
        }
        #expect(s.cluster.replica(2).voteCollectors.count == HotStuffLimits.collectorsMax)
        let digest = Digest.of([7])
        for r in [0, 1, 3] {
            let v = Vote(view: 1, block: digest, signer: ring.signer(for: .replica(r)))
            s.cluster.input(.message(from: .replica(r), bytes: v.bytes), to: .replica(2))
        }
        #expect(s.cluster.replica(2).highQC.view == 1)
        #expect(s.cluster.replica(2).voteCollectors.count <= HotStuffLimits.collectorsMax)
    }
}
