import BFTCore

/// Wire tags of HotStuff messages (protocol tags live in 1...63; clients use 0x40...).
enum HotStuffWireTag {
    static let proposal: UInt8 = 0x11
    static let vote: UInt8 = 0x12
    static let newView: UInt8 = 0x13
    static let timeout: UInt8 = 0x14
    static let blockRequest: UInt8 = 0x15
    static let blockResponse: UInt8 = 0x16
    static let syncInfo: UInt8 = 0x17
}

/// ⟨PROPOSAL, b, tc?⟩σleader: the leader of `block.view` proposes `block` (Yin et al. Alg. 3 `onPropose`).
/// Two-chain proposals whose QC is not from the previous view carry the TC of the previous view (T3).
public struct Proposal: Hashable, Sendable {
    public var block: Block
    public var timeoutCertificate: TimeoutCertificate?
    public private(set) var bytes: [UInt8]

    public init(block: Block, timeoutCertificate: TimeoutCertificate? = nil, signer: MessageSigner) {
        precondition(signer.principal == .replica(block.proposer), "a proposal is signed by its proposer")
        var w = ByteWriter(capacity: block.encoded.count + 80)
        w.u8(HotStuffWireTag.proposal)
        block.encode(into: &w)
        w.bool(timeoutCertificate != nil)
        timeoutCertificate?.encode(into: &w)
        self.block = block
        self.timeoutCertificate = timeoutCertificate
        bytes = signer.sealed(&w, domain: HotStuffDomain.proposal)
    }

    init(from r: inout ByteReader) throws(DecodeError) {
        block = try Block.decode(from: &r)
        timeoutCertificate = try r.bool("proposal has tc") ? try TimeoutCertificate.decode(from: &r) : nil
        _ = try r.signature("proposal signature")
        try r.expectEnd()
        bytes = r.bytes
    }

    func verify(_ verifier: SignatureVerifier) -> Bool {
        verifier.verifySealed(bytes, domain: HotStuffDomain.proposal, signer: .replica(block.proposer))
    }
}

/// ⟨VOTE, view, digest⟩σvoter, sent to the leader of the next view (Alg. 3 `onReceiveProposal`).
/// The signature covers only `view ‖ digest`, so n−f of them form a QC (H-Q1).
public struct Vote: Hashable, Sendable {
    public var view: UInt64
    public var block: Digest
    public var voter: ReplicaID
    public var signature: Signature

    public init(view: UInt64, block: Digest, signer: MessageSigner) {
        guard case .replica(let voter) = signer.principal else { preconditionFailure("votes are signed by replicas") }
        self.view = view
        self.block = block
        self.voter = voter
        let statement = QuorumCertificate.voteStatement(view: view, block: block)
        signature = signer.sign(domain: HotStuffDomain.vote, statement[...])
    }

    init(view: UInt64, block: Digest, voter: ReplicaID, signature: Signature) {
        self.view = view
        self.block = block
        self.voter = voter
        self.signature = signature
    }

    public var bytes: [UInt8] {
        var w = ByteWriter(capacity: 1 + 8 + 32 + 4 + 64)
        w.u8(HotStuffWireTag.vote)
        w.u64(view)
        w.digest(block)
        w.u32(UInt32(voter))
        w.signature(signature)
        return w.bytes
    }

    init(from r: inout ByteReader) throws(DecodeError) {
        view = try r.u64("vote view")
        block = try r.digest("vote block")
        voter = Int(try r.u32("vote voter"))
        guard voter < HotStuffLimits.replicasMax else { throw .valueOutOfRange(field: "vote voter", value: UInt64(voter)) }
        signature = try r.signature("vote signature")
        try r.expectEnd()
    }

    func verify(_ verifier: SignatureVerifier) -> Bool {
        let statement = QuorumCertificate.voteStatement(view: view, block: block)
        return verifier.verify(signature, domain: HotStuffDomain.vote, message: statement[...], signer: .replica(voter))
    }
}

/// ⟨NEW-VIEW, view, highQC, lastVote?⟩σsender: chained HotStuff's pacemaker message, sent to the leader
/// of `view` when the sender leaves `view − 1` (Yin et al. Alg. 5 `onNextSyncView`; P5). It carries the
/// sender's last vote if that vote is newer than its highQC, so a QC whose collector (the next leader)
/// crashed can still form at the leader after it (P8); without this, round-robin chained HotStuff at
/// n = 4 with one crashed replica never sees three consecutive certified views.
public struct NewView: Hashable, Sendable {
    public var view: UInt64
    public var sender: ReplicaID
    public var highQC: QuorumCertificate
    public var lastVote: Vote?
    public private(set) var bytes: [UInt8]

    public init(view: UInt64, highQC: QuorumCertificate, lastVote: Vote? = nil, signer: MessageSigner) {
        guard case .replica(let sender) = signer.principal else { preconditionFailure("new-views are signed by replicas") }
        precondition(lastVote.map { $0.voter == sender } ?? true, "a new-view carries only its sender's vote")
        var w = ByteWriter(capacity: 200 + highQC.signatureCount * 68)
        w.u8(HotStuffWireTag.newView)
        w.u64(view)
        w.u32(UInt32(sender))
        highQC.encode(into: &w)
        w.bool(lastVote != nil)
        if let v = lastVote {
            w.u64(v.view)
            w.digest(v.block)
            w.signature(v.signature)
        }
        self.view = view
        self.sender = sender
        self.highQC = highQC
        self.lastVote = lastVote
        bytes = signer.sealed(&w, domain: HotStuffDomain.newView)
    }

    init(from r: inout ByteReader) throws(DecodeError) {
        view = try r.u64("new-view view")
        sender = Int(try r.u32("new-view sender"))
        guard sender < HotStuffLimits.replicasMax else { throw .valueOutOfRange(field: "new-view sender", value: UInt64(sender)) }
        highQC = try QuorumCertificate.decode(from: &r)
        if try r.bool("new-view has vote") {
            lastVote = Vote(view: try r.u64("new-view vote view"), block: try r.digest("new-view vote block"), voter: sender,
                            signature: try r.signature("new-view vote signature"))
        } else {
            lastVote = nil
        }
        _ = try r.signature("new-view signature")
        try r.expectEnd()
        bytes = r.bytes
    }

    func verify(_ verifier: SignatureVerifier) -> Bool {
        verifier.verifySealed(bytes, domain: HotStuffDomain.newView, signer: .replica(sender))
    }
}

/// ⟨TIMEOUT, view, highQC, highTC?⟩: two-chain's pacemaker message, broadcast when `view` times out
/// (Jolteon §4; T1). The signature covers `view ‖ highQC.view` only, so n−f of them form a TC. The
/// sender's highest TC rides along unsigned (it is self-certifying), so replicas that missed the
/// timeouts of an earlier view catch up (P3, DiemBFT's `last_round_tc`).
public struct Timeout: Hashable, Sendable {
    public var view: UInt64
    public var sender: ReplicaID
    public var highQC: QuorumCertificate
    public var highTC: TimeoutCertificate?
    public var signature: Signature

    public init(view: UInt64, highQC: QuorumCertificate, highTC: TimeoutCertificate? = nil, signer: MessageSigner) {
        guard case .replica(let sender) = signer.principal else { preconditionFailure("timeouts are signed by replicas") }
        self.view = view
        self.sender = sender
        self.highQC = highQC
        self.highTC = highTC
        let statement = TimeoutCertificate.timeoutStatement(view: view, highQCView: highQC.view)
        signature = signer.sign(domain: HotStuffDomain.timeout, statement[...])
    }

    public var bytes: [UInt8] {
        var w = ByteWriter(capacity: 200 + highQC.signatureCount * 68 + (highTC?.entries.count ?? 0) * 76)
        w.u8(HotStuffWireTag.timeout)
        w.u64(view)
        w.u32(UInt32(sender))
        highQC.encode(into: &w)
        w.bool(highTC != nil)
        highTC?.encode(into: &w)
        w.signature(signature)
        return w.bytes
    }

    init(from r: inout ByteReader) throws(DecodeError) {
        view = try r.u64("timeout view")
        sender = Int(try r.u32("timeout sender"))
        guard sender < HotStuffLimits.replicasMax else { throw .valueOutOfRange(field: "timeout sender", value: UInt64(sender)) }
        highQC = try QuorumCertificate.decode(from: &r)
        highTC = try r.bool("timeout has tc") ? try TimeoutCertificate.decode(from: &r) : nil
        signature = try r.signature("timeout signature")
        try r.expectEnd()
    }

    var entry: TimeoutCertificate.Entry { .init(signer: sender, highQCView: highQC.view, signature: signature) }

    func verify(_ verifier: SignatureVerifier) -> Bool {
        let statement = TimeoutCertificate.timeoutStatement(view: view, highQCView: highQC.view)
        return verifier.verify(signature, domain: HotStuffDomain.timeout, message: statement[...], signer: .replica(sender))
    }
}

/// ⟨BLOCK-REQUEST, digest, stopHeight⟩: asks a peer for `digest` and its ancestors above `stopHeight` (S1).
/// Unsigned: the answer is authenticated by digest links, not by who sent it.
public struct BlockRequest: Hashable, Sendable {
    public var block: Digest
    public var stopHeight: UInt64
    public init(block: Digest, stopHeight: UInt64) {
        self.block = block
        self.stopHeight = stopHeight
    }
    public var bytes: [UInt8] {
        var w = ByteWriter(capacity: 41)
        w.u8(HotStuffWireTag.blockRequest)
        w.digest(block)
        w.u64(stopHeight)
        return w.bytes
    }
    init(from r: inout ByteReader) throws(DecodeError) {
        block = try r.digest("block-request block")
        stopHeight = try r.u64("block-request stop height")
        try r.expectEnd()
    }
}

/// ⟨BLOCK-RESPONSE, blocks⟩: the requested block first, then its ancestors in descending height (S2).
public struct BlockResponse: Hashable, Sendable {
    public var blocks: [Block]
    public init(blocks: [Block]) { self.blocks = blocks }
    public var bytes: [UInt8] {
        var w = ByteWriter(capacity: blocks.reduce(8) { $0 + $1.encoded.count })
        w.u8(HotStuffWireTag.blockResponse)
        w.u32(UInt32(blocks.count))
        for b in blocks { b.encode(into: &w) }
        return w.bytes
    }
    init(from r: inout ByteReader) throws(DecodeError) {
        let count = try r.count("block-response blocks", max: HotStuffLimits.blocksPerResponseMax, minElementSize: 8 + 8 + 32 + 4 + 44 + 4)
        var blocks: [Block] = []
        blocks.reserveCapacity(count)
        for _ in 0..<count { blocks.append(try Block.decode(from: &r)) }
        try r.expectEnd()
        self.blocks = blocks
    }
}

/// ⟨SYNC, highQC, highTC?, announcements⟩: what proves the sender's view, sent only as P12's answer to a
/// replica that is behind (DiemBFT v4 / Jolteon `SyncInfo`). Two-chain carries the highest TC; chained
/// carries the signed NEW-VIEWs (P10) the sender holds for views the laggard asked to enter, strictly
/// increasing by sender. Unsigned: the certificates are self-certifying and each announcement is signed
/// by its own sender, so who relays them does not matter. A SYNC is never answered, so sync answers
/// cannot ping-pong.
public struct SyncInfo: Hashable, Sendable {
    public var highQC: QuorumCertificate
    public var highTC: TimeoutCertificate?
    public var announcements: [NewView]
    /// Largest encoded NEW-VIEW a SYNC may embed (a NEW-VIEW holds one QC and one vote).
    static let announcementBytesMax = 1 << 20

    public init(highQC: QuorumCertificate, highTC: TimeoutCertificate?, announcements: [NewView] = []) {
        precondition(zip(announcements, announcements.dropFirst()).allSatisfy { $0.sender < $1.sender },
                     "announcements are strictly increasing by sender")
        self.highQC = highQC
        self.highTC = highTC
        self.announcements = announcements
    }

    public var bytes: [UInt8] {
        var w = ByteWriter(capacity: 64 + highQC.signatureCount * 68 + (highTC?.entries.count ?? 0) * 76
                           + announcements.reduce(0) { $0 + 4 + $1.bytes.count })
        w.u8(HotStuffWireTag.syncInfo)
        highQC.encode(into: &w)
        w.bool(highTC != nil)
        highTC?.encode(into: &w)
        w.u32(UInt32(announcements.count))
        for a in announcements { w.lengthPrefixed(a.bytes) }
        return w.bytes
    }

    init(from r: inout ByteReader) throws(DecodeError) {
        highQC = try QuorumCertificate.decode(from: &r)
        highTC = try r.bool("sync has tc") ? try TimeoutCertificate.decode(from: &r) : nil
        let count = try r.count("sync announcements", max: HotStuffLimits.replicasMax, minElementSize: 4 + 1 + 8 + 4)
        var announcements: [NewView] = []
        announcements.reserveCapacity(count)
        for _ in 0..<count {
            var inner = ByteReader(try r.lengthPrefixed("sync announcement", max: Self.announcementBytesMax))
            let tag = try inner.u8("sync announcement tag")
            guard tag == HotStuffWireTag.newView else { throw .unknownTag(field: "sync announcement", tag: tag) }
            let a = try NewView(from: &inner)
            if let last = announcements.last, a.sender <= last.sender {
                throw .valueOutOfRange(field: "sync announcement sender", value: UInt64(a.sender))
            }
            announcements.append(a)
        }
        self.announcements = announcements
        try r.expectEnd()
    }
}

/// Every message a HotStuff replica receives, decoded from untrusted bytes (never traps).
public enum HotStuffMessage: Hashable, Sendable {
    case proposal(Proposal)
    case vote(Vote)
    case newView(NewView)
    case timeout(Timeout)
    case blockRequest(BlockRequest)
    case blockResponse(BlockResponse)
    case syncInfo(SyncInfo)
    case request(ClientRequest)

    public init(decoding bytes: [UInt8]) throws(DecodeError) {
        var r = ByteReader(bytes)
        let tag = try r.u8("message tag")
        switch tag {
        case HotStuffWireTag.proposal: self = .proposal(try Proposal(from: &r))
        case HotStuffWireTag.vote: self = .vote(try Vote(from: &r))
        case HotStuffWireTag.newView: self = .newView(try NewView(from: &r))
        case HotStuffWireTag.timeout: self = .timeout(try Timeout(from: &r))
        case HotStuffWireTag.blockRequest: self = .blockRequest(try BlockRequest(from: &r))
        case HotStuffWireTag.blockResponse: self = .blockResponse(try BlockResponse(from: &r))
        case HotStuffWireTag.syncInfo: self = .syncInfo(try SyncInfo(from: &r))
        case ClientWireTag.request: self = .request(try ClientRequest(decoding: bytes))
        default: throw .unknownTag(field: "message", tag: tag)
        }
    }

    public var bytes: [UInt8] {
        switch self {
        case .proposal(let m): return m.bytes
        case .vote(let m): return m.bytes
        case .newView(let m): return m.bytes
        case .timeout(let m): return m.bytes
        case .blockRequest(let m): return m.bytes
        case .blockResponse(let m): return m.bytes
        case .syncInfo(let m): return m.bytes
        case .request(let m): return m.bytes
        }
    }
}

/// Describes HotStuff wire bytes (and client requests/replies) for traces; never traps on garbage.
public let describeHotStuffMessage: MessageDescriber = { bytes in
    if let client = describeClientMessage(bytes) { return client }
    guard let message = try? HotStuffMessage(decoding: bytes) else { return .undecodable }
    switch message {
    case .proposal(let p):
        return MessageInfo(type: "PROPOSAL", view: p.block.view, sequence: p.block.height, signer: .replica(p.block.proposer))
    case .vote(let v):
        return MessageInfo(type: "VOTE", view: v.view, signer: .replica(v.voter))
    case .newView(let m):
        return MessageInfo(type: "NEW-VIEW", view: m.view, signer: .replica(m.sender))
    case .timeout(let m):
        return MessageInfo(type: "TIMEOUT", view: m.view, signer: .replica(m.sender))
    case .blockRequest(let m):
        return MessageInfo(type: "BLOCK-REQUEST", sequence: m.stopHeight)
    case .blockResponse(let m):
        return MessageInfo(type: "BLOCK-RESPONSE", view: m.blocks.first?.view, sequence: m.blocks.first?.height)
    case .syncInfo(let m):
        return MessageInfo(type: "SYNC", view: max(m.highQC.view, m.highTC?.view ?? 0))
    case .request(let r):
        return MessageInfo(type: "REQUEST", sequence: r.timestamp, signer: .client(r.client))
    }
}

/// Checks the signatures HotStuff wire bytes carry (`MessageAuthenticator`): the outer one and those of
/// the QCs and TCs inside, without the quorum rules (H-Q1, T1), which the handlers apply.
public let authenticateHotStuffMessage: MessageAuthenticator = { bytes, verifier in
    guard let message = try? HotStuffMessage(decoding: bytes) else { return }
    func qc(_ c: QuorumCertificate) {
        guard c.view > 0 else { return }
        let statement = QuorumCertificate.voteStatement(view: c.view, block: c.block)
        _ = c.forEachSignature { signer, signature in
            _ = verifier.verify(signature, domain: HotStuffDomain.vote, message: statement[...], signer: .replica(signer))
            return true
        }
    }
    func tc(_ c: TimeoutCertificate) {
        for e in c.entries {
            let statement = TimeoutCertificate.timeoutStatement(view: c.view, highQCView: e.highQCView)
            _ = verifier.verify(e.signature, domain: HotStuffDomain.timeout, message: statement[...], signer: .replica(e.signer))
        }
    }
    switch message {
    case .proposal(let p):
        _ = p.verify(verifier)
        qc(p.block.justify)
        if let t = p.timeoutCertificate { tc(t) }
    case .vote(let v): _ = v.verify(verifier)
    case .newView(let n):
        _ = n.verify(verifier)
        qc(n.highQC)
    case .timeout(let t):
        _ = t.verify(verifier)
        qc(t.highQC)
        if let h = t.highTC { tc(h) }
    case .blockRequest, .blockResponse, .syncInfo, .request: break
    }
}
