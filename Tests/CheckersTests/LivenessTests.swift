import BFTCore
import Testing
@testable import Checkers

@Suite("liveness checker and diagnosis")
struct LivenessTests {
    /// Replicas 0-2 run seqs 1-3 in view 0; replica 3 stays behind at seq 1; then the primary r0 goes
    /// quiet and r1, r2 start a view change that never finishes, so c1/t1 never completes.
    func stuckRun() -> (StreamBuilder, issuedAt: Nanoseconds) {
        var s = StreamBuilder()
        for r in 0..<4 { s.add(.replica(r), .viewEntered(view: 0, leader: 0)) }
        s.normalCase(req(0, 1), seq: 1)
        s.normalCase(req(0, 2), seq: 2, replicas: [0, 1, 2])
        s.normalCase(req(0, 3), seq: 3, replicas: [0, 1, 2])
        for r in 0..<3 { s.add(.replica(r), .checkpointStable(sequence: 2, stateDigest: digest(4, 2))) }
        let issuedAt = s.time
        s.issue(req(1, 1))
        s.add(.replica(1), .viewChangeStarted(view: 1))
        s.add(.replica(2), .viewChangeStarted(view: 1))
        s.add(.replica(2), .pendingRequests(count: 1))
        return (s, issuedAt)
    }

    @Test("liveness: an outstanding request is reported at the first record after its deadline, with diagnosis")
    func timeoutOnline() {
        // Proves online detection (time and event index of the first later record) and the per-replica diagnosis.
        var (s, issuedAt) = stuckRun()
        s.advance(to: issuedAt + nanosPerSecond)
        s.add(.replica(1), .viewChangeStarted(view: 1))  // exactly at the deadline: not yet late
        let late = s.add(.replica(2), .viewChangeStarted(view: 2))
        s.advance(to: 5 * nanosPerSecond)
        s.add(.replica(1), .viewChangeStarted(view: 2))
        let report = s.check(config4(bound: nanosPerSecond), endTime: 10 * nanosPerSecond)
        #expect(report.safety == .holds)
        #expect(report.liveness == .violated)
        let v = report.violations.first
        #expect(v?.kind == .liveness)
        #expect(v?.eventIndex == late)
        #expect(v?.message.contains("c1/t1 issued at") == true, "\(v?.message ?? "")")
        #expect(v?.message.contains("never executed by a correct replica") == true)
        #expect(v?.message.contains("1 request was overdue") == true)
        #expect(report.overdueRequests == 1)

        let d = report.diagnosis
        #expect(d.map(\.replica) == [0, 1, 2, 3])
        #expect(d.map(\.view) == [0, 0, 0, 0])
        #expect(d.map(\.inViewChange) == [false, true, true, false])
        #expect(d.map(\.viewChangeTarget) == [nil, 2, 2, nil])
        #expect(d.map(\.lastExecuted) == [3, 3, 3, 1])
        #expect(d.map(\.stableCheckpoint) == [2, 2, 2, nil])
        #expect(d.map(\.pendingRequests) == [1, 1, 1, 3])
        #expect(d[2].reportedPendingRequests == 1)
        #expect(d[1].summary == "r1: view 0 (leader r0), changing to view 2; last executed seq 3; last committed seq 3; "
            + "stable checkpoint seq 2; 1 pending")
        #expect(d[3].summary.contains("last executed seq 1"))
    }

    @Test("liveness: with no record after the deadline, finish reports it")
    func timeoutAtFinish() {
        // Proves end-of-run detection when the run goes silent, and that a run ending before the deadline is fine.
        let (s, issuedAt) = stuckRun()
        let early = s.check(config4(bound: nanosPerSecond), endTime: issuedAt + nanosPerSecond)
        #expect(early.liveness == .holds)
        #expect(early.diagnosis.isEmpty)
        let report = s.check(config4(bound: nanosPerSecond), endTime: issuedAt + 2 * nanosPerSecond)
        #expect(report.liveness == .violated)
        #expect(report.violations.map(\.kind) == [.liveness])
        #expect(report.violations.first?.source == nil)
        #expect(report.violations.first?.time == issuedAt + 2 * nanosPerSecond)
        #expect(report.diagnosis.count == 4)
    }

    @Test("liveness: a request completing after its deadline is a violation")
    func lateCompletion() {
        // Proves completing late still breaks the bound.
        var s = StreamBuilder()
        s.issue(req(0, 1))
        s.advance(to: 2 * nanosPerSecond)
        s.commit(0, seq: 1)
        s.execute(0, seq: 1, req(0, 1))
        s.complete(req(0, 1))
        let report = s.check(config4(bound: nanosPerSecond))
        #expect(report.liveness == .violated)
        #expect(report.violations.first?.eventIndex == 1)
        #expect(report.lateCompletions == 1)
        #expect(report.violations.first?.message.contains("0 requests were overdue and 1 completed late") == true)
    }

    @Test("liveness: requests issued before GST are measured from livenessFrom")
    func measuredFromLivenessFrom() {
        // Proves a request issued at 1 s, completed at 12 s, meets a 5 s bound measured from livenessFrom = 10 s.
        var s = StreamBuilder()
        s.advance(to: nanosPerSecond)
        s.issue(req(0, 1))
        s.advance(to: 12 * nanosPerSecond)
        s.normalCase(req(0, 2), seq: 1)
        s.commit(0, seq: 2)
        s.execute(0, seq: 2, req(0, 1))
        s.complete(req(0, 1))
        let fromGST = CheckerConfig(n: 4, f: 1, gst: 10 * nanosPerSecond, livenessBound: 5 * nanosPerSecond)
        #expect(fromGST.livenessFrom == 10 * nanosPerSecond)
        let report = s.check(fromGST)
        #expect(report.violations.isEmpty, "\(report.violations)")
        #expect(report.latencies.last == 11 * nanosPerSecond + 12 * nanosPerMillisecond)

        let fromZero = s.check(CheckerConfig(n: 4, f: 1, livenessBound: 5 * nanosPerSecond))
        #expect(fromZero.liveness == .violated)

        let stillLate = s.check(CheckerConfig(n: 4, f: 1, livenessBound: nanosPerSecond, livenessFrom: 10 * nanosPerSecond))
        #expect(stillLate.liveness == .violated)
        #expect(stillLate.violations.first?.message.contains("measured from livenessFrom 10.000s") == true)
    }

    @Test("liveness: still judged when not promised (more than f faulty)")
    func notPromised() {
        // Proves livenessApplies only travels to the report; the verdict is computed the same way.
        let (s, issuedAt) = stuckRun()
        var config = config4(bound: nanosPerSecond)
        config.livenessApplies = false
        let report = s.check(config, endTime: issuedAt + 3 * nanosPerSecond)
        #expect(report.livenessApplies == false)
        #expect(report.liveness == .violated)
    }
}

@Suite("bounded memory")
struct MemoryTests {
    @Test("long run: per-sequence maps and request records stay within the retention window")
    func windowPrunes() {
        // Proves state does not grow with the run: 2 000 sequences, window of 16.
        let checker = InvariantChecker(config: config4(retained: 16))
        var s = StreamBuilder()
        var maxCommits = 0
        var maxPositions = 0
        var maxRequests = 0
        for i in 1...2_000 {
            s.records.removeAll(keepingCapacity: true)
            s.normalCase(req(i % 3, UInt64(i / 3 + 1)), seq: UInt64(i))
            for record in s.records { checker.observe(record) }
            maxCommits = max(maxCommits, checker.commits.count)
            maxPositions = max(maxPositions, checker.positions.count)
            maxRequests = max(maxRequests, checker.requests.count)
        }
        #expect(maxCommits <= 21)
        #expect(maxPositions <= 21)
        #expect(maxRequests <= 21)
        #expect(checker.issueOrder.count <= 1_100)
        #expect((0..<3).allSatisfy { checker.retired[$0]?.ranges.count ?? 0 <= 1 })
        let report = checker.finish(at: s.time)
        #expect(report.violations.isEmpty)
        #expect(report.committedBatches == 2_000)
        #expect(report.executedRequests == 2_000)
    }

    @Test("long run: re-executing a retired request in the window is still an integrity violation")
    func retiredRequestReexecuted() {
        // Proves pruning keeps integrity and validity exact for requests that left the window.
        var s = StreamBuilder()
        for i in 1...100 { s.normalCase(req(0, UInt64(i)), seq: UInt64(i), replicas: [0, 1, 2]) }
        s.execute(3, seq: 1, req(0, 1))  // lagging far behind: not comparable, not a violation
        s.commit(0, seq: 101)
        let bad = s.execute(0, seq: 101, req(0, 3))
        let report = s.check(config4(retained: 8))
        #expect(report.violations.map(\.kind) == [.integrity])
        #expect(report.violations.first?.eventIndex == bad)
        #expect(report.uncheckedExecutions == 1)
    }

    @Test("interval set of retired timestamps merges neighbours")
    func intervalSet() {
        // Proves the retired-timestamp set is exact and compact whatever the insertion order.
        var set = IntervalSet()
        for x: UInt64 in [5, 1, 3, 2, 9, 4, 10, 8] { set.insert(x) }
        #expect(set.ranges == [1...5, 8...10])
        #expect(set.contains(4) && set.contains(8) && !set.contains(6) && !set.contains(0) && !set.contains(11))
        set.insert(7)
        set.insert(6)
        #expect(set.ranges == [1...10])
    }
}
