import BFTCore

/// A HotStuff replica as a sans-IO state machine: chained (Yin et al., PODC'19, event-driven
/// Algorithms 3–5) or two-chain (Jolteon / DiemBFT v4), chosen by `config.variant`.
///
/// The shared machinery lives in extensions split by concern — proposals and votes
/// (`+Proposal`), certificates, locking and commit (`+Certificates`), the pacemaker (`+Pacemaker`),
/// block sync (`+BlockSync`), client requests and execution (`+Execution`), durable safety state
/// (`+Persistence`) — and the variant's safety rules sit behind `ConsensusRules`. Rule names
/// (H-V1, P3, S2, ...) refer to Specs/HotStuff.md.
public struct HotStuffReplica: StateMachine {
    static let viewTimer = TimerID(kind: 0x4801)
    static let fetchTimer = TimerID(kind: 0x4802)

    public let id: ReplicaID
    public let config: HotStuffConfig
    let rules: any ConsensusRules
    /// How views move on timeouts (NEW-VIEW announcements or TCs); see `Pacemaker`.
    let pacemaker: any Pacemaker
    let signer: MessageSigner
    let verifier: SignatureVerifier
    /// Proposals decoded by another replica of this simulation from the very same buffer (`DecodeMemo`;
    /// the driver passes its run's, nil in tests that build replicas directly).
    public let decodeMemo: DecodeMemo<HotStuffMessage>?
    public var principal: Principal { .replica(id) }

    // Safety state (R1): persisted before any vote or timeout that depends on it leaves.
    /// H-V1 (`vheight`): the highest view this replica voted in or timed out of.
    public internal(set) var lastVotedView: UInt64 = 0
    /// Test-only `sendVoteBeforePersist`: the safety state still owes a persist to the next batch.
    var safetyPersistDeferred = false
    public internal(set) var lockedQC: QuorumCertificate = .genesis
    public internal(set) var highQC: QuorumCertificate = .genesis

    // Pacemaker (P1–P7).
    public internal(set) var currentView: UInt64 = 0
    /// The last view this replica proposed in (a leader proposes at most once per view).
    var proposedView: UInt64 = 0
    /// The view timeout (P4): doubles per consecutive local timeout, resets when a new QC is learned.
    var viewTimeout: BackoffTimeout
    var viewTimerArmed = false
    /// The highest view this replica broadcast a TIMEOUT for (two-chain, T1, T4); not persisted:
    /// after recovery the replica starts above `lastVotedView`, which covers it.
    var timedOutView: UInt64 = 0
    /// Highest TC seen (two-chain, T2).
    public internal(set) var highTC: TimeoutCertificate?
    var voteCollectors: [VoteKey: VoteCollector] = [:]
    var newViewCollectors: [UInt64: SignerSet] = [:]
    /// The view of the last QC that committed requests; a leader holding it as highQC proposes even
    /// without new work, so the other replicas learn it and commit too (P5).
    var commitQCView: UInt64 = 0
    /// Height of the committed block in the last durable snapshot (R2).
    var lastSnapshotHeight: UInt64 = 0
    /// A full snapshot of the committed state is persisted every this many heights; each committed
    /// block is logged in between (R2), in a ring of `commitLogSlots` keys (more than the interval, so
    /// every block since the last snapshot is in it). Every slot holds a whole block with its QC (683
    /// signatures at n=1024), so the ring is most of a replica's durable state: 16/24 rather than 32/64
    /// keeps n=1024 within 4 GB (issue 19) for one more snapshot per 32 heights.
    static let snapshotInterval: UInt64 = 16
    static let commitLogSlots: UInt64 = 24
    /// The block tree is pruned once it holds this many blocks beyond `blockRetention`.
    static let pruneSlack = 64
    /// Per replica, the highest view it announced entering by NEW-VIEW (chained; P10).
    var announcedViews: [UInt64]
    /// Per replica, its signed NEW-VIEW behind `announcedViews` (chained), forwarded in SYNC (P12).
    var announcements: [NewView?]
    /// This replica's most recent vote, attached to its NEW-VIEW while newer than its highQC (P8).
    var lastVote: Vote?
    var timeoutCollectors: [UInt64: TimeoutCollector] = [:]

    // Block tree and block sync (B1–B3, S1–S4).
    public internal(set) var tree = BlockTree()
    var certifiedSeen: Set<Digest> = [Block.genesis.digest]
    var orphans: [Digest: Block] = [:]
    var fetches: [Digest: Fetch] = [:]
    var fetchTimerArmed = false
    var parkedProposals: [Proposal] = []

    // Execution (E1–E4).
    public internal(set) var store = KeyValueStore()
    /// Last executed request and reply per client (E3): an array indexed by client id, no hashing.
    var clientTable = ClientTable<ClientRecord>()
    var mempool: Mempool

    public init(id: ReplicaID, config: HotStuffConfig, signer: MessageSigner, verifier: SignatureVerifier,
                decodeMemo: DecodeMemo<HotStuffMessage>? = nil) {
        self.decodeMemo = decodeMemo
        precondition(id >= 0 && id < config.n, "replica id outside 0..<n")
        precondition(signer.principal == .replica(id), "signer must belong to this replica")
        self.id = id
        self.config = config
        self.rules = config.variant.rules
        self.pacemaker = config.variant.pacemaker
        self.signer = signer
        self.verifier = verifier
        mempool = Mempool(capacity: config.mempoolMax)
        viewTimeout = BackoffTimeout(base: config.viewTimeout, max: config.viewTimeoutMax)
        announcedViews = Array(repeating: 0, count: config.n)
        announcements = Array(repeating: nil, count: config.n)
    }

    var quorum: Int { config.quorum.quorum }

    public mutating func handle(_ input: ReplicaInput, into actions: inout [ReplicaAction]) {
        if safetyPersistDeferred { persistSafetyState(&actions) }  // test-only `sendVoteBeforePersist`
        switch input {
        case .start:
            onStart(&actions)
        case .recover(let durable):
            restore(from: durable)
            onStart(&actions)
        case .timer(let t):
            switch t {
            case Self.viewTimer: onViewTimeout(&actions)
            case Self.fetchTimer: onFetchTimeout(&actions)
            default: break
            }
        case .message(let from, let bytes):
            // A proposal goes to every replica in one buffer, and decoding it hashes the whole block, so
            // it is decoded once per simulation (`decodeMemo`); other messages are small or unicast. No
            // `HotStuffMessage?` is kept: destroying an optional multi-payload enum goes through the
            // generic value witness (issue 19).
            let message: HotStuffMessage
            if let memo = decodeMemo, bytes.first == HotStuffWireTag.proposal {
                guard let m = memo.decoded(bytes, { try? HotStuffMessage(decoding: $0) }) else { return reject(.malformed, from, &actions) }
                message = m
            } else {
                do { message = try HotStuffMessage(decoding: bytes) } catch { return reject(.malformed, from, &actions) }
            }
            dispatch(message, from: from, &actions)
        }
    }

    mutating func dispatch(_ message: HotStuffMessage, from: Principal, _ actions: inout [ReplicaAction]) {
        switch message {
        case .proposal(let p): onProposal(p, from: from, &actions)
        case .vote(let v): onVote(v, from: from, &actions)
        case .newView(let m): onNewView(m, from: from, &actions)
        case .timeout(let m): onTimeout(m, from: from, &actions)
        case .blockRequest(let m): onBlockRequest(m, from: from, &actions)
        case .blockResponse(let m): onBlockResponse(m, from: from, &actions)
        case .syncInfo(let m): onSyncInfo(m, from: from, &actions)
        case .request(let r): onClientRequest(r, from: from, &actions)
        }
    }

    mutating func onStart(_ actions: inout [ReplicaAction]) {
        let first = max(1, max(highQC.view, lastVotedView) + 1)
        if currentView < first { enterView(first, &actions) }
    }

    func reject(_ reason: RejectReason, _ from: Principal, _ actions: inout [ReplicaAction]) {
        actions.append(.observe(.rejected(reason: reason, from: from)))
    }

    /// Sends to one replica, or handles the message locally when it is addressed to this replica.
    mutating func send(_ message: HotStuffMessage, to replica: ReplicaID, _ actions: inout [ReplicaAction]) {
        if replica == id {
            dispatch(message, from: principal, &actions)
        } else {
            actions.append(.send(message.bytes, to: .replica(replica)))
        }
    }
}

/// Votes for one (view, block), indexed by replica id so duplicates count once (H-Q1).
struct VoteKey: Hashable {
    var view: UInt64
    var block: Digest
}

struct VoteCollector {
    var signatures: [Signature?]
    var count = 0
    var formed = false
    init(n: Int) { signatures = Array(repeating: nil, count: n) }
}

/// Distinct senders, indexed by replica id.
struct SignerSet {
    var members: [Bool]
    var count = 0
    init(n: Int) { members = Array(repeating: false, count: n) }
    mutating func insert(_ r: ReplicaID) -> Bool {
        guard !members[r] else { return false }
        members[r] = true
        count += 1
        return true
    }
}

struct TimeoutCollector {
    var entries: [TimeoutCertificate.Entry?]
    var count = 0
    var formed = false
    init(n: Int) { entries = Array(repeating: nil, count: n) }
}

struct Fetch {
    var peer: ReplicaID
    var attempts: Int
}

/// Per client: the last executed timestamp and its result, for exactly-once execution and reply
/// retransmission (E3).
struct ClientRecord: Equatable {
    var timestamp: UInt64
    var view: UInt64
    var result: [UInt8]
}
