import BFTCore

/// Test-only broken variants of the protocol, used to prove that the checkers catch violations.
public struct PBFTMutations: OptionSet, Sendable, Hashable {
    public let rawValue: UInt32
    public init(rawValue: UInt32) { self.rawValue = rawValue }

    /// Breaks rule N5: a replica counts COMMITs for a sequence without requiring that they match the
    /// digest of its own PRE-PREPARE (and so without requiring that it prepared that digest). Under an
    /// equivocating primary two correct backups then commit different batches at one sequence.
    public static let commitWithoutDigestMatch = PBFTMutations(rawValue: 1 << 0)
    /// Breaks N3: PREPAREs count towards prepared whatever digest they carry.
    public static let prepareWithoutDigestMatch = PBFTMutations(rawValue: 1 << 1)
    /// Breaks Q1/N5: committed-local with f+1 matching COMMITs instead of n − f.
    public static let commitQuorumWeak = PBFTMutations(rawValue: 1 << 2)
    /// Breaks Q1/N3: prepared with f matching PREPAREs instead of n − f − 1.
    public static let prepareQuorumWeak = PBFTMutations(rawValue: 1 << 3)
    /// Breaks Q1 for n ≠ 3f+1: every quorum is 2f+1 instead of n − f (two need not share a correct replica).
    public static let quorumTwoFPlusOne = PBFTMutations(rawValue: 1 << 4)
    /// Breaks N2: a PRE-PREPARE is accepted without checking that its digest is its batch's.
    public static let skipBatchDigestCheck = PBFTMutations(rawValue: 1 << 5)
    /// Breaks R1/N2: requests inside a PRE-PREPARE are accepted without their client signatures.
    public static let skipRequestSignatureCheck = PBFTMutations(rawValue: 1 << 6)
    /// Breaks N2: a second, different PRE-PREPARE for (v, n) replaces the first (and is prepared too).
    public static let acceptConflictingPrePrepare = PBFTMutations(rawValue: 1 << 7)
    /// Breaks V1: the view-change timer never starts a view change.
    public static let noViewChangeTimer = PBFTMutations(rawValue: 1 << 8)
    /// Breaks V2: one VIEW-CHANGE for a higher view (a Byzantine one suffices) makes a replica join it.
    public static let joinOnOneViewChange = PBFTMutations(rawValue: 1 << 9)
    /// Breaks V2: prepared certificates inside a VIEW-CHANGE are not verified.
    public static let acceptUnverifiedViewChange = PBFTMutations(rawValue: 1 << 10)
    /// Breaks V5: a NEW-VIEW's O is not compared with the O recomputed from its VIEW-CHANGEs.
    public static let acceptNewViewWithoutRecompute = PBFTMutations(rawValue: 1 << 11)
    /// Breaks V5/Q1: a NEW-VIEW with f+1 VIEW-CHANGEs (instead of n − f) is accepted.
    public static let newViewWithoutQuorum = PBFTMutations(rawValue: 1 << 12)
    /// Breaks V6: a replica never retransmits its VIEW-CHANGE (a lost one is lost for good).
    public static let noViewChangeRetransmit = PBFTMutations(rawValue: 1 << 13)
    /// Breaks S1: a replica behind a stable checkpoint never fetches the state.
    public static let noStateTransfer = PBFTMutations(rawValue: 1 << 14)
    /// Breaks S3: fetched state is installed without checking its digest against the stable checkpoint.
    public static let skipStateDigestCheck = PBFTMutations(rawValue: 1 << 15)
    /// Breaks S5: a fetched committed batch is accepted without checking its certificate.
    public static let skipCommittedCertificateCheck = PBFTMutations(rawValue: 1 << 16)
    /// Breaks R2/E1: execution does not skip a request its client already had executed.
    public static let executeTwice = PBFTMutations(rawValue: 1 << 17)
}

/// Parameters of a PBFT cluster (Specs/PBFT.md; Castro & Liskov §4).
public struct PBFTConfig: Sendable, Hashable {
    /// Number of replicas.
    public var n: Int
    /// Faults tolerated; `n >= 3f + 1` (rule Q1).
    public var f: Int
    /// Batch size and delay, K, L, the view-change timeout and the adaptive controller (issue 18; nil
    /// runs the static parameters). `leaderSchedule` is HotStuff's and ignored here.
    public var parameters: ProtocolParameters
    public var mutations: PBFTMutations

    /// What a replica built without parameters runs with: batches of 16, K = 64, L = 256, a 500 ms
    /// view-change timeout backing off to 16 s.
    public static let defaultParameters = ProtocolParameters(batchSizeMax: 16, batchDelayMax: 2 * nanosPerMillisecond,
                                                             checkpointInterval: 64, watermarkWindow: 256,
                                                             viewChangeTimeout: 500 * nanosPerMillisecond,
                                                             viewChangeTimeoutMax: 16 * nanosPerSecond)

    public init(n: Int = 4, f: Int? = nil, parameters: ProtocolParameters = PBFTConfig.defaultParameters,
                mutations: PBFTMutations = []) {
        self.n = n
        self.f = f ?? QuorumMath.maxFaulty(n: n)
        self.parameters = parameters
        self.mutations = mutations
    }
}

/// The last reply sent to a client (rule R2): PBFT's reply cache, part of the checkpointed state.
struct CachedReply: Hashable, Sendable {
    var timestamp: UInt64
    var result: [UInt8]
}

/// One sequence number's agreement state in the current view (rules N2–N5).
struct Slot {
    var prePrepare: PrePrepare?
    /// PREPAREs by replica id: a signer's first PREPARE counts, later ones are ignored (rule Q2).
    var prepares: [SlotVote]
    /// COMMITs by replica id, same rule.
    var commits: [SlotVote]
    var prepared = false
    var committed = false

    init(n: Int) {
        prepares = Array(repeating: SlotVote(), count: n)
        commits = Array(repeating: SlotVote(), count: n)
    }
}

/// What a slot keeps of one replica's PREPARE or COMMIT: the sequence is the slot's and the signer is the
/// array index, so a vote is rebuilt exactly (`PBFTVote(stored:sequence:replica:)`). A plain,
/// non-generic, non-optional element on purpose: an array of `PBFTVote<Phase>?` is destroyed (at every
/// slot reset and teardown) through the generic optional value witness, one call per element, which was
/// ~5 % of a Twins-sized fuzz run (issue 19).
struct SlotVote {
    /// The signed wire bytes; empty when the replica has not voted (a vote's bytes never are).
    var bytes: [UInt8] = []
    var view: UInt64 = 0
    var digest: Digest = .zero

    init() {}

    init<Phase>(_ vote: PBFTVote<Phase>) {
        bytes = vote.bytes
        view = vote.view
        digest = vote.digest
    }

    var isEmpty: Bool { bytes.isEmpty }
}

/// A PBFT replica (Castro & Liskov, OSDI'99 / TOCS'02, signature variant) as a sans-IO state machine.
///
/// One `handle` call per input; actions come out in an order the shell must respect (persist before
/// send, see `ReplicaAction`). Every rule cited in comments is numbered in `Specs/PBFT.md`.
public struct PBFTReplica: StateMachine {
    /// Timer kinds.
    public static let batchTimer = TimerID(kind: 1)
    public static let viewChangeTimer = TimerID(kind: 2)
    public static let fetchTimer = TimerID(kind: 3)
    public static let batchFetchTimer = TimerID(kind: 4)

    /// Bound on requests known but not executed (one per client: clients have one outstanding request).
    public static let waitingMax = 1 << 16
    /// Bound on requests queued at the primary for batching.
    public static let pendingBatchMax = 1 << 16
    /// Bound on buffered normal-case messages for views this replica has not entered yet.
    public static let futureMessagesMax = 4096

    public let id: ReplicaID
    public let config: PBFTConfig
    public let quorum: QuorumMath
    let signer: MessageSigner
    let verifier: SignatureVerifier
    /// PRE-PREPAREs decoded by another replica of this simulation from the very same buffer
    /// (`DecodeMemo`; the driver passes its run's, nil in tests that build replicas directly).
    public let decodeMemo: DecodeMemo<PBFTMessage>?
    /// The durable key of each vote slot, `vote/<sequence mod L>`, built once (not formatted per vote).
    let voteKeys: [String]
    /// `vote/i` for the usual windows, formatted once per process: a fuzz campaign builds four replicas
    /// per run, and formatting L keys each time was about 1 % of a Twins-sized run (issue 19).
    static let commonVoteKeys = (0..<256).map { "vote/\($0)" }
    public var principal: Principal { .replica(id) }

    // View (rules V1–V6).
    public internal(set) var view: UInt64 = 0
    /// True between sending VIEW-CHANGE and entering the new view.
    public internal(set) var isViewChanging = false
    /// The view this replica is moving to while `isViewChanging`.
    public internal(set) var pendingView: UInt64 = 0
    /// The view-change timeout (rule V6): doubles per failed attempt, resets on progress (§4.4).
    var viewChangeTimeout: BackoffTimeout
    /// The duration the next view-change timer runs for.
    var viewChangeTimeoutCurrent: Nanoseconds { viewChangeTimeout.duration }
    var viewChangeTimerArmed = false
    /// Each replica's highest valid VIEW-CHANGE, indexed by replica id (bounded by n).
    var latestViewChanges: [ViewChange?]
    var newViewSentFor: UInt64?
    /// The pending view whose VIEW-CHANGE this replica already retransmitted once (rule V6).
    var viewChangeRetransmittedFor: UInt64?
    /// The NEW-VIEW that brought this replica into its current view (relayed to replicas that missed it).
    var currentNewView: NewView?

    // Agreement (rules N1–N5).
    var log: SlotLog
    /// Highest-view prepared certificate per sequence above the stable checkpoint (for VIEW-CHANGE).
    var preparedCertificates: CertificateLog<PreparedCertificate>
    /// Committed certificate per sequence above the stable checkpoint, kept across view changes (rule
    /// V5 replaces the log) so FETCH-BATCH can be answered for every batch committed here (rule S5).
    var committedCertificates: CertificateLog<CommittedCertificate>
    public internal(set) var lastExecuted: UInt64 = 0
    /// Primary only: the next sequence number to assign.
    var nextSequence: UInt64 = 1
    /// Primary only: requests waiting to be put in a batch, in arrival order.
    var pendingBatch: [ClientRequest] = []
    var batchTimerArmed = false
    /// Requests proposed (or queued for proposal) in the current view and not yet executed.
    var assigned = AssignedRequests()
    /// Requests this replica knows of and has not executed, latest per client (drives the view-change timer).
    var waiting = ClientTable<ClientRequest>()

    // Checkpoints (rules K1–K3).
    public internal(set) var stableSequence: UInt64 = 0
    public internal(set) var stableDigest: Digest
    var stableProof: [Checkpoint] = []
    /// CHECKPOINT messages above the stable checkpoint, per replica (bounded per replica).
    var checkpointVotes: [[UInt64: Checkpoint]]
    /// Own checkpointed states (canonical bytes) at sequences ≥ the stable checkpoint.
    var snapshots: [UInt64: (digest: Digest, state: [UInt8])] = [:]

    // Application.
    public internal(set) var store = KeyValueStore()
    var replyCache = ClientTable<CachedReply>()

    /// Normal-case messages for views not yet entered: (view, from, bytes), replayed on entry (bounded).
    var futureMessages: [(view: UInt64, from: Principal, bytes: [UInt8])] = []

    // State transfer (rules S1–S3).
    var fetching: (sequence: UInt64, digest: Digest)?
    /// A probe for a newer stable checkpoint is outstanding (rule S1; cleared by the fetch timer).
    var probing = false
    /// The batch-fetch timer is armed because a gap below committed batches was seen (rule S4).
    var batchFetchTimerArmed = false
    /// Digests this replica voted for before a crash, by sequence, in its recovered view (bounded by L:
    /// one persisted vote slot per sequence of the window). Cleared when it enters a new view.
    var recoveredVotes: [UInt64: Digest] = [:]

    // Adaptive parameters (issue 18; PBFTReplica+Adaptive.swift).
    /// The controller, fed by executed batches; nil without `adaptive:` or after a state transfer skipped
    /// part of the log (then `adaptiveLost`).
    public internal(set) var adaptive: AdaptiveController?
    /// True once a state transfer skipped batches the controller needed: this replica no longer knows the
    /// agreed arms and falls back to the bounds every arm allows.
    public internal(set) var adaptiveLost = false

    public init(id: ReplicaID, config: PBFTConfig, signer: MessageSigner, verifier: SignatureVerifier,
                decodeMemo: DecodeMemo<PBFTMessage>? = nil) {
        self.decodeMemo = decodeMemo
        precondition(id >= 0 && id < config.n, "replica id out of range")
        precondition(config.n <= PBFTLimits.replicaCountMax, "n exceeds replicaCountMax")
        precondition(signer.principal == .replica(id), "signer must belong to this replica")
        let p = config.parameters
        precondition(p.checkpointInterval > 0, "checkpointInterval must be positive")
        precondition(p.watermarkWindow >= p.checkpointInterval, "watermarkWindow must be at least checkpointInterval")
        precondition(p.watermarkWindow <= PBFTLimits.certificatesMax, "watermarkWindow exceeds certificatesMax")
        precondition(p.batchSizeMax >= 1 && p.batchSizeMax <= PBFTLimits.requestsPerBatchMax, "batchSizeMax out of range")
        self.id = id
        self.config = config
        quorum = config.mutations.contains(.quorumTwoFPlusOne)
            ? QuorumMath(n: config.n, f: config.f, brokenQuorum: 2 * config.f + 1) : QuorumMath(n: config.n, f: config.f)
        self.signer = signer
        self.verifier = verifier
        viewChangeTimeout = BackoffTimeout(base: p.viewChangeTimeout, max: p.viewChangeTimeoutMax)
        latestViewChanges = Array(repeating: nil, count: config.n)
        log = SlotLog(window: p.watermarkWindow, n: config.n)
        preparedCertificates = CertificateLog(window: p.watermarkWindow)
        committedCertificates = CertificateLog(window: p.watermarkWindow)
        voteKeys = p.watermarkWindow <= PBFTReplica.commonVoteKeys.count
            ? Array(PBFTReplica.commonVoteKeys.prefix(p.watermarkWindow)) : (0..<p.watermarkWindow).map { "vote/\($0)" }
        checkpointVotes = Array(repeating: [:], count: config.n)
        let genesis = PBFTReplica.encodeState(store: KeyValueStore(), replyCache: [:])
        stableDigest = Digest.of(genesis)
        snapshots[0] = (stableDigest, genesis)
        if let a = p.adaptive {
            precondition(p.watermarkWindow >= 2 * a.epoch, "adaptive: watermarkWindow must cover two epochs")
            precondition(a.batchSizeBound <= PBFTLimits.requestsPerBatchMax, "adaptive: batch size choices out of range")
            adaptive = AdaptiveController(config: a, initialArm: a.nearestArm(batchSizeMax: p.batchSizeMax, batchDelayMax: p.batchDelayMax,
                                                                              viewChangeTimeout: p.viewChangeTimeout))
        }
    }

    // MARK: Queries (tests and diagnosis)

    public func primary(of view: UInt64) -> ReplicaID { Int(view % UInt64(config.n)) }
    public var isPrimary: Bool { primary(of: view) == id }
    /// Sequence numbers currently held in the agreement log (bounded by the watermark window).
    public var logCount: Int { log.count }
    public var preparedCertificateCount: Int { preparedCertificates.count }
    public var snapshotCount: Int { snapshots.count }
    public var waitingCount: Int { waiting.count }
    /// The digest of the state at genesis (sequence 0): the first stable checkpoint.
    public static let genesisStateDigest = Digest.of(encodeState(store: KeyValueStore(), replyCache: [:]))

    /// The view this replica is in or moving to (rule V2 compares against it).
    var ownView: UInt64 { isViewChanging ? pendingView : view }

    var L: UInt64 { UInt64(config.parameters.watermarkWindow) }
    var K: UInt64 { UInt64(config.parameters.checkpointInterval) }

    /// Rule N1: sequence numbers between the low and high water marks, (h, h + L].
    func inWindow(_ sequence: UInt64) -> Bool {
        sequence > stableSequence && sequence <= stableSequence + L
    }

    // MARK: Input dispatch

    public mutating func handle(_ input: ReplicaInput, into actions: inout [ReplicaAction]) {
        switch input {
        case .start:
            actions.append(.observe(.viewEntered(view: view, leader: primary(of: view))))
        case .recover(let durable):
            onRecover(durable, &actions)
        case .timer(let t):
            switch t.kind {
            case PBFTReplica.batchTimer.kind: onBatchTimeout(&actions)
            case PBFTReplica.viewChangeTimer.kind: onViewChangeTimeout(&actions)
            case PBFTReplica.fetchTimer.kind: onFetchTimeout(&actions)
            case PBFTReplica.batchFetchTimer.kind: onBatchFetchTimeout(&actions)
            default: break
            }
        case .message(let from, let bytes):
            onMessage(from: from, bytes: bytes, &actions)
        }
    }

    mutating func onMessage(from: Principal, bytes: [UInt8], _ actions: inout [ReplicaAction]) {
        guard let tag = bytes.first else { return reject(.malformed, from, &actions) }
        if tag == ClientWireTag.request { return onRequestBytes(bytes, from: from, &actions) }
        // A PRE-PREPARE goes to every backup in one buffer, and decoding it hashes each request, so it
        // is decoded once per simulation (`decodeMemo`); votes are small.
        // No `PBFTMessage?` local: destroying an optional multi-payload enum goes through the generic
        // value witness (about 150 instructions), twice per message handled (issue 19).
        let message: PBFTMessage
        if let memo = decodeMemo, tag == PBFTWireTag.prePrepare {
            guard let m = memo.decoded(bytes, { try? PBFTMessage.decode($0) }) else { return reject(.malformed, from, &actions) }
            message = m
        } else {
            do { message = try PBFTMessage.decode(bytes) } catch { return reject(.malformed, from, &actions) }
        }
        guard message.replica < config.n else { return reject(.unknownSender, from, &actions) }
        guard message.verify(verifier) else { return reject(.signatureFailure(claimed: message.replica, from: from), from, &actions) }
        switch message {
        case .prePrepare(let m): onPrePrepare(m, from: from, &actions)
        case .prepare(let m): onPrepare(m, from: from, &actions)
        case .commit(let m): onCommit(m, from: from, &actions)
        case .checkpoint(let m): onCheckpoint(m, from: from, &actions)
        case .viewChange(let m): onViewChange(m, from: from, &actions)
        case .newView(let m): onNewView(m, from: from, &actions)
        case .fetchState(let m): onFetchState(m, &actions)
        case .state(let m): onCheckpointState(m, from: from, &actions)
        case .fetchBatch(let m): onFetchBatch(m, &actions)
        case .batch(let m): onCommittedBatch(m, from: from, &actions)
        }
    }

    func reject(_ reason: RejectReason, _ from: Principal, _ actions: inout [ReplicaAction]) {
        actions.append(.observe(.rejected(reason: reason, from: from)))
    }

    // MARK: Durable state

    /// Persists the view (and whether a view change is in progress) before any message that depends on it.
    func persistView(_ actions: inout [ReplicaAction]) {
        var w = ByteWriter(capacity: 9)
        w.u64(ownView)
        w.bool(isViewChanging)
        actions.append(.persist(key: "view", bytes: w.bytes))
    }

    /// Persists the last vote this replica sent for a sequence (phase 1 PRE-PREPARE, 2 PREPARE,
    /// 3 COMMIT), in a slot reused modulo the window so the durable footprint is bounded.
    func persistVote(phase: UInt8, view: UInt64, sequence: UInt64, digest: Digest, _ actions: inout [ReplicaAction]) {
        var w = ByteWriter(capacity: 49)
        w.u8(phase)
        w.u64(view)
        w.u64(sequence)
        w.digest(digest)
        actions.append(.persist(key: voteKeys[Int(sequence % L)], bytes: w.bytes))
    }

    /// Crash-recovery restarts in the persisted view with fresh state; state transfer then catches it up.
    /// The persisted votes of that view are kept (`recoveredVotes`): the replica never votes for another
    /// digest at a sequence it voted on before the crash, and as primary never reuses such a sequence.
    mutating func onRecover(_ durable: [String: [UInt8]], _ actions: inout [ReplicaAction]) {
        defer { restoreVotes(durable) }
        if let bytes = durable["view"] {
            var r = ByteReader(bytes)
            if let v = try? r.u64("view"), let changing = try? r.bool("changing") {
                if changing {
                    isViewChanging = true
                    pendingView = v
                    view = v > 0 ? v - 1 : 0
                } else {
                    view = v
                    pendingView = v
                }
            }
        }
        if isViewChanging {
            actions.append(.observe(.viewChangeStarted(view: pendingView)))
            armViewChangeTimer(&actions)
        } else {
            actions.append(.observe(.viewEntered(view: view, leader: primary(of: view))))
        }
        probeStableCheckpoint(&actions)
    }

    /// Reads the `vote/…` records of the recovered view (sorted keys: the order never depends on hashing).
    mutating func restoreVotes(_ durable: [String: [UInt8]]) {
        for key in durable.keys.sorted() where key.hasPrefix("vote/") {
            var r = ByteReader(durable[key]!)
            guard let _ = try? r.u8("phase"), let v = try? r.u64("view"), let n = try? r.u64("sequence"),
                  let d = try? r.digest("digest"), v == view else { continue }
            recoveredVotes[n] = d
            if isPrimary { nextSequence = max(nextSequence, n + 1) }
        }
    }

    // MARK: Checkpointed state encoding (rule K1)

    /// Canonical state: `kv snapshot (u32-prefixed) ‖ u32 clients ‖ (u32 client, u64 timestamp,
    /// u32-prefixed result)` sorted by client. Replies are re-signed on demand, so no replica-specific
    /// bytes enter the state.
    static func encodeState(store: KeyValueStore, replyCache: ClientTable<CachedReply>) -> [UInt8] {
        let snapshotSize = store.snapshotByteCount
        var w = ByteWriter(capacity: 8 + snapshotSize + replyCache.count * 48)
        w.u32(UInt32(snapshotSize))
        store.appendSnapshot(to: &w)
        w.u32(UInt32(replyCache.count))
        for client in replyCache.sortedClients {
            let entry = replyCache[client]!
            w.u32(UInt32(client))
            w.u64(entry.timestamp)
            w.lengthPrefixed(entry.result)
        }
        return w.bytes
    }

    static func decodeState(_ bytes: [UInt8]) throws(DecodeError) -> (KeyValueStore, ClientTable<CachedReply>) {
        var r = ByteReader(bytes)
        let snapshot = try r.lengthPrefixed("state kv", max: PBFTLimits.stateSizeMax)
        let store = try KeyValueStore(snapshot: snapshot)
        let count = try r.count("state reply cache", max: 1 << 20, minElementSize: 16)
        var cache = ClientTable<CachedReply>()
        var previous = -1
        for _ in 0..<count {
            let client = Int(try r.u32("state client"))
            guard client > previous else { throw .invalid("state reply cache not strictly sorted") }
            previous = client
            let timestamp = try r.u64("state timestamp")
            let result = try r.lengthPrefixed("state result", max: ClientReply.resultSizeMax)
            cache[client] = CachedReply(timestamp: timestamp, result: result)
        }
        try r.expectEnd()
        return (store, cache)
    }

    // MARK: View-change timer (rule V1, V6)

    mutating func armViewChangeTimer(_ actions: inout [ReplicaAction]) {
        actions.append(.setTimer(PBFTReplica.viewChangeTimer, after: viewChangeTimeout.duration))
        viewChangeTimerArmed = true
    }

    mutating func cancelViewChangeTimer(_ actions: inout [ReplicaAction]) {
        guard viewChangeTimerArmed else { return }
        actions.append(.cancelTimer(PBFTReplica.viewChangeTimer))
        viewChangeTimerArmed = false
    }

    /// Rule V1: the timer runs only while this replica waits for a request it knows of to execute.
    /// `restart` re-arms it after progress (a request executed); otherwise an armed timer is left alone.
    mutating func refreshViewChangeTimer(restart: Bool, _ actions: inout [ReplicaAction]) {
        guard !isViewChanging else { return }
        if waiting.isEmpty {
            cancelViewChangeTimer(&actions)
        } else if restart || !viewChangeTimerArmed {
            armViewChangeTimer(&actions)
        }
    }
}
