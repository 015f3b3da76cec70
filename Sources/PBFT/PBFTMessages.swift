import BFTCore

/// Wire tags of PBFT messages (1...63; clients use 0x40...0x4F, see `ClientWireTag`).
public enum PBFTWireTag {
    public static let prePrepare: UInt8 = 1
    public static let prepare: UInt8 = 2
    public static let commit: UInt8 = 3
    public static let checkpoint: UInt8 = 4
    public static let viewChange: UInt8 = 5
    public static let newView: UInt8 = 6
    public static let fetchState: UInt8 = 7
    public static let state: UInt8 = 8
    public static let fetchBatch: UInt8 = 9
    public static let batch: UInt8 = 10
}

/// Named bounds on every collection a PBFT message can carry, so decoding untrusted bytes never
/// allocates more than the input justifies and a replica's memory stays bounded.
public enum PBFTLimits {
    /// Largest cluster the codec accepts (replica ids are below it).
    public static let replicaCountMax = ProtocolLimits.replicasMax
    /// Requests in one PRE-PREPARE batch.
    public static let requestsPerBatchMax = ProtocolLimits.batchSizeMax
    /// Prepared certificates in one VIEW-CHANGE and re-proposals in one NEW-VIEW (≥ any window).
    public static let certificatesMax = ProtocolLimits.watermarkWindowMax
    /// Bytes of one embedded signed message (a request, a PRE-PREPARE with its batch, a VIEW-CHANGE).
    public static let embeddedMessageSizeMax = 1 << 28
    /// Bytes of a checkpointed state carried by STATE.
    public static let stateSizeMax = 1 << 30
}

/// Digest of a batch: BLAKE2b-256 over `u32 count ‖ digest of each client-signed request`.
///
/// The empty batch is PBFT's null request (Castro & Liskov §4.4), used to fill gaps after a view change.
public func batchDigest(_ requests: [ClientRequest]) -> Digest { batchDigest(requestDigests: requests.map(\.digest)) }

/// The same from the requests' digests (a PRE-PREPARE computes them once, at decoding).
public func batchDigest(requestDigests: [Digest]) -> Digest {
    var w = ByteWriter(capacity: 4 + requestDigests.count * Digest.byteCount)
    w.u32(UInt32(requestDigests.count))
    for d in requestDigests { w.digest(d) }
    return Digest.of(w.bytes)
}

// MARK: - Shared codec

/// A PBFT message signed by one replica. Its wire bytes are `tag ‖ fields ‖ u32 replica ‖ signature`,
/// sealed under `domain`; the signer is named inside the signed bytes, so a receiver checks the
/// signature against that replica's key (Castro & Liskov §2: every message is signed by its sender).
public protocol PBFTSignedMessage: Hashable, Sendable {
    static var domain: SigningDomain { get }
    /// The replica that signed the message.
    var replica: ReplicaID { get }
    /// The exact signed wire bytes.
    var bytes: [UInt8] { get }
}

extension PBFTSignedMessage {
    /// Checks the outer signature (embedded messages are checked by the handlers).
    public func verify(_ verifier: SignatureVerifier) -> Bool {
        verifier.verifySealed(bytes, domain: Self.domain, signer: .replica(replica))
    }
}

/// Writes `tag ‖ body ‖ u32 replica` and seals it with the signer's key; returns the bytes and the replica.
private func seal(_ tag: UInt8, _ domain: SigningDomain, capacity: Int, signer: MessageSigner,
                  _ body: (inout ByteWriter) -> Void) -> (bytes: [UInt8], replica: ReplicaID) {
    let replica = replicaOf(signer)
    var w = ByteWriter(capacity: capacity)
    w.u8(tag)
    body(&w)
    w.u32(UInt32(replica))
    return (signer.sealed(&w, domain: domain), replica)
}

private func replicaOf(_ signer: MessageSigner) -> ReplicaID {
    guard case .replica(let r) = signer.principal else { preconditionFailure("PBFT messages are signed by replicas") }
    return r
}

extension ByteReader {
    /// Opens `bytes` and checks its first byte is `tag`.
    init(_ bytes: [UInt8], tag expected: UInt8, _ field: String) throws(DecodeError) {
        self.init(bytes)
        let tag = try u8(field)
        guard tag == expected else { throw .unknownTag(field: field, tag: tag) }
    }

    mutating func replicaID(_ field: String) throws(DecodeError) -> ReplicaID {
        let r = Int(try u32(field))
        guard r < PBFTLimits.replicaCountMax else { throw .valueOutOfRange(field: field, value: UInt64(r)) }
        return r
    }

    /// Reads the signer and the trailing signature, and checks nothing follows them.
    mutating func signer(_ replicaField: String, _ signatureField: String) throws(DecodeError) -> ReplicaID {
        let replica = try replicaID(replicaField)
        _ = try signature(signatureField)
        try expectEnd()
        return replica
    }

    /// Reads a u32 count (at most `max`) and that many length-prefixed embedded signed messages.
    mutating func embedded<M>(_ countField: String, max: Int, _ field: String,
                              _ decode: ([UInt8]) throws(DecodeError) -> M) throws(DecodeError) -> [M] {
        try array(countField, max: max, minElementSize: 4) { (r: inout ByteReader) throws(DecodeError) -> M in
            try decode(try r.embedded(field))
        }
    }

    /// Reads a u32 count (at most `max`) and that many elements.
    mutating func array<M>(_ countField: String, max: Int, minElementSize: Int,
                           _ element: (inout ByteReader) throws(DecodeError) -> M) throws(DecodeError) -> [M] {
        let count = try count(countField, max: max, minElementSize: minElementSize)
        var elements: [M] = []
        elements.reserveCapacity(count)
        for _ in 0..<count { elements.append(try element(&self)) }
        return elements
    }

    /// Reads a length-prefixed embedded signed message's bytes.
    mutating func embedded(_ field: String) throws(DecodeError) -> [UInt8] {
        try lengthPrefixed(field, max: PBFTLimits.embeddedMessageSizeMax)
    }
}

extension ByteWriter {
    /// Writes a u32 count and each message's signed bytes, length-prefixed.
    mutating func embedded<M: PBFTSignedMessage>(_ messages: [M]) {
        u32(UInt32(messages.count))
        for m in messages { lengthPrefixed(m.bytes) }
    }
}

/// Wire tag, signing domain and decode-error field names of a message type whose layout it shares
/// with another (PREPARE and COMMIT; CHECKPOINT and FETCH-STATE). Built once per type, so decoding
/// never interpolates a field name. A class: reading `Kind.names.domain` through a generic message
/// type then costs one reference, not a copy of seven strings (it was 3% of a PBFT fuzz run).
public final class PBFTMessageNames: Sendable {
    let tag: UInt8
    let domain: SigningDomain
    let tagField, viewField, sequenceField, digestField, replicaField, signatureField: String

    init(_ tag: UInt8, _ name: String) {
        self.tag = tag
        domain = SigningDomain("bftsim/pbft/v1/\(name)")
        tagField = "\(name) tag"
        viewField = "\(name) view"
        sequenceField = "\(name) sequence"
        digestField = "\(name) digest"
        replicaField = "\(name) replica"
        signatureField = "\(name) signature"
    }
}

/// What distinguishes messages that share a layout.
public protocol PBFTMessageKind: Sendable {
    static var names: PBFTMessageNames { get }
}

// MARK: - Normal case (§4.2)

/// ⟨PRE-PREPARE, v, n, d⟩σp with the batch of client-signed requests (Castro & Liskov §4.2; rule N2).
public struct PrePrepare: PBFTSignedMessage {
    public static let domain = SigningDomain("bftsim/pbft/v1/PRE-PREPARE")
    public let view: UInt64
    public let sequence: UInt64
    public let digest: Digest
    public let requests: [ClientRequest]
    /// D(m) of each request, in batch order, computed once here: the batch-digest check and each
    /// execution's observation read them (a request's digest is not computed when it is decoded).
    public let requestDigests: [Digest]
    public let replica: ReplicaID
    /// The exact signed wire bytes.
    public let bytes: [UInt8]

    /// Whether the signed `digest` is D(m) of the batch, checked once where the PRE-PREPARE is built or
    /// decoded. Every backup reads it from the one decoded copy the simulation shares (`DecodeMemo`)
    /// instead of hashing the batch again (issue 19).
    public let batchDigestMatches: Bool

    /// Builds and signs a PRE-PREPARE. `digest` defaults to the batch digest; passing another one
    /// is for tests of the receiver's digest check.
    public init(view: UInt64, sequence: UInt64, requests: [ClientRequest], digest: Digest? = nil, signer: MessageSigner) {
        let digests = requests.map(\.digest)
        let computed = batchDigest(requestDigests: digests)
        let d = digest ?? computed
        let capacity = 128 + requests.reduce(0) { $0 + $1.bytes.count + 4 }
        (bytes, replica) = seal(PBFTWireTag.prePrepare, PrePrepare.domain, capacity: capacity, signer: signer) { w in
            w.u64(view)
            w.u64(sequence)
            w.digest(d)
            w.u32(UInt32(requests.count))
            for r in requests { r.encodeEmbedded(into: &w) }
        }
        self.view = view
        self.sequence = sequence
        self.digest = d
        self.requests = requests
        requestDigests = digests
        batchDigestMatches = d == computed
    }

    public init(decoding bytes: [UInt8]) throws(DecodeError) {
        var r = try ByteReader(bytes, tag: PBFTWireTag.prePrepare, "PRE-PREPARE tag")
        view = try r.u64("PRE-PREPARE view")
        sequence = try r.u64("PRE-PREPARE sequence")
        digest = try r.digest("PRE-PREPARE digest")
        requests = try r.array("PRE-PREPARE requests", max: PBFTLimits.requestsPerBatchMax, minElementSize: 4) {
            (r: inout ByteReader) throws(DecodeError) in try ClientRequest.decodeEmbedded(&r)
        }
        replica = try r.signer("PRE-PREPARE replica", "PRE-PREPARE signature")
        self.bytes = bytes
        requestDigests = requests.map(\.digest)
        batchDigestMatches = digest == batchDigest(requestDigests: requestDigests)
    }
}

/// ⟨PREPARE, v, n, d, i⟩σi and ⟨COMMIT, v, n, d, i⟩σi: one layout, two phases (Castro & Liskov §4.2).
public struct PBFTVote<Phase: PBFTMessageKind>: PBFTSignedMessage {
    public static var domain: SigningDomain { Phase.names.domain }
    public let view: UInt64
    public let sequence: UInt64
    public let digest: Digest
    public let replica: ReplicaID
    public let bytes: [UInt8]

    public init(view: UInt64, sequence: UInt64, digest: Digest, signer: MessageSigner) {
        (bytes, replica) = seal(Phase.names.tag, Phase.names.domain, capacity: 1 + 8 + 8 + 32 + 4 + 64, signer: signer) { w in
            w.u64(view)
            w.u64(sequence)
            w.digest(digest)
        }
        self.view = view
        self.sequence = sequence
        self.digest = digest
    }

    /// A vote rebuilt from the fields a log slot kept of it (`SlotVote`): the bytes are the signed wire
    /// bytes it was decoded from, so nothing is signed or checked again.
    init(stored vote: SlotVote, sequence: UInt64, replica: ReplicaID) {
        view = vote.view
        self.sequence = sequence
        digest = vote.digest
        self.replica = replica
        bytes = vote.bytes
    }

    public init(decoding bytes: [UInt8]) throws(DecodeError) {
        let names = Phase.names
        var r = try ByteReader(bytes, tag: names.tag, names.tagField)
        view = try r.u64(names.viewField)
        sequence = try r.u64(names.sequenceField)
        digest = try r.digest(names.digestField)
        replica = try r.signer(names.replicaField, names.signatureField)
        self.bytes = bytes
    }
}

/// The PREPARE phase (rule N3).
public enum PreparePhase: PBFTMessageKind { public static let names = PBFTMessageNames(PBFTWireTag.prepare, "PREPARE") }
/// The COMMIT phase (rule N4).
public enum CommitPhase: PBFTMessageKind { public static let names = PBFTMessageNames(PBFTWireTag.commit, "COMMIT") }

/// ⟨PREPARE, v, n, d, i⟩σi (Castro & Liskov §4.2; rule N3).
public typealias Prepare = PBFTVote<PreparePhase>
/// ⟨COMMIT, v, n, d, i⟩σi (Castro & Liskov §4.2; rule N4).
public typealias Commit = PBFTVote<CommitPhase>

// MARK: - Checkpoints (§4.3) and state requests (§5.3)

/// ⟨CHECKPOINT, n, d, i⟩σi and ⟨FETCH-STATE, n, d, i⟩σi: one layout naming a state digest at a sequence.
public struct PBFTStateReference<Kind: PBFTMessageKind>: PBFTSignedMessage {
    public static var domain: SigningDomain { Kind.names.domain }
    public let sequence: UInt64
    public let stateDigest: Digest
    public let replica: ReplicaID
    public let bytes: [UInt8]

    public init(sequence: UInt64, stateDigest: Digest, signer: MessageSigner) {
        (bytes, replica) = seal(Kind.names.tag, Kind.names.domain, capacity: 1 + 8 + 32 + 4 + 64, signer: signer) { w in
            w.u64(sequence)
            w.digest(stateDigest)
        }
        self.sequence = sequence
        self.stateDigest = stateDigest
    }

    public init(decoding bytes: [UInt8]) throws(DecodeError) {
        let names = Kind.names
        var r = try ByteReader(bytes, tag: names.tag, names.tagField)
        sequence = try r.u64(names.sequenceField)
        stateDigest = try r.digest(names.digestField)
        replica = try r.signer(names.replicaField, names.signatureField)
        self.bytes = bytes
    }
}

/// Replica i's state digest after executing sequence n (§4.3; rule K1).
public enum CheckpointKind: PBFTMessageKind { public static let names = PBFTMessageNames(PBFTWireTag.checkpoint, "CHECKPOINT") }
/// Replica i asks for the checkpointed state at sequence n with digest d (§5.3; rule S1).
public enum FetchStateKind: PBFTMessageKind { public static let names = PBFTMessageNames(PBFTWireTag.fetchState, "FETCH-STATE") }

/// ⟨CHECKPOINT, n, d, i⟩σi: replica i's state digest after executing sequence n (rule K1).
public typealias Checkpoint = PBFTStateReference<CheckpointKind>
/// ⟨FETCH-STATE, n, d, i⟩σi: replica i asks for the checkpointed state at sequence n with digest d (rule S1).
public typealias FetchState = PBFTStateReference<FetchStateKind>

// MARK: - View change (§4.4)

/// A prepared certificate (the set P_m of §4.4): a PRE-PREPARE and matching PREPAREs from distinct
/// backups, `quorum - 1` of them (2f when n = 3f+1). Not itself signed: each part is.
public struct PreparedCertificate: Hashable, Sendable {
    public let prePrepare: PrePrepare
    public let prepares: [Prepare]

    public init(prePrepare: PrePrepare, prepares: [Prepare]) {
        self.prePrepare = prePrepare
        self.prepares = prepares
    }

    func encode(into w: inout ByteWriter) {
        w.lengthPrefixed(prePrepare.bytes)
        w.embedded(prepares)
    }

    static func decode(_ r: inout ByteReader) throws(DecodeError) -> PreparedCertificate {
        let pp = try PrePrepare(decoding: try r.embedded("certificate PRE-PREPARE"))
        let prepares = try r.embedded("certificate PREPAREs", max: PBFTLimits.replicaCountMax, "certificate PREPARE",
                                      Prepare.init(decoding:))
        return PreparedCertificate(prePrepare: pp, prepares: prepares)
    }
}

/// ⟨VIEW-CHANGE, v+1, n, C, P, i⟩σi (Castro & Liskov §4.4; rule V1): the stable checkpoint `n` with
/// its digest and proof C (quorum CHECKPOINTs; empty for the genesis checkpoint 0), and a prepared
/// certificate for every sequence above it that replica i prepared (highest view it prepared in).
public struct ViewChange: PBFTSignedMessage {
    public static let domain = SigningDomain("bftsim/pbft/v1/VIEW-CHANGE")
    public let newView: UInt64
    public let stableSequence: UInt64
    public let stableDigest: Digest
    public let checkpointProof: [Checkpoint]
    public let preparedCertificates: [PreparedCertificate]
    public let replica: ReplicaID
    public let bytes: [UInt8]

    public init(newView: UInt64, stableSequence: UInt64, stableDigest: Digest, checkpointProof: [Checkpoint],
                preparedCertificates: [PreparedCertificate], signer: MessageSigner) {
        (bytes, replica) = seal(PBFTWireTag.viewChange, ViewChange.domain, capacity: 256, signer: signer) { w in
            w.u64(newView)
            w.u64(stableSequence)
            w.digest(stableDigest)
            w.embedded(checkpointProof)
            w.u32(UInt32(preparedCertificates.count))
            for p in preparedCertificates { p.encode(into: &w) }
        }
        self.newView = newView
        self.stableSequence = stableSequence
        self.stableDigest = stableDigest
        self.checkpointProof = checkpointProof
        self.preparedCertificates = preparedCertificates
    }

    public init(decoding bytes: [UInt8]) throws(DecodeError) {
        var r = try ByteReader(bytes, tag: PBFTWireTag.viewChange, "VIEW-CHANGE tag")
        newView = try r.u64("VIEW-CHANGE view")
        stableSequence = try r.u64("VIEW-CHANGE stable sequence")
        stableDigest = try r.digest("VIEW-CHANGE stable digest")
        checkpointProof = try r.embedded("VIEW-CHANGE checkpoint proof", max: PBFTLimits.replicaCountMax,
                                         "VIEW-CHANGE checkpoint", Checkpoint.init(decoding:))
        preparedCertificates = try r.array("VIEW-CHANGE certificates", max: PBFTLimits.certificatesMax, minElementSize: 8,
                                           PreparedCertificate.decode)
        replica = try r.signer("VIEW-CHANGE replica", "VIEW-CHANGE signature")
        self.bytes = bytes
    }
}

/// ⟨NEW-VIEW, v+1, V, O⟩σp (Castro & Liskov §4.4; rules V3–V5): the quorum of VIEW-CHANGEs V and the
/// re-proposed PRE-PREPAREs O (view v+1, signed by the new primary).
public struct NewView: PBFTSignedMessage {
    public static let domain = SigningDomain("bftsim/pbft/v1/NEW-VIEW")
    public let view: UInt64
    public let viewChanges: [ViewChange]
    public let prePrepares: [PrePrepare]
    public let replica: ReplicaID
    public let bytes: [UInt8]

    public init(view: UInt64, viewChanges: [ViewChange], prePrepares: [PrePrepare], signer: MessageSigner) {
        (bytes, replica) = seal(PBFTWireTag.newView, NewView.domain, capacity: 256, signer: signer) { w in
            w.u64(view)
            w.embedded(viewChanges)
            w.embedded(prePrepares)
        }
        self.view = view
        self.viewChanges = viewChanges
        self.prePrepares = prePrepares
    }

    public init(decoding bytes: [UInt8]) throws(DecodeError) {
        var r = try ByteReader(bytes, tag: PBFTWireTag.newView, "NEW-VIEW tag")
        view = try r.u64("NEW-VIEW view")
        viewChanges = try r.embedded("NEW-VIEW view changes", max: PBFTLimits.replicaCountMax,
                                     "NEW-VIEW view change", ViewChange.init(decoding:))
        prePrepares = try r.embedded("NEW-VIEW pre-prepares", max: PBFTLimits.certificatesMax,
                                     "NEW-VIEW pre-prepare", PrePrepare.init(decoding:))
        replica = try r.signer("NEW-VIEW replica", "NEW-VIEW signature")
        self.bytes = bytes
    }
}

// MARK: - State transfer (§5.3 / TOCS §6.2)

/// ⟨STATE, n, s, i⟩σi: the canonical checkpointed state `s` at sequence n (rule S2). The receiver
/// trusts it only if its digest matches a stable checkpoint certificate.
public struct CheckpointState: PBFTSignedMessage {
    public static let domain = SigningDomain("bftsim/pbft/v1/STATE")
    public let sequence: UInt64
    public let state: [UInt8]
    public let replica: ReplicaID
    public let bytes: [UInt8]

    public init(sequence: UInt64, state: [UInt8], signer: MessageSigner) {
        (bytes, replica) = seal(PBFTWireTag.state, CheckpointState.domain, capacity: 1 + 8 + 4 + state.count + 4 + 64, signer: signer) { w in
            w.u64(sequence)
            w.lengthPrefixed(state)
        }
        self.sequence = sequence
        self.state = state
    }

    public init(decoding bytes: [UInt8]) throws(DecodeError) {
        var r = try ByteReader(bytes, tag: PBFTWireTag.state, "STATE tag")
        sequence = try r.u64("STATE sequence")
        state = try r.lengthPrefixed("STATE state", max: PBFTLimits.stateSizeMax)
        replica = try r.signer("STATE replica", "STATE signature")
        self.bytes = bytes
    }
}

/// ⟨FETCH-BATCH, n, i⟩σi: replica i asks for the committed batch at sequence n (rule S4).
public struct FetchBatch: PBFTSignedMessage {
    public static let domain = SigningDomain("bftsim/pbft/v1/FETCH-BATCH")
    public let sequence: UInt64
    public let replica: ReplicaID
    public let bytes: [UInt8]

    public init(sequence: UInt64, signer: MessageSigner) {
        (bytes, replica) = seal(PBFTWireTag.fetchBatch, FetchBatch.domain, capacity: 1 + 8 + 4 + 64, signer: signer) { w in
            w.u64(sequence)
        }
        self.sequence = sequence
    }

    public init(decoding bytes: [UInt8]) throws(DecodeError) {
        var r = try ByteReader(bytes, tag: PBFTWireTag.fetchBatch, "FETCH-BATCH tag")
        sequence = try r.u64("FETCH-BATCH sequence")
        replica = try r.signer("FETCH-BATCH replica", "FETCH-BATCH signature")
        self.bytes = bytes
    }
}

/// ⟨BATCH, m, C, j⟩σj: a committed certificate — the PRE-PREPARE m and `quorum` matching COMMITs
/// from distinct replicas — sent by replica j in answer to FETCH-BATCH (rule S5). Self-certifying:
/// the COMMITs include f+1 correct replicas that prepared m, so m committed.
public struct CommittedBatch: PBFTSignedMessage {
    public static let domain = SigningDomain("bftsim/pbft/v1/BATCH")
    public let prePrepare: PrePrepare
    public let commits: [Commit]
    public let replica: ReplicaID
    public let bytes: [UInt8]

    public init(prePrepare: PrePrepare, commits: [Commit], signer: MessageSigner) {
        let capacity = 64 + prePrepare.bytes.count + commits.count * 130
        (bytes, replica) = seal(PBFTWireTag.batch, CommittedBatch.domain, capacity: capacity, signer: signer) { w in
            w.lengthPrefixed(prePrepare.bytes)
            w.embedded(commits)
        }
        self.prePrepare = prePrepare
        self.commits = commits
    }

    public init(decoding bytes: [UInt8]) throws(DecodeError) {
        var r = try ByteReader(bytes, tag: PBFTWireTag.batch, "BATCH tag")
        prePrepare = try PrePrepare(decoding: try r.embedded("BATCH pre-prepare"))
        commits = try r.embedded("BATCH commits", max: PBFTLimits.replicaCountMax, "BATCH commit", Commit.init(decoding:))
        replica = try r.signer("BATCH replica", "BATCH signature")
        self.bytes = bytes
    }
}

// MARK: - The message sum type

/// Every replica-to-replica PBFT message. Encoding is done by each message's signing initializer;
/// `decode` parses untrusted bytes (signatures are checked by the receiver with `verify`).
public enum PBFTMessage: Hashable, Sendable {
    case prePrepare(PrePrepare)
    case prepare(Prepare)
    case commit(Commit)
    case checkpoint(Checkpoint)
    case viewChange(ViewChange)
    case newView(NewView)
    case fetchState(FetchState)
    case state(CheckpointState)
    case fetchBatch(FetchBatch)
    case batch(CommittedBatch)

    /// Parses untrusted bytes. Never traps; allocation is bounded by the input length.
    public static func decode(_ bytes: [UInt8]) throws(DecodeError) -> PBFTMessage {
        guard let tag = bytes.first else { throw .truncated(field: "PBFT tag", needed: 1, remaining: 0) }
        switch tag {
        case PBFTWireTag.prePrepare: return .prePrepare(try PrePrepare(decoding: bytes))
        case PBFTWireTag.prepare: return .prepare(try Prepare(decoding: bytes))
        case PBFTWireTag.commit: return .commit(try Commit(decoding: bytes))
        case PBFTWireTag.checkpoint: return .checkpoint(try Checkpoint(decoding: bytes))
        case PBFTWireTag.viewChange: return .viewChange(try ViewChange(decoding: bytes))
        case PBFTWireTag.newView: return .newView(try NewView(decoding: bytes))
        case PBFTWireTag.fetchState: return .fetchState(try FetchState(decoding: bytes))
        case PBFTWireTag.state: return .state(try CheckpointState(decoding: bytes))
        case PBFTWireTag.fetchBatch: return .fetchBatch(try FetchBatch(decoding: bytes))
        case PBFTWireTag.batch: return .batch(try CommittedBatch(decoding: bytes))
        default: throw .unknownTag(field: "PBFT message", tag: tag)
        }
    }

    /// The signer, signed bytes and signing domain of the message inside. Read through a generic
    /// helper rather than as `any PBFTSignedMessage`: boxing a PRE-PREPARE in an existential allocated
    /// on every message handled (issue 19).
    public var sealed: (replica: ReplicaID, bytes: [UInt8], domain: SigningDomain) {
        switch self {
        case .prePrepare(let m): return Self.sealed(m)
        case .prepare(let m): return Self.sealed(m)
        case .commit(let m): return Self.sealed(m)
        case .checkpoint(let m): return Self.sealed(m)
        case .viewChange(let m): return Self.sealed(m)
        case .newView(let m): return Self.sealed(m)
        case .fetchState(let m): return Self.sealed(m)
        case .state(let m): return Self.sealed(m)
        case .fetchBatch(let m): return Self.sealed(m)
        case .batch(let m): return Self.sealed(m)
        }
    }

    @inline(__always)
    private static func sealed<M: PBFTSignedMessage>(_ m: M) -> (replica: ReplicaID, bytes: [UInt8], domain: SigningDomain) {
        (m.replica, m.bytes, M.domain)
    }

    /// The exact signed wire bytes.
    public var bytes: [UInt8] { sealed.bytes }

    /// The replica that signed the message.
    public var replica: ReplicaID { sealed.replica }

    /// Checks the outer signature (embedded messages are checked by the handlers).
    public func verify(_ verifier: SignatureVerifier) -> Bool {
        let s = sealed
        return verifier.verifySealed(s.bytes, domain: s.domain, signer: .replica(s.replica))
    }

    /// Trace description: the paper's type name, view, sequence and signer.
    public var info: MessageInfo {
        let signer = Principal.replica(replica)
        switch self {
        case .prePrepare(let m): return MessageInfo(type: "PRE-PREPARE", view: m.view, sequence: m.sequence, signer: signer)
        case .prepare(let m): return MessageInfo(type: "PREPARE", view: m.view, sequence: m.sequence, signer: signer)
        case .commit(let m): return MessageInfo(type: "COMMIT", view: m.view, sequence: m.sequence, signer: signer)
        case .checkpoint(let m): return MessageInfo(type: "CHECKPOINT", sequence: m.sequence, signer: signer)
        case .viewChange(let m): return MessageInfo(type: "VIEW-CHANGE", view: m.newView, sequence: m.stableSequence, signer: signer)
        case .newView(let m): return MessageInfo(type: "NEW-VIEW", view: m.view, signer: signer)
        case .fetchState(let m): return MessageInfo(type: "FETCH-STATE", sequence: m.sequence, signer: signer)
        case .state(let m): return MessageInfo(type: "STATE", sequence: m.sequence, signer: signer)
        case .fetchBatch(let m): return MessageInfo(type: "FETCH-BATCH", sequence: m.sequence, signer: signer)
        case .batch(let m): return MessageInfo(type: "BATCH", view: m.prePrepare.view, sequence: m.prePrepare.sequence, signer: signer)
        }
    }
}

/// Describes PBFT wire bytes (and client REQUEST/REPLY bytes) for traces. Never traps on garbage.
public let describePBFTMessage: MessageDescriber = { bytes in
    if let client = describeClientMessage(bytes) { return client }
    guard let message = try? PBFTMessage.decode(bytes) else { return .undecodable }
    return message.info
}

/// Checks the outer signature of PBFT wire bytes (`MessageAuthenticator`; the embedded certificates of
/// VIEW-CHANGE and NEW-VIEW are left to the handlers).
public let authenticatePBFTMessage: MessageAuthenticator = { bytes, verifier in
    guard let message = try? PBFTMessage.decode(bytes) else { return }
    _ = message.verify(verifier)
}
