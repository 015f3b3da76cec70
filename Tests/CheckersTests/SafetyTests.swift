import BFTCore
import Testing
@testable import Checkers

@Suite("safety checkers")
struct SafetyTests {
    @Test("clean run: 4 replicas, 2 clients, 10 requests pass every check")
    func cleanRun() {
        // Proves the checkers raise nothing on a well-formed run and count what happened.
        var s = StreamBuilder()
        for i in 0..<10 { s.normalCase(req(i % 2, UInt64(i / 2 + 1)), seq: UInt64(i + 1)) }
        let report = s.check(config4())
        #expect(report.violations.isEmpty, "\(report.violations)")
        #expect(report.safety == .holds)
        #expect(report.liveness == .holds)
        #expect(report.diagnosis.isEmpty)
        #expect(report.committedBatches == 10)
        #expect(report.executedRequests == 10)
        #expect(report.issuedRequests == 10)
        #expect(report.completedRequests == 10)
        #expect(report.latencies.count == 10)
        #expect(report.latencies.allSatisfy { $0 == 9 * nanosPerMillisecond })
        #expect(ViolationKind.allCases.allSatisfy { report.violationCounts[$0] == 0 })
    }

    @Test("agreement: two correct replicas commit different digests at one sequence")
    func conflictingCommits() {
        // Proves a fork at one sequence is reported at the second commit, naming both replicas and digests.
        var s = StreamBuilder()
        s.normalCase(req(0, 1), seq: 1)
        s.issue(req(0, 2))
        s.commit(0, seq: 2, digest: digest(9, 1))
        let bad = s.commit(1, seq: 2, view: 1, digest: digest(9, 2))
        let checker = InvariantChecker(config: config4())
        checker.observe(contentsOf: s.records.dropLast())
        #expect(!checker.safetyViolated)
        checker.observe(s.records.last!)
        #expect(checker.safetyViolated)
        #expect(checker.detectedViolations.count == 1)
        let report = checker.finish(at: s.time)
        #expect(report.safety == .violated)
        let v = report.violations.first
        #expect(v?.kind == .agreement)
        #expect(v?.eventIndex == bad)
        #expect(v?.source == .replica(1))
        #expect(v?.message.contains("r1 committed batch \(digest(9, 2)) at seq 2 (view 1)") == true, "\(v?.message ?? "")")
        #expect(v?.message.contains("r0 committed \(digest(9, 1))") == true)
    }

    @Test("agreement: one replica commits two digests at one sequence")
    func replicaCommitsTwice() {
        // Proves a single correct replica changing its decision is an agreement violation.
        var s = StreamBuilder()
        s.commit(2, seq: 1, digest: digest(9, 1))
        let bad = s.commit(2, seq: 1, view: 1, digest: digest(9, 2))
        let report = s.check(config4())
        #expect(report.violations.map(\.kind) == [.agreement])
        #expect(report.violations.first?.eventIndex == bad)
        #expect(report.violations.first?.message.contains("r2 committed two batches at seq 1") == true)
    }

    @Test("agreement: two correct replicas execute different requests at one position")
    func conflictingExecutions() {
        // Proves per-position execution agreement, independent of commit digests.
        var s = StreamBuilder()
        s.issue(req(0, 1))
        s.issue(req(1, 1))
        s.commit(0, seq: 1)
        s.commit(1, seq: 1)
        s.execute(0, seq: 1, req(0, 1))
        let bad = s.execute(1, seq: 1, req(1, 1))
        let report = s.check(config4(), endTime: 0)
        let v = report.violations(of: .agreement).first
        #expect(v?.eventIndex == bad)
        #expect(v?.message == "r1 executed c1/t1 at seq 1 #0 but r0 executed c0/t1 there")
    }

    @Test("agreement: diverging results at one position")
    func divergingResults() {
        // Proves the same request with a different result at one position means replica states diverged.
        var s = StreamBuilder()
        s.issue(req(0, 1))
        s.execute(0, seq: 1, req(0, 1))
        let bad = s.execute(1, seq: 1, req(0, 1), result: digest(7, 7))
        let report = s.check(config4(), endTime: 0)
        #expect(report.violations.first?.kind == .agreement)
        #expect(report.violations.first?.eventIndex == bad)
        #expect(report.violations.first?.message.contains("replica states diverged") == true)
    }

    @Test("validity: a correct replica executes a request no client issued")
    func neverIssued() {
        // Proves executions are matched against the clients' requestIssued records.
        var s = StreamBuilder()
        s.normalCase(req(0, 1), seq: 1)
        s.commit(0, seq: 2)
        let bad = s.execute(0, seq: 2, req(5, 9))
        let report = s.check(config4())
        #expect(report.violations.map(\.kind) == [.validity])
        #expect(report.violations.first?.eventIndex == bad)
        #expect(report.violations.first?.message.contains("r0 executed c5/t9") == true)
        #expect(report.violations.first?.message.contains("client c5 never issued it") == true)
    }

    @Test("validity: executed request bytes differ from what the client signed")
    func wrongRequestDigest() {
        // Proves a request id alone is not enough: the signed bytes' digest must match too.
        var s = StreamBuilder()
        s.issue(req(0, 1))
        s.commit(0, seq: 1)
        let bad = s.execute(0, seq: 1, req(0, 1), requestDigest: digest(8, 8))
        let report = s.check(config4(), endTime: 0)
        #expect(report.violations.map(\.kind) == [.validity])
        #expect(report.violations.first?.eventIndex == bad)
        #expect(report.violations.first?.message.contains("issued it with digest \(requestDigest(req(0, 1)))") == true)
    }

    @Test("integrity: a correct replica executes one request twice")
    func doubleExecution() {
        // Proves re-execution at a later position is caught even when the order itself looks fine.
        var s = StreamBuilder()
        s.normalCase(req(0, 1), seq: 1)
        s.commit(2, seq: 2)
        let bad = s.execute(2, seq: 2, req(0, 1))
        let report = s.check(config4())
        let v = report.violations(of: .integrity)
        #expect(v.count == 1)
        #expect(v.first?.eventIndex == bad)
        #expect(report.violations.first?.kind == .integrity)
    }

    @Test("integrity: the replica that first executed a request runs it again")
    func doubleExecutionSameReplica() {
        // Proves the message says "twice" when the same replica is the repeat offender.
        var s = StreamBuilder()
        s.issue(req(0, 1))
        s.commit(0, seq: 1)
        s.execute(0, seq: 1, req(0, 1))
        s.commit(0, seq: 2)
        let bad = s.execute(0, seq: 2, req(0, 1))
        let report = s.check(config4(), endTime: 0)
        #expect(report.violations.map(\.kind) == [.integrity])
        #expect(report.violations.first?.eventIndex == bad)
        #expect(report.violations.first?.message == "r0 executed c0/t1 twice: at seq 1 #0 and again at seq 2 #0")
    }

    @Test("total order: a replica skips a sequence it never committed")
    func gapInExecution() {
        // Proves executing seq 3 right after seq 1, with seq 2 neither committed nor transferred, is a gap.
        var s = StreamBuilder()
        s.normalCase(req(0, 1), seq: 1)
        s.issue(req(0, 2))
        s.issue(req(0, 3))
        for r in 0..<3 { s.commit(r, seq: 2) }
        for r in 0..<3 { s.execute(r, seq: 2, req(0, 2)) }
        s.commit(3, seq: 3)
        let bad = s.execute(3, seq: 3, req(0, 3))
        let report = s.check(config4(), endTime: 0)
        #expect(report.violations.map(\.kind) == [.totalOrder])
        #expect(report.violations.first?.eventIndex == bad)
        #expect(report.violations.first?.message
            == "r3 executed c0/t3 at seq 3 #0 but never executed, committed or state-transferred seq 2 (gap-free through seq 1)")
    }

    @Test("total order: executions go backwards within a replica")
    func executionsGoBackwards() {
        // Proves per-replica executions must be strictly increasing in (sequence, index).
        var s = StreamBuilder()
        s.issue(req(0, 1))
        s.issue(req(1, 1))
        s.commit(0, seq: 1, count: 2)
        s.execute(0, seq: 1, index: 1, req(1, 1))
        let bad = s.execute(0, seq: 1, index: 0, req(0, 1))
        let report = s.check(config4(), endTime: 0)
        #expect(report.violations.map(\.kind) == [.totalOrder])
        #expect(report.violations.first?.eventIndex == bad)
        #expect(report.violations.first?.message.contains("after seq 1 #1") == true)
    }

    @Test("total order: an index beyond the committed batch")
    func indexOutsideBatch() {
        // Proves an execution claiming an entry the committed batch does not have is reported.
        var s = StreamBuilder()
        s.issue(req(0, 1))
        s.commit(0, seq: 1, count: 1)
        let bad = s.execute(0, seq: 1, index: 1, req(0, 1))
        let report = s.check(config4(), endTime: 0)
        #expect(report.violations.map(\.kind) == [.totalOrder])
        #expect(report.violations.first?.eventIndex == bad)
        #expect(report.violations.first?.message.contains("which holds 1 requests") == true)
    }

    @Test("total order: a state transfer jump is not a gap")
    func stateTransferIsNotAGap() {
        // Proves a replica resuming above its transferred checkpoint passes, and going below it does not.
        var s = StreamBuilder()
        for i in 1...5 { s.normalCase(req(0, UInt64(i)), seq: UInt64(i), replicas: [0, 1, 2]) }
        s.add(.replica(3), .stateTransferred(sequence: 4, stateDigest: digest(4, 4)))
        var below = s
        s.execute(3, seq: 5, req(0, 5))
        #expect(s.check(config4()).violations.isEmpty)
        let bad = below.execute(3, seq: 3, req(0, 3))
        let report = below.check(config4())
        #expect(report.violations.map(\.kind) == [.totalOrder])
        #expect(report.violations.first?.eventIndex == bad)
        #expect(report.violations.first?.message
            == "r3 executed c0/t3 at seq 3 #0 after its state transfer to seq 4: executions must resume above the transferred sequence")
    }

    @Test("total order: null batches commit, execute nothing, and are not gaps")
    func nullBatches() {
        // Proves a sequence committed with zero requests lets the next sequence execute.
        var s = StreamBuilder()
        s.normalCase(req(0, 1), seq: 1)
        for r in 0..<4 { s.commit(r, seq: 2, digest: Digest.zero, count: 0) }
        s.normalCase(req(0, 2), seq: 3)
        // Commits may be observed out of order; execution stays in order.
        s.issue(req(0, 3))
        s.commit(0, seq: 5, count: 1)
        s.commit(0, seq: 4, digest: Digest.zero, count: 0)
        s.execute(0, seq: 5, req(0, 3))
        let report = s.check(config4(), endTime: s.time)
        #expect(report.violations.isEmpty, "\(report.violations)")
        #expect(report.committedBatches == 5)
    }

    @Test("client result: the client accepts a result no correct replica produced")
    func wrongClientResult() {
        // Proves a completion is checked against the first correct execution, in either arrival order.
        var s = StreamBuilder()
        s.issue(req(0, 1))
        s.commit(0, seq: 1)
        s.execute(0, seq: 1, req(0, 1))
        let bad = s.add(.client(0), .requestCompleted(request: req(0, 1), result: digest(6, 6)))
        let report = s.check(config4())
        #expect(report.violations.map(\.kind) == [.clientResult])
        #expect(report.violations.first?.eventIndex == bad)
        #expect(report.violations.first?.message
            == "c0 accepted result \(digest(6, 6)) for c0/t1 but correct replica r0 produced \(resultDigest(req(0, 1))) executing it at seq 1 #0")

        var t = StreamBuilder()
        t.issue(req(0, 1))
        t.add(.client(0), .requestCompleted(request: req(0, 1), result: digest(6, 6)))
        t.commit(1, seq: 1)
        let late = t.execute(1, seq: 1, req(0, 1))
        let second = t.check(config4())
        #expect(second.violations.map(\.kind) == [.clientResult])
        #expect(second.violations.first?.eventIndex == late)
    }

    @Test("client result: a request the client saw acknowledged that no correct replica executed is reported at the end")
    func acknowledgedNeverExecuted() {
        // Proves issue 13's lost-acknowledgement check: the completion alone (executed only by a
        // declared-Byzantine replica, or by nobody) is a client-result violation when the run ends.
        var s = StreamBuilder()
        s.normalCase(req(0, 1), seq: 1)
        s.issue(req(1, 1))
        s.commit(3, seq: 2)
        s.execute(3, seq: 2, req(1, 1))
        s.add(.client(1), .requestCompleted(request: req(1, 1), result: resultDigest(req(1, 1))))
        s.issue(req(1, 2))
        s.add(.client(1), .requestCompleted(request: req(1, 2), result: digest(3, 3)))
        let checker = InvariantChecker(config: CheckerConfig(n: 4, f: 1, byzantine: [3], livenessBound: 10 * nanosPerSecond))
        checker.observe(contentsOf: s.records)
        #expect(!checker.safetyViolated, "detected at the end of the run, not online")
        let report = checker.finish(at: s.time)
        #expect(report.safety == .violated)
        #expect(report.violations.map(\.kind) == [.clientResult])
        #expect(report.violationCounts[.clientResult] == 2)
        #expect(report.violations.first?.message.hasPrefix("c1 accepted result \(resultDigest(req(1, 1))) for c1/t1 at ") == true)
        #expect(report.violations.first?.message.hasSuffix("but no correct replica executed it by the end of the run (2 acknowledged requests in all)") == true)
    }

    @Test("byzantine replicas' lies are ignored by safety checks")
    func byzantineIgnored() {
        // Proves observations from declared-Byzantine replicas cannot raise safety violations.
        var s = StreamBuilder()
        s.normalCase(req(0, 1), seq: 1)
        s.commit(3, seq: 1, digest: digest(9, 9))
        s.commit(3, seq: 2, digest: digest(9, 10))
        s.execute(3, seq: 7, req(4, 4))
        s.execute(3, seq: 1, req(0, 1), result: digest(5, 5))
        s.add(.replica(3), .stateTransferred(sequence: 100, stateDigest: .zero))
        s.add(.replica(9), .committed(sequence: 1, view: 0, digest: digest(9, 9), requestCount: 1))
        #expect(s.check(config4(byzantine: [3])).safety == .holds)
        #expect(s.check(config4()).safety == .violated)
    }

    @Test("at most violationsMax violations are kept, but the first of each kind always")
    func boundedViolations() {
        // Proves a storm of violations does not grow the report, and counts stay exact.
        var s = StreamBuilder()
        for i in 1...50 { s.execute(0, seq: UInt64(i), req(0, UInt64(i))) }
        s.issue(req(1, 1))
        s.execute(1, seq: 1, req(1, 1))
        let report = s.check(config4(violationsMax: 10), endTime: 0)
        #expect(report.violations.count == 11)
        #expect(report.violationCounts[.validity] == 50)
        #expect(report.violations.filter { $0.kind == .agreement }.count == 1)
    }

    @Test("checking the same stream twice gives the same report")
    func deterministic() {
        // Proves no hash-order dependence in what is reported.
        var s = StreamBuilder()
        for i in 1...30 { s.normalCase(req(i % 3, UInt64(i)), seq: UInt64(i)) }
        s.execute(1, seq: 31, req(7, 7))
        s.commit(2, seq: 3, digest: digest(9, 9))
        let a = s.check(config4(retained: 4))
        let b = s.check(config4(retained: 4))
        #expect(a.violations == b.violations)
        #expect(a.violationCounts == b.violationCounts)
        #expect(a.latencies == b.latencies)
    }
}

@Suite("latency record (issue 19)")
struct LatencyRecordTests {
    @Test("past samplesMax only the histogram grows; counts, sum and percentiles still cover every latency")
    func boundedLatencies() {
        var l = LatencyRecord()
        for i in 0..<(LatencyRecord.samplesMax + 1_000) { l.record(Nanoseconds(i % 1_000 + 1) * 1_000_000) }
        #expect(l.count == LatencyRecord.samplesMax + 1_000)
        #expect(l.samples.count == LatencyRecord.samplesMax)
        #expect(!l.isComplete)
        let p50 = l.histogramPercentile(50)
        #expect(abs(p50 - 500 * 1_000_000) <= 5 * 1_000_000)  // 66 full cycles of 1…1000 ms and a partial one
        #expect(abs(l.max - 1_000 * 1_000_000) <= 1_000_000)
        var small = LatencyRecord()
        for v in [3, 1, 2] { small.record(Nanoseconds(v) * 1_000_000) }
        #expect(small.isComplete && small.samples == [3_000_000, 1_000_000, 2_000_000])
        #expect(small.histogramPercentile(100) >= 2_999_000)
    }
}
