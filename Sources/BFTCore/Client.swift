/// A client state machine (Castro & Liskov §4.1, Specs/PBFT.md rules C1–C4), shared by every protocol.
///
/// It sends each request to the replica it believes leads (or to all, if the protocol asks), accepts a
/// result once f+1 replicas sent matching signed replies (one of them is correct), and on timeout
/// retransmits to all replicas with exponential backoff. One request is outstanding at a time, so a
/// client's timestamps are executed in order.
public struct Client: StateMachine {
    public enum Targeting: Sendable, Equatable {
        /// Send to the leader of the latest view seen in replies (`view mod n`); PBFT.
        case leader
        /// Send every request to all replicas; leader-rotating protocols.
        case all
    }

    public static let retryTimer = TimerID(kind: 0xC0)
    public static let arrivalTimer = TimerID(kind: 0xC1)
    public static let thinkTimer = TimerID(kind: 0xC2)
    /// Bound on queued open-loop arrivals; further arrivals are counted as shed.
    public static let queueMax = 10_000

    public let id: ClientID
    public var principal: Principal { .client(id) }
    public let quorum: QuorumMath
    public let workload: WorkloadSpec
    public let targeting: Targeting
    private let signer: MessageSigner
    private let verifier: SignatureVerifier
    private var rng: DeterministicRNG

    public private(set) var issued = 0
    public private(set) var completed = 0
    public private(set) var shed = 0
    private var nextTimestamp: UInt64 = 1
    private var view: UInt64 = 0
    private var queue: [KeyValueStore.Operation] = []
    private var queueHead = 0
    /// Open loop with rate changes: the client's time at its next arrival timer (sum of the gaps it set).
    private var arrivalClock: Nanoseconds = 0
    /// Whether the armed arrival timer marks a rate change rather than an arrival.
    private var arrivalIsRateChange = false
    private var outstanding: ClientRequest?
    private var retryTimeout: Nanoseconds
    /// Replies for the outstanding request, indexed by replica: result bytes and view.
    private var replies: [(result: [UInt8], view: UInt64)?]

    public init(id: ClientID, quorum: QuorumMath, workload: WorkloadSpec, targeting: Targeting,
                signer: MessageSigner, verifier: SignatureVerifier, rng: DeterministicRNG) {
        precondition(signer.principal == .client(id), "client signer mismatch")
        self.id = id
        self.quorum = quorum
        self.workload = workload
        self.targeting = targeting
        self.signer = signer
        self.verifier = verifier
        self.rng = rng
        self.retryTimeout = workload.retryTimeout
        self.replies = Array(repeating: nil, count: quorum.n)
    }

    public var isIdle: Bool { outstanding == nil }
    public var isFinished: Bool {
        guard let limit = workload.requestsPerClient else { return false }
        return completed >= limit
    }
    private var mayIssueMore: Bool {
        guard let limit = workload.requestsPerClient else { return true }
        return issued < limit
    }

    public mutating func handle(_ input: ReplicaInput, into actions: inout [ReplicaAction]) {
        switch input {
        case .start, .recover:
            switch workload.mode {
            case .closed:
                issueNext(&actions)
            case .open:
                scheduleArrival(&actions)
            }
        case .timer(let t):
            switch t {
            case Client.retryTimer: onRetryTimeout(&actions)
            case Client.arrivalTimer: onArrival(&actions)
            case Client.thinkTimer: issueNext(&actions)
            default: break
            }
        case .message(let from, let bytes):
            onReply(from: from, bytes: bytes, &actions)
        }
    }

    // MARK: Open loop

    /// Arrivals form a Poisson process (rate per client = total / clients). With `rateChanges` the rate is
    /// piecewise constant in the client's own time (`arrivalClock`, the sum of the arrival timers it set):
    /// a gap that would cross the next change stops at it and is drawn afresh at the new rate there, which
    /// is exact for a Poisson process (memorylessness), so the arrivals are the non-homogeneous process.
    private mutating func scheduleArrival(_ actions: inout [ReplicaAction]) {
        guard mayIssueMore else { return }
        let (total, until) = workload.openRate(at: arrivalClock)
        let rate = total / Double(max(1, workload.clients))
        var gap = Nanoseconds.max
        if rate > 0 { gap = max(1, Nanoseconds(min(rng.exponential(mean: Double(nanosPerSecond) / rate), 1e17))) }
        if let until, gap >= until - arrivalClock {
            arrivalIsRateChange = true
            gap = until - arrivalClock
        } else if rate <= 0 {
            return  // paused, and no later change: no more arrivals
        } else {
            arrivalIsRateChange = false
        }
        arrivalClock += gap
        actions.append(.setTimer(Client.arrivalTimer, after: max(1, gap)))
    }

    private mutating func onArrival(_ actions: inout [ReplicaAction]) {
        guard mayIssueMore else { return }
        if arrivalIsRateChange {
            // A rate change, not an arrival: draw the next gap at the new rate.
            arrivalIsRateChange = false
            return scheduleArrival(&actions)
        }
        if queue.count - queueHead >= Client.queueMax {
            shed += 1
        } else {
            queue.append(workload.nextOperation(&rng))
        }
        if outstanding == nil { sendQueued(&actions) }
        scheduleArrival(&actions)
    }

    // MARK: Requests

    private mutating func issueNext(_ actions: inout [ReplicaAction]) {
        guard outstanding == nil, mayIssueMore else { return }
        if case .open = workload.mode { return sendQueued(&actions) }
        send(workload.nextOperation(&rng), &actions)
    }

    private mutating func sendQueued(_ actions: inout [ReplicaAction]) {
        guard outstanding == nil, queueHead < queue.count else { return }
        let op = queue[queueHead]
        queueHead += 1
        if queueHead > 1024 && queueHead * 2 > queue.count {
            queue.removeFirst(queueHead)
            queueHead = 0
        }
        send(op, &actions)
    }

    /// C1: sign ⟨REQUEST, o, t, c⟩ with a fresh timestamp and send it to the believed primary.
    private mutating func send(_ op: KeyValueStore.Operation, _ actions: inout [ReplicaAction]) {
        let request = ClientRequest(client: id, timestamp: nextTimestamp, operation: op.encoded, signer: signer)
        nextTimestamp += 1
        issued += 1
        outstanding = request
        for i in replies.indices { replies[i] = nil }
        retryTimeout = workload.retryTimeout
        actions.append(.observe(.requestIssued(request: request.id, digest: request.digest)))
        switch targeting {
        case .leader:
            actions.append(.send(request.bytes, to: .replica(Int(view % UInt64(quorum.n)))))
        case .all:
            broadcast(request.bytes, &actions)
        }
        actions.append(.setTimer(Client.retryTimer, after: retryTimeout))
    }

    private func broadcast(_ bytes: [UInt8], _ actions: inout [ReplicaAction]) {
        for r in 0..<quorum.n { actions.append(.send(bytes, to: .replica(r))) }
    }

    /// C3: on timeout, retransmit to all replicas; backups forward it to the primary and start their
    /// view-change timers. The timeout doubles up to a cap.
    private mutating func onRetryTimeout(_ actions: inout [ReplicaAction]) {
        guard let request = outstanding else { return }
        broadcast(request.bytes, &actions)
        retryTimeout = min(retryTimeout * 2, workload.retryTimeoutMax)
        actions.append(.setTimer(Client.retryTimer, after: retryTimeout))
    }

    /// C2: accept the result once f+1 distinct replicas sent matching, correctly signed replies.
    private mutating func onReply(from: Principal, bytes: [UInt8], _ actions: inout [ReplicaAction]) {
        // Only the outstanding request's timestamp is read: copying the request would retain its arrays.
        guard let timestamp = outstanding?.timestamp else { return }
        // The header is checked before the reply is built: most replies that arrive after f+1 matching
        // ones are for a request already completed, and are dropped without copying their result.
        let header: ClientReply.Header
        do {
            header = try ClientReply.header(of: bytes)
        } catch {
            actions.append(.observe(.rejected(reason: .malformed, from: from)))
            return
        }
        guard header.client == id, header.timestamp == timestamp else { return }
        guard let reply = try? ClientReply(decoding: bytes) else {
            preconditionFailure("ClientReply.header accepted bytes that init(decoding:) rejects")
        }
        guard reply.replica >= 0, reply.replica < quorum.n else {
            actions.append(.observe(.rejected(reason: .unknownSender, from: from)))
            return
        }
        guard reply.verify(verifier) else {
            actions.append(.observe(.rejected(reason: .badSignature, from: from)))
            return
        }
        let result = reply.result
        replies[reply.replica] = (result, reply.view)
        var matching = 0
        var viewMax: UInt64 = 0
        for case let r? in replies where r.result == result {
            matching += 1
            viewMax = max(viewMax, r.view)
        }
        guard matching >= quorum.weakQuorum else { return }
        view = max(view, viewMax)
        outstanding = nil
        completed += 1
        actions.append(.cancelTimer(Client.retryTimer))
        actions.append(.observe(.requestCompleted(request: RequestID(client: id, timestamp: timestamp),
                                                  result: Digest.fingerprint(ofResult: result))))
        switch workload.mode {
        case .closed(let think):
            if think > 0 { actions.append(.setTimer(Client.thinkTimer, after: think)) } else { issueNext(&actions) }
        case .open:
            sendQueued(&actions)
        }
    }
}
