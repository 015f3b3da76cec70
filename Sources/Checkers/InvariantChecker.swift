import BFTCore

/// Checks safety and liveness of a run online, from its observation records alone.
///
/// Feed every `ObservationRecord` in event order to `observe(_:)`; a violation is recorded at the first
/// record that breaks a property, with that record's time and event index. `finish(at:)` adds the
/// end-of-run liveness judgement and returns the report. Observations from replicas in
/// `config.byzantine` (or with ids outside `0..<n`) are ignored by safety checks.
///
/// ## What is checked (exactly)
/// - **agreement**: for every sequence s, all `.committed(s, _, digest, count)` of correct replicas carry
///   the same digest and count (this includes one replica committing twice at s); for every position
///   (s, i), all `.executed(s, i, ...)` of correct replicas carry the same request, request digest and
///   result.
/// - **validity**: a correct replica executes ⟨c,t⟩ with request digest d only if client c emitted
///   `.requestIssued(⟨c,t⟩, d)` earlier in the stream (a request is sent before it can execute).
/// - **integrity**: each request occupies at most one position (s, i) among correct executions. A
///   replica executing a request twice breaks it; so do two replicas executing one request at two
///   positions (with per-position agreement, a replica executing both positions would run it twice).
/// - **total order**, per correct replica: (1) executions are strictly increasing in (sequence, index),
///   and after `.stateTransferred(s)` resume above s; (2) no gaps: executing at sequence s requires every
///   sequence below s to be *passed* — executed in, committed (null batches commit and execute nothing),
///   or covered by a state transfer; (3) `index < requestCount` of the batch committed at s. Indices need
///   not be contiguous (a replica may skip a duplicate in a batch). Together with per-position agreement
///   this makes every correct replica's log a gap-free walk of one global order: logs restricted to the
///   sequences both replicas executed are identical.
/// - **client result**: the result a client accepted for a request equals the result of the first
///   correct execution of it, whichever of the two records comes first; and at `finish(at:)`, every
///   request a client accepted was executed by some correct replica (an acknowledged request no correct
///   replica executed was lost, or its execution is missing from the logs: issue 13).
/// - **HotStuff** (Specs/HotStuff.md), from `.voted`, `.blockCertified`, `.blockCommitted` and `.locked`
///   of correct replicas: **conflicting-certificates** — at most one block digest is certified per view,
///   across replicas; **chain** — at each height one committed digest with one parent, each block's
///   parent is the digest committed at the height below (by the same replica when that was its previous
///   commit, and by any correct replica), so committed blocks form one hash chain; **lock-regression** —
///   a replica's locked view never decreases; **double-vote** — a replica emits at most one `.voted` per
///   view (a repeat with the same digest counts too: H-V1 allows one vote per view).
/// - **liveness**: every issued request completes by `max(issue, livenessFrom) + livenessBound`. Detected
///   online at the first record later than the earliest missed deadline (or at a late completion), and at
///   `finish(at:)` for requests still outstanding whose deadline passed before the end. Judged the same way
///   when `livenessApplies` is false.
///
/// ## Bounded memory
/// Per-sequence state (commit digests, per-position executions) is kept for the last
/// `config.retainedSequences` sequences behind the highest sequence a correct replica committed or
/// executed, pruned in sweeps every `retainedSequences / 4` sequences (amortised O(1) per sequence).
/// Correct executions below that window are checked per replica and for validity, but not compared
/// across replicas; they are counted in `CheckReport.uncheckedExecutions`. A request record is kept
/// while it is outstanding, or until it is completed and its position has left the window; then it is
/// retired to a per-client interval set of timestamps (a few words per client when clients issue
/// increasing timestamps). Per-replica state is O(n). Latencies cost 8 bytes per completed request
/// unless `recordsLatencies` is false. HotStuff certificates and each correct replica's votes are kept
/// for the last `config.retainedViews` views (behind the highest certified view, or that replica's highest
/// vote) and committed blocks for the last `retainedSequences` heights, pruned in the same kind of sweeps;
/// older ones are not compared. Locked view, highQC view and last committed block are O(1) per replica.
public final class InvariantChecker {
    public let config: CheckerConfig

    // Per replica, indexed by replica id.
    var replicas: [ReplicaTrack]
    // Trusted replicas, indexed by replica id: in `0..<n` and not declared Byzantine.
    let correct: [Bool]

    // Per-sequence and per-position state within the retention window.
    var commits: SequenceRing<CommitEntry>
    var positions: PositionTable
    var highestSequence: UInt64 = 0
    /// Sequences below this have been pruned.
    var windowFloor: UInt64 = 0

    // Requests.
    var requests = RequestTable()
    var retired: [ClientID: IntervalSet] = [:]
    /// Issued requests in issue order (deadlines are monotone in issue time); `outstandingHead` is the
    /// oldest entry not yet known to be completed.
    var issueOrder: [RequestID] = []
    var outstandingHead = 0
    /// Deadline of `issueOrder[outstandingHead]`, or `.max`: one comparison per record on the fast path.
    var nextDeadline: Nanoseconds = .max

    // HotStuff per-view and per-height state (InvariantChecker+HotStuff.swift).
    /// First correct certificate of each view in `certifiedViews.floor...`.
    var certificates: [UInt64: CertifiedBlock] = [:]
    var certifiedViews = RetentionWindow()
    /// First correct `.blockCommitted` at each height in `chainHeights.floor...`.
    var chainBlocks: [UInt64: ChainBlock] = [:]
    var chainHeights = RetentionWindow()

    // Report state.
    var violations: [Violation] = []
    var violationCounts: [Int] = Array(repeating: 0, count: ViolationKind.allCases.count)
    var livenessViolationIndex: Int?
    var committedBatches = 0
    var executedRequests = 0
    var issuedRequests = 0
    var completedRequests = 0
    var lateCompletions = 0
    var uncheckedExecutions = 0
    var latencies = LatencyRecord()
    var lastTime: Nanoseconds = 0
    var lastEventIndex: UInt64 = 0

    public init(config: CheckerConfig) {
        self.config = config
        replicas = Array(repeating: ReplicaTrack(), count: config.n)
        // Per-sequence state spans [windowFloor, highestSequence], less than 5/4 of the window (`noteSequence`).
        let spanMax = config.retainedSequences + config.retainedSequences / 4 + 1
        commits = SequenceRing(spanMax: spanMax)
        positions = PositionTable(spanMax: spanMax)
        correct = (0..<config.n).map { !config.byzantine.contains($0) }
    }

    /// Checks one record. Records must arrive in event order.
    public func observe(_ record: ObservationRecord) {
        lastTime = record.time
        lastEventIndex = record.eventIndex
        if record.time > nextDeadline { checkDeadlines(at: record) }
        switch record.source {
        case .replica(let r):
            guard r >= 0, r < config.n else { return }
            observeReplica(r, record)
        case .client(let c):
            observeClient(c, record)
        }
    }

    /// Checks records in order.
    public func observe<S: Sequence>(contentsOf records: S) where S.Element == ObservationRecord {
        for record in records { observe(record) }
    }

    /// Whether any safety violation has been detected so far (a shell may stop the run early on it).
    public var safetyViolated: Bool {
        zip(ViolationKind.allCases, violationCounts).contains { $0.0.isSafety && $0.1 > 0 }
    }

    /// Violations detected so far (online ones only; `finish(at:)` may add a liveness violation).
    public var detectedViolations: [Violation] { violations }

    private func observeReplica(_ r: ReplicaID, _ record: ObservationRecord) {
        switch record.observation {
        case .viewEntered(let view, let leader):
            replicas[r].onViewEntered(view: view, leader: leader)
        case .viewChangeStarted(let view):
            replicas[r].onViewChangeStarted(view: view)
        case .checkpointStable(let sequence, _):
            replicas[r].stableCheckpoint = max(replicas[r].stableCheckpoint ?? 0, sequence)
        case .pendingRequests(let count):
            replicas[r].reportedPending = count
        case .rejected, .requestIssued, .requestCompleted:
            break
        case .committed(let sequence, let view, let digest, let count):
            onCommitted(r, sequence: sequence, view: view, digest: digest, count: count, record)
        case .executed(let sequence, let index, let request, let requestDigest, let result):
            let p = Position(sequence: sequence, index: index)
            onExecuted(r, at: p, request: request, requestDigest: requestDigest, result: result, record)
        case .stateTransferred(let sequence, _):
            onStateTransferred(r, sequence: sequence)
        case .voted, .blockCertified, .blockCommitted, .locked, .highQC, .timeoutCertified:
            observeChainedBFT(r, record)
        case .restarted:
            // Volatile state is gone: executions restart from the durable or transferred state.
            replicas[r].lastPosition = nil
        }
    }

    private func observeClient(_ c: ClientID, _ record: ObservationRecord) {
        switch record.observation {
        case .requestIssued(let request, let digest):
            guard request.client == c else { return }
            onRequestIssued(request, digest: digest, record)
        case .requestCompleted(let request, let result):
            guard request.client == c else { return }
            onRequestCompleted(request, result: result, record)
        default:
            break
        }
    }

    /// Records a violation: always counted; kept if it is the first of its kind or there is room.
    @discardableResult
    func report(_ kind: ViolationKind, _ record: ObservationRecord?, _ message: String) -> Int? {
        let k = ViolationKind.allCases.firstIndex(of: kind)!
        violationCounts[k] += 1
        guard violationCounts[k] == 1 || violations.count < config.violationsMax else { return nil }
        violations.append(Violation(
            kind: kind,
            time: record?.time ?? lastTime,
            eventIndex: record?.eventIndex ?? lastEventIndex,
            source: record?.source,
            message: message))
        return violations.count - 1
    }

    /// Requests a client accepted that no correct replica executed, in request order. (Such records are
    /// never retired: retirement needs an execution position.)
    func acknowledgedNotExecuted() -> [(id: RequestID, record: RequestRecord)] {
        requests.entries.filter { $0.record.accepted != nil && $0.record.position == nil }.sorted { $0.id < $1.id }
    }

    /// Ends the run at `endTime`: judges outstanding requests for liveness and builds the report.
    /// Does not change the checker; calling it twice gives the same report.
    public func finish(at endTime: Nanoseconds) -> CheckReport {
        var kept = violations
        var counts = violationCounts
        let overdue = overdueRequests(at: endTime)
        let livenessIndex = ViolationKind.allCases.firstIndex(of: .liveness)!
        let tail = overdueTail(overdue: overdue.count, endTime: endTime)
        let lost = acknowledgedNotExecuted()
        if let first = lost.first {
            let k = ViolationKind.allCases.firstIndex(of: .clientResult)!
            counts[k] += lost.count
            let others = lost.count > 1 ? " (\(lost.count) acknowledged requests in all)" : ""
            kept.append(Violation(
                kind: .clientResult, time: endTime, eventIndex: lastEventIndex, source: .client(first.id.client),
                message: "c\(first.id.client) accepted result \(first.record.accepted!) for \(first.id) at "
                    + "\(formatTime(first.record.completeTime ?? endTime)) but no correct replica executed it by the end of "
                    + "the run\(others)"))
        }
        if let i = livenessViolationIndex {
            kept[i].message += tail
        } else if let first = overdue.first {
            // No record arrived after the deadline: detected at the end of the run.
            counts[livenessIndex] += 1
            kept.append(Violation(
                kind: .liveness, time: endTime, eventIndex: lastEventIndex, source: nil,
                message: livenessMessage(first.id, first.record, detectedAt: endTime) + tail))
        }
        var byKind: [ViolationKind: Int] = [:]
        for (i, kind) in ViolationKind.allCases.enumerated() { byKind[kind] = counts[i] }
        let safetyHolds = ViolationKind.allCases.enumerated().allSatisfy { !$0.element.isSafety || counts[$0.offset] == 0 }
        let livenessHolds = counts[livenessIndex] == 0
        return CheckReport(
            violations: kept,
            violationCounts: byKind,
            safety: safetyHolds ? .holds : .violated,
            liveness: livenessHolds ? .holds : .violated,
            livenessApplies: config.livenessApplies,
            diagnosis: livenessHolds ? [] : diagnosis(),
            committedBatches: committedBatches,
            executedRequests: executedRequests,
            issuedRequests: issuedRequests,
            completedRequests: completedRequests,
            overdueRequests: overdue.count,
            lateCompletions: lateCompletions,
            uncheckedExecutions: uncheckedExecutions,
            latencies: latencies.samples,
            latency: latencies,
            endTime: endTime)
    }
}

// MARK: - State

/// A position in the total order: entry `index` of the batch at `sequence`.
struct Position: Hashable, Comparable, CustomStringConvertible {
    var sequence: UInt64
    var index: Int
    static func < (a: Position, b: Position) -> Bool { (a.sequence, a.index) < (b.sequence, b.index) }
    var description: String { "seq \(sequence) #\(index)" }
}

/// The first correct commit at a sequence.
struct CommitEntry {
    var digest: Digest
    var requestCount: Int
    var view: UInt64
    var replica: ReplicaID
}

/// The first correct execution at a position.
struct ExecutionEntry {
    var request: RequestID
    var requestDigest: Digest
    var result: Digest
    var replica: ReplicaID
}

/// What the checker knows about one issued request.
///
/// The optional digests are stored unwrapped with a flag each: an optional 32-byte-aligned `Digest`
/// takes 64 bytes, and a run keeps a record per request of the retention window.
struct RequestRecord {
    var digest: Digest
    private var resultStorage = Digest.zero
    private var acceptedStorage = Digest.zero
    var issueTime: Nanoseconds
    private var completeTimeStorage: Nanoseconds = 0
    /// Position of the first correct execution.
    var position: Position?
    private var executorStorage: Int32 = -1
    private var hasResult = false
    private var hasAccepted = false
    private var hasCompleteTime = false

    init(digest: Digest, issueTime: Nanoseconds) {
        self.digest = digest
        self.issueTime = issueTime
    }

    /// Replica of the first correct execution (-1: none yet).
    var executor: ReplicaID {
        get { Int(executorStorage) }
        set { executorStorage = Int32(clamping: newValue) }
    }
    /// Result of the first correct execution.
    var result: Digest? {
        get { hasResult ? resultStorage : nil }
        set {
            hasResult = newValue != nil
            resultStorage = newValue ?? .zero
        }
    }
    /// Result the client accepted.
    var accepted: Digest? {
        get { hasAccepted ? acceptedStorage : nil }
        set {
            hasAccepted = newValue != nil
            acceptedStorage = newValue ?? .zero
        }
    }
    var completeTime: Nanoseconds? {
        get { hasCompleteTime ? completeTimeStorage : nil }
        set {
            hasCompleteTime = newValue != nil
            completeTimeStorage = newValue ?? 0
        }
    }
}

/// What one replica's observations have told so far.
struct ReplicaTrack {
    var view: UInt64 = 0
    var leader: ReplicaID?
    var viewChangeTarget: UInt64?
    /// Last execution position; after a state transfer to s, at least (s, Int.max).
    var lastPosition: Position?
    var lastExecutedSequence: UInt64?
    var lastCommitted: UInt64?
    /// Every sequence in 1...passed was executed in, committed, or covered by a state transfer.
    var passed: UInt64 = 0
    /// Committed sequences above `passed + 1` (bounded by the protocol's watermark window).
    var committedAhead: Set<UInt64> = []
    var stableCheckpoint: UInt64?
    var stateTransferred: UInt64?
    var reportedPending: Int?
    /// HotStuff: highest `.highQC` and `.locked` views, and the last `.blockCommitted` block.
    var highQCView: UInt64?
    var lockedView: UInt64?
    var lastBlock: ChainBlock?
    var lastCommittedHeight: UInt64?
    /// HotStuff: this replica's votes in views `votedViews.floor...` (correct replicas only).
    var votes: [UInt64: Digest] = [:]
    var votedViews = RetentionWindow()

    mutating func onViewEntered(view v: UInt64, leader l: ReplicaID) {
        if v >= view {
            view = v
            leader = l
        }
        if let t = viewChangeTarget, v >= t { viewChangeTarget = nil }
    }

    mutating func onViewChangeStarted(view v: UInt64) {
        guard v > view else { return }
        viewChangeTarget = max(viewChangeTarget ?? 0, v)
    }

    /// Marks `sequence` as passed and advances `passed` over committed sequences that follow.
    mutating func pass(_ sequence: UInt64) {
        if sequence == passed &+ 1 {
            passed = sequence
            drain()
        } else if sequence > passed &+ 1 {
            committedAhead.insert(sequence)
        }
    }

    mutating func drain() {
        while !committedAhead.isEmpty, committedAhead.remove(passed &+ 1) != nil {
            passed &+= 1
        }
    }
}
