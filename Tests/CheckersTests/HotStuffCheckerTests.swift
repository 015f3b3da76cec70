import BFTCore
import Testing
@testable import Checkers

/// Block of view `v` in the hand-built HotStuff streams; view 0 is genesis.
func block(_ v: UInt64) -> Digest { digest(5, v) }

extension StreamBuilder {
    /// One view of the chained normal case (Specs/HotStuff.md H-C1c) on `replicas`, with height = view:
    /// each replica enters `v`, votes for block v, certifies it, moves its highQC to v and its lock to v − 1,
    /// and commits block v − 2 on parent v − 3.
    mutating func chainedView(_ v: UInt64, replicas: [ReplicaID] = [0, 1, 2, 3]) {
        for r in replicas { add(.replica(r), .viewEntered(view: v, leader: ReplicaID(v % 4))) }
        for r in replicas { add(.replica(r), .voted(view: v, digest: block(v))) }
        for r in replicas {
            add(.replica(r), .blockCertified(view: v, digest: block(v), height: v))
            add(.replica(r), .highQC(view: v))
            if v >= 2 { add(.replica(r), .locked(view: v - 1)) }
            if v >= 3 { commitBlock(r, height: v - 2) }
        }
    }

    /// `.blockCommitted` then `.committed` (as HotStuff emits them) of `digest` at `height` on `parent`;
    /// returns the event index of the `.blockCommitted`.
    @discardableResult
    mutating func commitBlock(_ r: ReplicaID, height h: UInt64, digest d: Digest? = nil, parent p: Digest? = nil) -> UInt64 {
        let d = d ?? block(h)
        let i = add(.replica(r), .blockCommitted(height: h, digest: d, parent: p ?? block(h - 1)))
        add(.replica(r), .committed(sequence: h, view: h, digest: d, requestCount: 0))
        return i
    }
}

@Suite("HotStuff safety checkers and diagnosis")
struct HotStuffCheckerTests {
    @Test("clean chained run: 20 views on 4 replicas pass every check")
    func cleanRun() {
        // Proves the HotStuff checks raise nothing on a well-formed stream and the generic checks still count commits.
        var s = StreamBuilder()
        for v in 1...20 { s.chainedView(UInt64(v)) }
        let report = s.check(config4())
        #expect(report.violations.isEmpty, "\(report.violations)")
        #expect(report.safety == .holds)
        #expect(report.liveness == .holds)
        #expect(report.committedBatches == 18)
        #expect(ViolationKind.allCases.allSatisfy { report.violationCounts[$0] == 0 })
    }

    @Test("new kinds are safety kinds listed after the existing ones")
    func kinds() {
        // Proves existing raw values and order are unchanged and the new kinds count as safety.
        #expect(ViolationKind.allCases.map(\.rawValue) == [
            "agreement", "validity", "integrity", "total-order", "client-result", "liveness",
            "conflicting-certificates", "chain", "lock-regression", "double-vote"])
        #expect(ViolationKind.allCases.filter { !$0.isSafety } == [.liveness])
    }

    @Test("conflicting certificates: two correct replicas certify different blocks in one view")
    func conflictingCertificates() {
        // Proves a second digest certified in a view is reported at that record, naming both replicas and digests.
        var s = StreamBuilder()
        for v in 1...4 { s.chainedView(UInt64(v)) }
        s.add(.replica(0), .blockCertified(view: 5, digest: block(5), height: 5))
        s.add(.replica(1), .blockCertified(view: 5, digest: block(5), height: 5))
        let bad = s.add(.replica(2), .blockCertified(view: 5, digest: digest(9, 5), height: 5))
        let checker = InvariantChecker(config: config4())
        checker.observe(contentsOf: s.records.dropLast())
        #expect(!checker.safetyViolated)
        checker.observe(s.records.last!)
        #expect(checker.safetyViolated)
        let report = checker.finish(at: s.time)
        #expect(report.violations.map(\.kind) == [.conflictingCertificates])
        let v = report.violations.first
        #expect(v?.eventIndex == bad)
        #expect(v?.source == .replica(2))
        #expect(v?.message == "r2 certified block \(digest(9, 5)) (height 5) in view 5 but r0 certified \(block(5)) "
            + "(height 5) in that view: two conflicting blocks certified in one view")
    }

    @Test("chain: a replica commits a block whose parent is not its own previous committed block")
    func ownParentMismatch() {
        // Proves the per-replica parent link check at the `.blockCommitted` record.
        var s = StreamBuilder()
        s.commitBlock(1, height: 1)
        let bad = s.commitBlock(1, height: 2, digest: digest(9, 2), parent: digest(9, 1))
        let report = s.check(config4())
        #expect(report.violations.map(\.kind) == [.chain])
        #expect(report.violations.first?.eventIndex == bad)
        #expect(report.violations.first?.message == "r1 committed block \(digest(9, 2)) at height 2 with parent "
            + "\(digest(9, 1)) but its own block at height 1 is \(block(1))")
    }

    @Test("chain: two correct replicas commit different blocks at one height (agreement flags the generic commit)")
    func forkAtHeight() {
        // Proves the chain check fires on `.blockCommitted` and agreement still fires on the `.committed` after it.
        var s = StreamBuilder()
        s.commitBlock(0, height: 1)
        let bad = s.commitBlock(3, height: 1, digest: digest(9, 1), parent: block(0))
        let report = s.check(config4())
        #expect(report.violations.map(\.kind) == [.chain, .agreement])
        #expect(report.violations.first?.eventIndex == bad)
        #expect(report.violations.last?.eventIndex == bad + 1)
        #expect(report.violations.first?.message == "r3 committed block \(digest(9, 1)) at height 1 but r0 committed "
            + "\(block(1)) there: committed blocks must form one chain")
    }

    @Test("chain: parents must link to the blocks other replicas committed, in either order")
    func globalParentLinks() {
        // Proves a replica that skipped a height is still checked against the others' chain, below and above.
        var s = StreamBuilder()
        s.commitBlock(0, height: 1)
        s.commitBlock(0, height: 2)
        let samePlaceOtherParent = s.add(.replica(1), .blockCommitted(height: 2, digest: block(2), parent: digest(9, 1)))
        let notExtending = s.add(.replica(2), .blockCommitted(height: 3, digest: block(3), parent: digest(9, 2)))
        s.add(.replica(0), .blockCommitted(height: 5, digest: block(5), parent: block(4)))
        let notThrough = s.add(.replica(3), .blockCommitted(height: 4, digest: digest(9, 4), parent: block(3)))
        let report = s.check(config4())
        #expect(report.violations.map(\.kind) == [.chain, .chain, .chain])
        #expect(report.violations.map(\.eventIndex) == [samePlaceOtherParent, notExtending, notThrough])
        #expect(report.violations[0].message == "r1 committed block \(block(2)) at height 2 with parent \(digest(9, 1)) "
            + "but r0 committed it with parent \(block(1))")
        #expect(report.violations[1].message == "r2 committed block \(block(3)) at height 3 with parent \(digest(9, 2)) "
            + "but r0 committed \(block(2)) at height 2: the block does not extend the committed chain")
        #expect(report.violations[2].message == "r3 committed block \(digest(9, 4)) at height 4 but r0 committed "
            + "\(block(5)) at height 5 on parent \(block(4)): the committed chain does not pass through this block")
    }

    @Test("lock regression: a correct replica's locked view decreases")
    func lockRegression() {
        // Proves H-L1 monotonicity is checked per replica; an equal lock is fine, a lower one is reported.
        var s = StreamBuilder()
        s.add(.replica(2), .locked(view: 7))
        s.add(.replica(1), .locked(view: 3))
        s.add(.replica(2), .locked(view: 7))
        let bad = s.add(.replica(2), .locked(view: 6))
        let report = s.check(config4())
        #expect(report.violations.map(\.kind) == [.lockRegression])
        #expect(report.violations.first?.eventIndex == bad)
        #expect(report.violations.first?.message == "r2 locked on a QC of view 6 after locking on view 7: a correct "
            + "replica's locked view never decreases (H-L1)")
    }

    @Test("double vote: a correct replica votes twice in one view, for different or the same block")
    func doubleVote() {
        // Proves H-V1 "vote at most once per view": both a conflicting and a repeated vote are reported.
        var s = StreamBuilder()
        s.add(.replica(0), .voted(view: 4, digest: block(4)))
        s.add(.replica(1), .voted(view: 4, digest: block(4)))
        s.add(.replica(0), .voted(view: 5, digest: block(5)))
        let conflicting = s.add(.replica(0), .voted(view: 4, digest: digest(9, 4)))
        let repeated = s.add(.replica(1), .voted(view: 4, digest: block(4)))
        let report = s.check(config4())
        #expect(report.violations.map(\.kind) == [.doubleVote, .doubleVote])
        #expect(report.violations.map(\.eventIndex) == [conflicting, repeated])
        #expect(report.violations[0].message == "r0 voted in view 4 twice: for \(block(4)) and then for \(digest(9, 4)); "
            + "a correct replica votes at most once per view (H-V1)")
        #expect(report.violations[1].message == "r1 voted in view 4 the same block \(block(4)) twice; a correct "
            + "replica votes at most once per view (H-V1)")
    }

    @Test("byzantine replicas: their votes, certificates, locks and commits are ignored")
    func byzantineIgnored() {
        // Proves every HotStuff check skips replicas in config.byzantine, while the diagnosis still tracks them.
        var s = StreamBuilder()
        for v in 1...5 { s.chainedView(UInt64(v), replicas: [0, 1, 2]) }
        s.add(.replica(3), .voted(view: 5, digest: digest(9, 5)))
        s.add(.replica(3), .voted(view: 5, digest: digest(9, 5)))
        s.add(.replica(3), .blockCertified(view: 5, digest: digest(9, 5), height: 5))
        s.add(.replica(3), .locked(view: 9))
        s.add(.replica(3), .locked(view: 1))
        s.add(.replica(3), .blockCommitted(height: 2, digest: digest(9, 2), parent: digest(9, 1)))
        s.add(.replica(3), .blockCommitted(height: 3, digest: digest(9, 3), parent: digest(8, 8)))
        s.add(.replica(3), .blockCommitted(height: 4, digest: block(4), parent: digest(8, 8)))
        let checker = InvariantChecker(config: config4(byzantine: [3]))
        checker.observe(contentsOf: s.records)
        let report = checker.finish(at: s.time)
        #expect(report.violations.isEmpty, "\(report.violations)")
        let d = checker.diagnosis()[3]
        #expect(d.byzantine)
        #expect(d.lockedView == 9)
        #expect(d.lastCommittedHeight == 4)
    }

    @Test("diagnosis: a stuck HotStuff run names each replica's view, highQC, lock and committed height")
    func diagnosis() {
        // Proves the liveness diagnosis carries the HotStuff fields and prints them in the summary line.
        var s = StreamBuilder()
        for v in 1...8 { s.chainedView(UInt64(v), replicas: [0, 1, 2]) }
        s.chainedView(9, replicas: [0, 1])
        s.add(.replica(0), .viewChangeStarted(view: 10))
        s.issue(req(0, 1))
        s.advance(to: 3 * nanosPerSecond)
        let report = s.check(config4(bound: nanosPerSecond))
        #expect(report.safety == .holds)
        #expect(report.liveness == .violated)
        let d = report.diagnosis
        #expect(d.map(\.view) == [9, 9, 8, 0])
        #expect(d.map(\.highQCView) == [9, 9, 8, nil])
        #expect(d.map(\.lockedView) == [8, 8, 7, nil])
        #expect(d.map(\.lastCommittedHeight) == [7, 7, 6, nil])
        #expect(d[0].summary == "r0: view 9 (leader r1), changing to view 10; last executed none; last committed seq 7; "
            + "stable checkpoint none; 1 pending; highQC view 9; locked view 8; committed height 7")
        #expect(d[3].summary == "r3: view 0; last executed none; last committed none; stable checkpoint none; 1 pending")
    }

    @Test("bounded memory: 100k views keep per-view and per-height state within the retention windows")
    func boundedMemory() {
        // Proves certificates, committed blocks and votes are pruned over a long run, and checks still fire after pruning.
        let views: UInt64 = 100_000
        let config = CheckerConfig(n: 4, f: 1, livenessBound: nanosPerSecond, retainedSequences: 256, retainedViews: 128)
        let checker = InvariantChecker(config: config)
        var index: UInt64 = 0
        func feed(_ r: ReplicaID, _ o: Observation) {
            checker.observe(ObservationRecord(time: 0, eventIndex: index, source: .replica(r), observation: o))
            index += 1
        }
        var certificatesMax = 0
        var chainBlocksMax = 0
        var votesMax = 0
        for v in 1...views {
            for r in 0..<4 {
                feed(r, .voted(view: v, digest: block(v)))
                feed(r, .blockCertified(view: v, digest: block(v), height: v))
                feed(r, .locked(view: v - 1))
                if v >= 3 {
                    feed(r, .blockCommitted(height: v - 2, digest: block(v - 2), parent: block(v - 3)))
                    feed(r, .committed(sequence: v - 2, view: v - 2, digest: block(v - 2), requestCount: 0))
                }
            }
            certificatesMax = max(certificatesMax, checker.certificates.count)
            chainBlocksMax = max(chainBlocksMax, checker.chainBlocks.count)
            votesMax = max(votesMax, checker.replicas.map(\.votes.count).max()!)
        }
        #expect(checker.detectedViolations.isEmpty, "\(checker.detectedViolations)")
        #expect(certificatesMax <= 128 + 32 + 1)
        #expect(chainBlocksMax <= 256 + 64 + 1)
        #expect(votesMax <= 128 + 32 + 1)
        #expect(checker.commits.count <= 256 + 64 + 1)
        feed(1, .voted(view: views - 5, digest: block(views - 5)))
        feed(2, .blockCertified(view: views - 1, digest: digest(9, views - 1), height: views - 1))
        #expect(checker.detectedViolations.map(\.kind) == [.doubleVote, .conflictingCertificates])
    }
}
