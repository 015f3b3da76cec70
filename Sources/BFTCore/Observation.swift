/// Identifies a client request: PBFT's ⟨c, t⟩ (client id and client timestamp).
public struct RequestID: Hashable, Comparable, Sendable, CustomStringConvertible {
    public var client: ClientID
    public var timestamp: UInt64
    public init(client: ClientID, timestamp: UInt64) {
        self.client = client
        self.timestamp = timestamp
    }
    public static func < (a: RequestID, b: RequestID) -> Bool {
        (a.client, a.timestamp) < (b.client, b.timestamp)
    }
    public var description: String { "c\(client)/t\(timestamp)" }

    public func hash(into hasher: inout Hasher) {
        hasher.combine(client)
        hasher.combine(timestamp)
    }

    /// Mempools, client tables and checkers look requests up by id on every message; one
    /// multiply-xorshift round with the table's seed replaces a `Hasher` per lookup (issue 19; see
    /// `Digest._rawHashValue(seed:)`).
    public func _rawHashValue(seed: Int) -> Int {
        let x = UInt64(UInt(bitPattern: client)) &* 0x9e37_79b9_7f4a_7c15 ^ timestamp ^ UInt64(UInt(bitPattern: seed))
        return Int(truncatingIfNeeded: Digest.mix(x))
    }
}

/// Why a state machine dropped an input. Counted in summaries.
public enum RejectReason: String, Sendable, CaseIterable, Codable {
    case badSignature = "bad-signature"
    /// The signature does not verify for the replica the message claims, and that replica is not who
    /// delivered it: a forged sender field (a relay of a genuine message verifies and is not counted).
    case forgedSender = "forged-sender"
    case malformed
    case unknownSender = "unknown-sender"
    case wrongView = "wrong-view"
    case outsideWindow = "outside-window"
    case digestMismatch = "digest-mismatch"
    case conflicting
    case invalidCertificate = "invalid-certificate"
    case stale
    /// A PRE-PREPARE whose batch exceeds the adaptive controller's agreed batch size (issue 18).
    case oversizeBatch = "oversize-batch"
}

extension RejectReason {
    /// `badSignature`, or `forgedSender` when the message claims a replica other than the one that sent it.
    public static func signatureFailure(claimed: ReplicaID, from: Principal) -> RejectReason {
        from.replicaID.map { $0 != claimed } == true ? .forgedSender : .badSignature
    }
}

/// An event a state machine reports about itself. Checkers read only these (plus the scenario's
/// declared faults), so the same checkers audit simulated runs and live logs alike.
public enum Observation: Sendable, Equatable {
    // Replica observations.
    /// The replica entered `view`, whose leader/primary is `leader`.
    case viewEntered(view: UInt64, leader: ReplicaID)
    /// The replica stopped participating in its view and asked to move to `view`.
    case viewChangeStarted(view: UInt64)
    /// The batch/block with `digest` committed at position `sequence` of the total order (committed-local).
    case committed(sequence: UInt64, view: UInt64, digest: Digest, requestCount: Int)
    /// The request executed as the `index`-th entry of the batch at `sequence`, producing the result
    /// whose `Digest.fingerprint(ofResult:)` is `result`. `requestDigest` is the digest of the
    /// client-signed request bytes.
    case executed(sequence: UInt64, index: Int, request: RequestID, requestDigest: Digest, result: Digest)
    /// A checkpoint at `sequence` became stable (2f+1 matching CHECKPOINTs).
    case checkpointStable(sequence: UInt64, stateDigest: Digest)
    /// State transfer installed the checkpointed state at `sequence`; executions below it were skipped.
    case stateTransferred(sequence: UInt64, stateDigest: Digest)
    /// A message was dropped (failed verification, malformed, out of window, ...).
    case rejected(reason: RejectReason, from: Principal)
    /// A request the replica knows of and has not executed yet (sampled on timer events for diagnosis).
    case pendingRequests(count: Int)
    /// HotStuff: the replica voted for the block `digest` proposed in `view` (at most once per view).
    case voted(view: UInt64, digest: Digest)
    /// HotStuff: the replica formed or verified a quorum certificate for block `digest` of `view` at `height`.
    case blockCertified(view: UInt64, digest: Digest, height: UInt64)
    /// HotStuff: the block `digest` at `height`, whose parent is `parent`, committed (emitted just before
    /// the generic `committed`), so a checker can verify that committed blocks form one hash chain.
    case blockCommitted(height: UInt64, digest: Digest, parent: Digest)
    /// HotStuff: the replica's locked QC changed; `view` is the locked QC's view (never decreases).
    case locked(view: UInt64)
    /// HotStuff: the replica's highest known QC changed to one of `view`.
    case highQC(view: UInt64)
    /// Two-chain HotStuff: the replica formed or verified a timeout certificate for `view`.
    case timeoutCertified(view: UInt64)
    /// The shell restarted the replica after a crash: its volatile state is gone and it resumes from
    /// durable state, so it may execute again, after a state transfer, sequences it executed before.
    case restarted

    // Client observations.
    /// The client signed and sent a new request.
    case requestIssued(request: RequestID, digest: Digest)
    /// The client accepted a result (f+1 matching replies); `result` is its fingerprint.
    case requestCompleted(request: RequestID, result: Digest)
}

extension Observation {
    /// Short kind name used in traces.
    public var kind: String {
        switch self {
        case .viewEntered: return "view-entered"
        case .viewChangeStarted: return "view-change"
        case .committed: return "commit"
        case .executed: return "execute"
        case .checkpointStable: return "checkpoint"
        case .stateTransferred: return "state-transfer"
        case .rejected: return "reject"
        case .pendingRequests: return "pending"
        case .voted: return "vote"
        case .blockCertified: return "certified"
        case .blockCommitted: return "block-commit"
        case .locked: return "locked"
        case .highQC: return "high-qc"
        case .timeoutCertified: return "timeout-certified"
        case .restarted: return "restarted"
        case .requestIssued: return "request"
        case .requestCompleted: return "complete"
        }
    }
}

extension Observation {
    /// A promise: a commitment the replica persists before it acts on it — a vote (H-V1) or a lock
    /// (H-L1), both part of HotStuff's safety state (R1). A shell must record a promise only once the
    /// persists issued before it are durable, as it does for sends: a crash in between would otherwise
    /// leave a promise in the log that the restarted replica never made, and the checkers would report
    /// the replica's next vote or lock as a double vote or a lock regression. (Facts — executions,
    /// commits — are the opposite: written before the state they describe is durable, so durable state
    /// is never ahead of the log; re-execution after `.restarted` is accepted.)
    public var isPromise: Bool {
        switch self {
        case .voted, .locked: return true
        default: return false
        }
    }
}

/// An observation stamped by the shell that carried it out: when, at which event, and by whom.
/// Checkers and traces consume these; a live shell produces the same records from wall-clock time.
public struct ObservationRecord: Sendable, Equatable {
    /// Simulated (or live, since start) time in nanoseconds.
    public var time: Nanoseconds
    /// Index of the shell event that produced it (monotonic within a run).
    public var eventIndex: UInt64
    public var source: Principal
    public var observation: Observation
    public init(time: Nanoseconds, eventIndex: UInt64, source: Principal, observation: Observation) {
        self.time = time
        self.eventIndex = eventIndex
        self.source = source
        self.observation = observation
    }
}

/// Whether a property held over a run; also what a scenario expects of it.
public enum Verdict: String, Sendable, Equatable, Codable, CaseIterable {
    case holds
    case violated
}
