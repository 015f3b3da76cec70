import BFTCore

/// What the checkers need to know about a run besides its observations.
///
/// Everything here is declared by the scenario (or, for a live run, by the operator), never read from
/// simulator internals, so the same configuration audits a simulated run and a live log.
public struct CheckerConfig: Sendable, Equatable {
    /// Number of replicas; replica ids are `0..<n`.
    public var n: Int
    /// Fault budget of the protocol.
    public var f: Int
    /// Replicas whose observations are untrusted: ignored by every safety check.
    public var byzantine: Set<ReplicaID>
    /// Global stabilisation time.
    public var gst: Nanoseconds
    /// Every request must complete within this long after `max(issue time, livenessFrom)`.
    public var livenessBound: Nanoseconds
    /// `max(GST, last timeline heal/fault time)`; requests issued earlier are measured from here.
    public var livenessFrom: Nanoseconds
    /// False when more than f replicas are faulty: liveness is not promised, but it is still judged
    /// and reported the same way (the scenario's expectation decides whether the verdict is expected).
    public var livenessApplies: Bool
    /// Per-sequence agreement state is kept for this many sequences behind the highest committed one
    /// (see `InvariantChecker` on bounded memory). 4,096 sequences (65,536 requests at batch 16) is
    /// far beyond any lag the protocols allow before state transfer (PBFT's watermark window is 128),
    /// and keeps a long run's checker memory flat after its first 100,000 requests (issue 19).
    public var retainedSequences: UInt64
    /// HotStuff per-view state (certified blocks, and each replica's votes) is kept for this many views
    /// behind the highest view seen (see `InvariantChecker` on bounded memory).
    public var retainedViews: UInt64
    /// At most this many violations are kept in a report (the first of each kind is always kept).
    public var violationsMax: Int
    /// Whether to keep the issue→complete latency of every completed request (8 bytes each).
    public var recordsLatencies: Bool

    public init(
        n: Int,
        f: Int,
        byzantine: Set<ReplicaID> = [],
        gst: Nanoseconds = 0,
        livenessBound: Nanoseconds,
        livenessFrom: Nanoseconds? = nil,
        livenessApplies: Bool = true,
        retainedSequences: UInt64 = 1 << 12,
        retainedViews: UInt64 = 1 << 12,
        violationsMax: Int = 100,
        recordsLatencies: Bool = true
    ) {
        precondition(n >= 1, "n must be positive")
        precondition(f >= 0, "f must be non-negative")
        precondition(livenessBound > 0, "livenessBound must be positive")
        precondition(retainedSequences >= 1, "retainedSequences must be positive")
        precondition(retainedViews >= 1, "retainedViews must be positive")
        precondition(violationsMax >= ViolationKind.allCases.count, "violationsMax must hold one of each kind")
        self.n = n
        self.f = f
        self.byzantine = byzantine
        self.gst = gst
        self.livenessBound = livenessBound
        self.livenessFrom = max(gst, livenessFrom ?? gst)
        self.livenessApplies = livenessApplies
        self.retainedSequences = retainedSequences
        self.retainedViews = retainedViews
        self.violationsMax = violationsMax
        self.recordsLatencies = recordsLatencies
    }
}
