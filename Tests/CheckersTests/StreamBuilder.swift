import BFTCore
@testable import Checkers

/// Builds hand-made observation streams: one record per event, time advancing 1 ms per event.
struct StreamBuilder {
    var records: [ObservationRecord] = []
    var time: Nanoseconds = 0
    var nextIndex: UInt64 = 0
    var step: Nanoseconds = nanosPerMillisecond

    /// Appends a record and returns its event index.
    @discardableResult
    mutating func add(_ source: Principal, _ o: Observation) -> UInt64 {
        let i = nextIndex
        records.append(ObservationRecord(time: time, eventIndex: i, source: source, observation: o))
        nextIndex += 1
        time += step
        return i
    }

    mutating func advance(to t: Nanoseconds) { time = max(time, t) }

    mutating func issue(_ q: RequestID) { add(.client(q.client), .requestIssued(request: q, digest: requestDigest(q))) }
    mutating func complete(_ q: RequestID, result: Digest? = nil) {
        add(.client(q.client), .requestCompleted(request: q, result: result ?? resultDigest(q)))
    }
    @discardableResult
    mutating func commit(_ r: ReplicaID, seq: UInt64, view: UInt64 = 0, digest: Digest? = nil, count: Int = 1) -> UInt64 {
        add(.replica(r), .committed(sequence: seq, view: view, digest: digest ?? batchDigest(seq), requestCount: count))
    }
    @discardableResult
    mutating func execute(_ r: ReplicaID, seq: UInt64, index: Int = 0, _ q: RequestID,
                          requestDigest rd: Digest? = nil, result: Digest? = nil) -> UInt64 {
        add(.replica(r), .executed(sequence: seq, index: index, request: q,
                                   requestDigest: rd ?? requestDigest(q), result: result ?? resultDigest(q)))
    }

    /// The normal case for one request: issue, every listed replica commits and executes it at `seq`, the
    /// client completes it.
    mutating func normalCase(_ q: RequestID, seq: UInt64, replicas: [ReplicaID] = [0, 1, 2, 3]) {
        issue(q)
        for r in replicas { commit(r, seq: seq) }
        for r in replicas { execute(r, seq: seq, q) }
        complete(q)
    }

    func check(_ config: CheckerConfig, endTime: Nanoseconds? = nil) -> CheckReport {
        let checker = InvariantChecker(config: config)
        for record in records { checker.observe(record) }
        return checker.finish(at: endTime ?? time)
    }
}

func digest(_ tag: UInt64, _ x: UInt64) -> Digest { Digest(words: SIMD4(tag, x, 0, 0)) }
func requestDigest(_ q: RequestID) -> Digest { digest(1, UInt64(q.client) << 32 | q.timestamp) }
func resultDigest(_ q: RequestID) -> Digest { digest(2, UInt64(q.client) << 32 | q.timestamp) }
func batchDigest(_ seq: UInt64) -> Digest { digest(3, seq) }
func req(_ c: ClientID, _ t: UInt64) -> RequestID { RequestID(client: c, timestamp: t) }

/// n = 4, f = 1, liveness bound 1 s from time 0.
func config4(byzantine: Set<ReplicaID> = [], bound: Nanoseconds = nanosPerSecond,
             from: Nanoseconds? = nil, retained: UInt64 = 1 << 14, violationsMax: Int = 100) -> CheckerConfig {
    CheckerConfig(n: 4, f: 1, byzantine: byzantine, livenessBound: bound, livenessFrom: from,
                  retainedSequences: retained, violationsMax: violationsMax)
}
