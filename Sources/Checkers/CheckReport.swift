import BFTCore

/// What one replica's observations say about where it stands; printed when liveness is violated.
public struct ReplicaDiagnosis: Sendable, Equatable {
    public var replica: ReplicaID
    /// Declared Byzantine: these fields come from untrusted observations.
    public var byzantine: Bool
    /// Last view entered (0 before any `.viewEntered`).
    public var view: UInt64
    /// Leader of `view`, when the replica announced one.
    public var leader: ReplicaID?
    /// A view change to a higher view started after the last view entered.
    public var inViewChange: Bool
    /// The view the replica is changing to, when `inViewChange`.
    public var viewChangeTarget: UInt64?
    /// Highest sequence the replica executed a request in, or installed by state transfer.
    public var lastExecuted: UInt64?
    /// Highest sequence the replica committed.
    public var lastCommitted: UInt64?
    /// Last stable checkpoint.
    public var stableCheckpoint: UInt64?
    /// Last state transfer target.
    public var stateTransferred: UInt64?
    /// Requests issued by clients that this replica has not executed (counted over the requests the
    /// checker still retains: a replica lagging more than `retainedSequences` behind shows a lower bound).
    public var pendingRequests: Int
    /// The replica's own last `.pendingRequests` sample, if any.
    public var reportedPendingRequests: Int?
    /// HotStuff: view of the highest QC the replica reported (`.highQC`), if any.
    public var highQCView: UInt64? = nil
    /// HotStuff: view of the replica's locked QC (`.locked`), if any.
    public var lockedView: UInt64? = nil
    /// HotStuff: height of the last block the replica committed (`.blockCommitted`), if any.
    public var lastCommittedHeight: UInt64? = nil

    /// One line for the CLI, e.g. `r2: view 1 (leader r1), changing to view 2; last executed seq 14; ...`.
    /// HotStuff replicas add `; highQC view 7; locked view 6; committed height 12` for what they reported.
    public var summary: String {
        var s = "r\(replica): view \(view)"
        if let leader { s += " (leader r\(leader))" }
        if inViewChange, let t = viewChangeTarget { s += ", changing to view \(t)" }
        s += "; last executed " + (lastExecuted.map { "seq \($0)" } ?? "none")
        s += "; last committed " + (lastCommitted.map { "seq \($0)" } ?? "none")
        s += "; stable checkpoint " + (stableCheckpoint.map { "seq \($0)" } ?? "none")
        if let st = stateTransferred { s += "; state transfer to seq \(st)" }
        s += "; \(pendingRequests) pending"
        if let p = reportedPendingRequests { s += " (self-reported \(p))" }
        if let v = highQCView { s += "; highQC view \(v)" }
        if let v = lockedView { s += "; locked view \(v)" }
        if let h = lastCommittedHeight { s += "; committed height \(h)" }
        if byzantine { s += "; byzantine (untrusted)" }
        return s
    }
}

/// The result of checking one run.
public struct CheckReport: Sendable {
    /// In detection order: the first violation of each kind, plus others up to `violationsMax` in total.
    public var violations: [Violation]
    /// How many violations of each kind were detected (including those not kept). Every kind has a key.
    public var violationCounts: [ViolationKind: Int]
    public var safety: Verdict
    public var liveness: Verdict
    /// Copied from the config: whether liveness was promised for this run.
    public var livenessApplies: Bool
    /// One entry per replica, sorted by replica; present when liveness is violated, empty otherwise.
    public var diagnosis: [ReplicaDiagnosis]
    /// Distinct sequences committed by some correct replica.
    public var committedBatches: Int
    /// Distinct requests executed by some correct replica.
    public var executedRequests: Int
    /// Requests issued by clients.
    public var issuedRequests: Int
    /// Requests a client accepted a result for.
    public var completedRequests: Int
    /// Requests still outstanding at the end whose liveness deadline had passed.
    public var overdueRequests: Int
    /// Requests that completed after their liveness deadline.
    public var lateCompletions: Int
    /// Correct executions below the retention window that could not be compared with other replicas.
    public var uncheckedExecutions: Int
    /// Issue→complete latency of each completed request, in completion order (empty if not recorded);
    /// only the first `LatencyRecord.samplesMax` in long runs.
    public var latencies: [Nanoseconds]
    /// Every completed request's latency, summarised in bounded memory.
    public var latency: LatencyRecord
    /// Time the run was checked up to.
    public var endTime: Nanoseconds

    /// The kept violations of one kind.
    public func violations(of kind: ViolationKind) -> [Violation] { violations.filter { $0.kind == kind } }
}
