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
public func batchDigest(_ requests: [ClientRequest]) -> Digest {
    var w = ByteWriter(capacity: 4 + requests.count * Digest.byteCount)
    w.u32(UInt32(requests.count))
    for r in requests { w.digest(r.digest) }
    return Digest.of(w.bytes)
}

// MARK: - Shared decoding helpers

extension ByteReader {
    mutating func replicaID(_ field: String) throws(DecodeError) -> ReplicaID {
        let r = Int(try u32(field))
        guard r < PBFTLimits.replicaCountMax else { throw .valueOutOfRange(field: field, value: UInt64(r)) }
        return r
    }

    mutating func expectTag(_ expected: UInt8, _ field: String) throws(DecodeError) {
        let tag = try u8(field)
        guard tag == expected else { throw .unknownTag(field: field, tag: tag) }
    }

    /// Reads a length-prefixed embedded signed message's bytes.
    mutating func embedded(_ field: String) throws(DecodeError) -> [UInt8] {
        try lengthPrefixed(field, max: PBFTLimits.embeddedMessageSizeMax)
    }

    /// Reads the trailing signature and checks nothing follows it.
    mutating func sealEnd(_ field: String) throws(DecodeError) {
        _ = try signature(field)
        try expectEnd()
    }
}

extension SignatureVerifier {
    func verifyReplica(_ bytes: [UInt8], domain: SigningDomain, replica: ReplicaID) -> Bool {
        verifySealed(bytes, domain: domain, signer: .replica(replica))
    }
}

private func replicaOf(_ signer: MessageSigner) -> ReplicaID {
    guard case .replica(let r) = signer.principal else { preconditionFailure("PBFT messages are signed by replicas") }
    return r
}

// MARK: - Normal case (§4.2)

/// ⟨PRE-PREPARE, v, n, d⟩σp with the batch of client-signed requests (Castro & Liskov §4.2; rule N2).
public struct PrePrepare: Hashable, Sendable {
    public static let domain = SigningDomain("bftsim/pbft/v1/PRE-PREPARE")
    public let view: UInt64
    public let sequence: UInt64
    public let digest: Digest
    public let requests: [ClientRequest]
    public let replica: ReplicaID
    /// The exact signed wire bytes.
    public let bytes: [UInt8]

    /// Builds and signs a PRE-PREPARE. `digest` defaults to the batch digest; passing another one
    /// is for tests of the receiver's digest check.
    public init(view: UInt64, sequence: UInt64, requests: [ClientRequest], digest: Digest? = nil, signer: MessageSigner) {
        let d = digest ?? batchDigest(requests)
        let replica = replicaOf(signer)
        var w = ByteWriter(capacity: 128 + requests.reduce(0) { $0 + $1.bytes.count + 4 })
        w.u8(PBFTWireTag.prePrepare)
        w.u64(view)
        w.u64(sequence)
        w.digest(d)
        w.u32(UInt32(requests.count))
        for r in requests { r.encodeEmbedded(into: &w) }
        w.u32(UInt32(replica))
        bytes = signer.sealed(&w, domain: PrePrepare.domain)
        self.view = view
        self.sequence = sequence
        self.digest = d
        self.requests = requests
        self.replica = replica
    }

    public init(decoding bytes: [UInt8]) throws(DecodeError) {
        var r = ByteReader(bytes)
        try r.expectTag(PBFTWireTag.prePrepare, "PRE-PREPARE tag")
        view = try r.u64("PRE-PREPARE view")
        sequence = try r.u64("PRE-PREPARE sequence")
        digest = try r.digest("PRE-PREPARE digest")
        let count = try r.count("PRE-PREPARE requests", max: PBFTLimits.requestsPerBatchMax, minElementSize: 4)
        var requests: [ClientRequest] = []
        requests.reserveCapacity(count)
        for _ in 0..<count { requests.append(try ClientRequest.decodeEmbedded(&r)) }
        self.requests = requests
        replica = try r.replicaID("PRE-PREPARE replica")
        try r.sealEnd("PRE-PREPARE signature")
        self.bytes = bytes
    }

    public func verify(_ verifier: SignatureVerifier) -> Bool {
        verifier.verifyReplica(bytes, domain: PrePrepare.domain, replica: replica)
    }
}

/// The fields shared by PREPARE and COMMIT: ⟨·, v, n, d, i⟩σi.
public protocol PBFTVote: Hashable, Sendable {
    var view: UInt64 { get }
    var sequence: UInt64 { get }
    var digest: Digest { get }
    var replica: ReplicaID { get }
    var bytes: [UInt8] { get }
}

private func encodeVote(tag: UInt8, domain: SigningDomain, view: UInt64, sequence: UInt64, digest: Digest, signer: MessageSigner) -> [UInt8] {
    var w = ByteWriter(capacity: 1 + 8 + 8 + 32 + 4 + 64)
    w.u8(tag)
    w.u64(view)
    w.u64(sequence)
    w.digest(digest)
    w.u32(UInt32(replicaOf(signer)))
    return signer.sealed(&w, domain: domain)
}

/// Field names for decode errors, as literals (interpolating them on every decode would allocate).
private struct VoteFields {
    let tag, view, sequence, digest, replica, signature: String
    static let prepare = VoteFields(tag: "PREPARE tag", view: "PREPARE view", sequence: "PREPARE sequence",
                                    digest: "PREPARE digest", replica: "PREPARE replica", signature: "PREPARE signature")
    static let commit = VoteFields(tag: "COMMIT tag", view: "COMMIT view", sequence: "COMMIT sequence",
                                   digest: "COMMIT digest", replica: "COMMIT replica", signature: "COMMIT signature")
}

private func decodeVote(_ bytes: [UInt8], tag: UInt8, fields: VoteFields) throws(DecodeError) -> (UInt64, UInt64, Digest, ReplicaID) {
    var r = ByteReader(bytes)
    try r.expectTag(tag, fields.tag)
    let view = try r.u64(fields.view)
    let sequence = try r.u64(fields.sequence)
    let digest = try r.digest(fields.digest)
    let replica = try r.replicaID(fields.replica)
    try r.sealEnd(fields.signature)
    return (view, sequence, digest, replica)
}

/// ⟨PREPARE, v, n, d, i⟩σi (Castro & Liskov §4.2; rule N3).
public struct Prepare: PBFTVote {
    public static let domain = SigningDomain("bftsim/pbft/v1/PREPARE")
    public let view: UInt64
    public let sequence: UInt64
    public let digest: Digest
    public let replica: ReplicaID
    public let bytes: [UInt8]

    public init(view: UInt64, sequence: UInt64, digest: Digest, signer: MessageSigner) {
        bytes = encodeVote(tag: PBFTWireTag.prepare, domain: Prepare.domain, view: view, sequence: sequence, digest: digest, signer: signer)
        self.view = view
        self.sequence = sequence
        self.digest = digest
        replica = replicaOf(signer)
    }

    public init(decoding bytes: [UInt8]) throws(DecodeError) {
        let v = try decodeVote(bytes, tag: PBFTWireTag.prepare, fields: .prepare)
        view = v.0
        sequence = v.1
        digest = v.2
        replica = v.3
        self.bytes = bytes
    }

    public func verify(_ verifier: SignatureVerifier) -> Bool {
        verifier.verifyReplica(bytes, domain: Prepare.domain, replica: replica)
    }
}

/// ⟨COMMIT, v, n, d, i⟩σi (Castro & Liskov §4.2; rule N4).
public struct Commit: PBFTVote {
    public static let domain = SigningDomain("bftsim/pbft/v1/COMMIT")
    public let view: UInt64
    public let sequence: UInt64
    public let digest: Digest
    public let replica: ReplicaID
    public let bytes: [UInt8]

    public init(view: UInt64, sequence: UInt64, digest: Digest, signer: MessageSigner) {
        bytes = encodeVote(tag: PBFTWireTag.commit, domain: Commit.domain, view: view, sequence: sequence, digest: digest, signer: signer)
        self.view = view
        self.sequence = sequence
        self.digest = digest
        replica = replicaOf(signer)
    }

    public init(decoding bytes: [UInt8]) throws(DecodeError) {
        let v = try decodeVote(bytes, tag: PBFTWireTag.commit, fields: .commit)
        view = v.0
        sequence = v.1
        digest = v.2
        replica = v.3
        self.bytes = bytes
    }

    public func verify(_ verifier: SignatureVerifier) -> Bool {
        verifier.verifyReplica(bytes, domain: Commit.domain, replica: replica)
    }
}

// MARK: - Checkpoints (§4.3)

/// ⟨CHECKPOINT, n, d, i⟩σi: replica i's state digest after executing sequence n (rule K1).
public struct Checkpoint: Hashable, Sendable {
    public static let domain = SigningDomain("bftsim/pbft/v1/CHECKPOINT")
    public let sequence: UInt64
    public let stateDigest: Digest
    public let replica: ReplicaID
    public let bytes: [UInt8]

    public init(sequence: UInt64, stateDigest: Digest, signer: MessageSigner) {
        var w = ByteWriter(capacity: 1 + 8 + 32 + 4 + 64)
        w.u8(PBFTWireTag.checkpoint)
        w.u64(sequence)
        w.digest(stateDigest)
        replica = replicaOf(signer)
        w.u32(UInt32(replica))
        bytes = signer.sealed(&w, domain: Checkpoint.domain)
        self.sequence = sequence
        self.stateDigest = stateDigest
    }

    public init(decoding bytes: [UInt8]) throws(DecodeError) {
        var r = ByteReader(bytes)
        try r.expectTag(PBFTWireTag.checkpoint, "CHECKPOINT tag")
        sequence = try r.u64("CHECKPOINT sequence")
        stateDigest = try r.digest("CHECKPOINT digest")
        replica = try r.replicaID("CHECKPOINT replica")
        try r.sealEnd("CHECKPOINT signature")
        self.bytes = bytes
    }

    public func verify(_ verifier: SignatureVerifier) -> Bool {
        verifier.verifyReplica(bytes, domain: Checkpoint.domain, replica: replica)
    }
}

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
        w.u32(UInt32(prepares.count))
        for p in prepares { w.lengthPrefixed(p.bytes) }
    }

    static func decode(_ r: inout ByteReader) throws(DecodeError) -> PreparedCertificate {
        let pp = try PrePrepare(decoding: try r.embedded("certificate PRE-PREPARE"))
        let count = try r.count("certificate PREPAREs", max: PBFTLimits.replicaCountMax, minElementSize: 4)
        var prepares: [Prepare] = []
        prepares.reserveCapacity(count)
        for _ in 0..<count { prepares.append(try Prepare(decoding: try r.embedded("certificate PREPARE"))) }
        return PreparedCertificate(prePrepare: pp, prepares: prepares)
    }
}

/// ⟨VIEW-CHANGE, v+1, n, C, P, i⟩σi (Castro & Liskov §4.4; rule V1): the stable checkpoint `n` with
/// its digest and proof C (quorum CHECKPOINTs; empty for the genesis checkpoint 0), and a prepared
/// certificate for every sequence above it that replica i prepared (highest view it prepared in).
public struct ViewChange: Hashable, Sendable {
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
        var w = ByteWriter(capacity: 256)
        w.u8(PBFTWireTag.viewChange)
        w.u64(newView)
        w.u64(stableSequence)
        w.digest(stableDigest)
        w.u32(UInt32(checkpointProof.count))
        for c in checkpointProof { w.lengthPrefixed(c.bytes) }
        w.u32(UInt32(preparedCertificates.count))
        for p in preparedCertificates { p.encode(into: &w) }
        replica = replicaOf(signer)
        w.u32(UInt32(replica))
        bytes = signer.sealed(&w, domain: ViewChange.domain)
        self.newView = newView
        self.stableSequence = stableSequence
        self.stableDigest = stableDigest
        self.checkpointProof = checkpointProof
        self.preparedCertificates = preparedCertificates
    }

    public init(decoding bytes: [UInt8]) throws(DecodeError) {
        var r = ByteReader(bytes)
        try r.expectTag(PBFTWireTag.viewChange, "VIEW-CHANGE tag")
        newView = try r.u64("VIEW-CHANGE view")
        stableSequence = try r.u64("VIEW-CHANGE stable sequence")
        stableDigest = try r.digest("VIEW-CHANGE stable digest")
        let proofCount = try r.count("VIEW-CHANGE checkpoint proof", max: PBFTLimits.replicaCountMax, minElementSize: 4)
        var proof: [Checkpoint] = []
        proof.reserveCapacity(proofCount)
        for _ in 0..<proofCount { proof.append(try Checkpoint(decoding: try r.embedded("VIEW-CHANGE checkpoint"))) }
        checkpointProof = proof
        let certCount = try r.count("VIEW-CHANGE certificates", max: PBFTLimits.certificatesMax, minElementSize: 8)
        var certs: [PreparedCertificate] = []
        certs.reserveCapacity(certCount)
        for _ in 0..<certCount { certs.append(try PreparedCertificate.decode(&r)) }
        preparedCertificates = certs
        replica = try r.replicaID("VIEW-CHANGE replica")
        try r.sealEnd("VIEW-CHANGE signature")
        self.bytes = bytes
    }

    public func verify(_ verifier: SignatureVerifier) -> Bool {
        verifier.verifyReplica(bytes, domain: ViewChange.domain, replica: replica)
    }
}

/// ⟨NEW-VIEW, v+1, V, O⟩σp (Castro & Liskov §4.4; rules V3–V5): the quorum of VIEW-CHANGEs V and the
/// re-proposed PRE-PREPAREs O (view v+1, signed by the new primary).
public struct NewView: Hashable, Sendable {
    public static let domain = SigningDomain("bftsim/pbft/v1/NEW-VIEW")
    public let view: UInt64
    public let viewChanges: [ViewChange]
    public let prePrepares: [PrePrepare]
    public let replica: ReplicaID
    public let bytes: [UInt8]

    public init(view: UInt64, viewChanges: [ViewChange], prePrepares: [PrePrepare], signer: MessageSigner) {
        var w = ByteWriter(capacity: 256)
        w.u8(PBFTWireTag.newView)
        w.u64(view)
        w.u32(UInt32(viewChanges.count))
        for v in viewChanges { w.lengthPrefixed(v.bytes) }
        w.u32(UInt32(prePrepares.count))
        for p in prePrepares { w.lengthPrefixed(p.bytes) }
        replica = replicaOf(signer)
        w.u32(UInt32(replica))
        bytes = signer.sealed(&w, domain: NewView.domain)
        self.view = view
        self.viewChanges = viewChanges
        self.prePrepares = prePrepares
    }

    public init(decoding bytes: [UInt8]) throws(DecodeError) {
        var r = ByteReader(bytes)
        try r.expectTag(PBFTWireTag.newView, "NEW-VIEW tag")
        view = try r.u64("NEW-VIEW view")
        let vcCount = try r.count("NEW-VIEW view changes", max: PBFTLimits.replicaCountMax, minElementSize: 4)
        var vcs: [ViewChange] = []
        vcs.reserveCapacity(vcCount)
        for _ in 0..<vcCount { vcs.append(try ViewChange(decoding: try r.embedded("NEW-VIEW view change"))) }
        viewChanges = vcs
        let ppCount = try r.count("NEW-VIEW pre-prepares", max: PBFTLimits.certificatesMax, minElementSize: 4)
        var pps: [PrePrepare] = []
        pps.reserveCapacity(ppCount)
        for _ in 0..<ppCount { pps.append(try PrePrepare(decoding: try r.embedded("NEW-VIEW pre-prepare"))) }
        prePrepares = pps
        replica = try r.replicaID("NEW-VIEW replica")
        try r.sealEnd("NEW-VIEW signature")
        self.bytes = bytes
    }

    public func verify(_ verifier: SignatureVerifier) -> Bool {
        verifier.verifyReplica(bytes, domain: NewView.domain, replica: replica)
    }
}

// MARK: - State transfer (§5.3 / TOCS §6.2)

/// ⟨FETCH-STATE, n, d, i⟩σi: replica i asks for the checkpointed state at sequence n with digest d (rule S1).
public struct FetchState: Hashable, Sendable {
    public static let domain = SigningDomain("bftsim/pbft/v1/FETCH-STATE")
    public let sequence: UInt64
    public let stateDigest: Digest
    public let replica: ReplicaID
    public let bytes: [UInt8]

    public init(sequence: UInt64, stateDigest: Digest, signer: MessageSigner) {
        var w = ByteWriter(capacity: 1 + 8 + 32 + 4 + 64)
        w.u8(PBFTWireTag.fetchState)
        w.u64(sequence)
        w.digest(stateDigest)
        replica = replicaOf(signer)
        w.u32(UInt32(replica))
        bytes = signer.sealed(&w, domain: FetchState.domain)
        self.sequence = sequence
        self.stateDigest = stateDigest
    }

    public init(decoding bytes: [UInt8]) throws(DecodeError) {
        var r = ByteReader(bytes)
        try r.expectTag(PBFTWireTag.fetchState, "FETCH-STATE tag")
        sequence = try r.u64("FETCH-STATE sequence")
        stateDigest = try r.digest("FETCH-STATE digest")
        replica = try r.replicaID("FETCH-STATE replica")
        try r.sealEnd("FETCH-STATE signature")
        self.bytes = bytes
    }

    public func verify(_ verifier: SignatureVerifier) -> Bool {
        verifier.verifyReplica(bytes, domain: FetchState.domain, replica: replica)
    }
}

/// ⟨STATE, n, s, i⟩σi: the canonical checkpointed state `s` at sequence n (rule S2). The receiver
/// trusts it only if its digest matches a stable checkpoint certificate.
public struct CheckpointState: Hashable, Sendable {
    public static let domain = SigningDomain("bftsim/pbft/v1/STATE")
    public let sequence: UInt64
    public let state: [UInt8]
    public let replica: ReplicaID
    public let bytes: [UInt8]

    public init(sequence: UInt64, state: [UInt8], signer: MessageSigner) {
        var w = ByteWriter(capacity: 1 + 8 + 4 + state.count + 4 + 64)
        w.u8(PBFTWireTag.state)
        w.u64(sequence)
        w.lengthPrefixed(state)
        replica = replicaOf(signer)
        w.u32(UInt32(replica))
        bytes = signer.sealed(&w, domain: CheckpointState.domain)
        self.sequence = sequence
        self.state = state
    }

    public init(decoding bytes: [UInt8]) throws(DecodeError) {
        var r = ByteReader(bytes)
        try r.expectTag(PBFTWireTag.state, "STATE tag")
        sequence = try r.u64("STATE sequence")
        state = try r.lengthPrefixed("STATE state", max: PBFTLimits.stateSizeMax)
        replica = try r.replicaID("STATE replica")
        try r.sealEnd("STATE signature")
        self.bytes = bytes
    }

    public func verify(_ verifier: SignatureVerifier) -> Bool {
        verifier.verifyReplica(bytes, domain: CheckpointState.domain, replica: replica)
    }
}

/// ⟨FETCH-BATCH, n, i⟩σi: replica i asks for the committed batch at sequence n (rule S4).
public struct FetchBatch: Hashable, Sendable {
    public static let domain = SigningDomain("bftsim/pbft/v1/FETCH-BATCH")
    public let sequence: UInt64
    public let replica: ReplicaID
    public let bytes: [UInt8]

    public init(sequence: UInt64, signer: MessageSigner) {
        var w = ByteWriter(capacity: 1 + 8 + 4 + 64)
        w.u8(PBFTWireTag.fetchBatch)
        w.u64(sequence)
        replica = replicaOf(signer)
        w.u32(UInt32(replica))
        bytes = signer.sealed(&w, domain: FetchBatch.domain)
        self.sequence = sequence
    }

    public init(decoding bytes: [UInt8]) throws(DecodeError) {
        var r = ByteReader(bytes)
        try r.expectTag(PBFTWireTag.fetchBatch, "FETCH-BATCH tag")
        sequence = try r.u64("FETCH-BATCH sequence")
        replica = try r.replicaID("FETCH-BATCH replica")
        try r.sealEnd("FETCH-BATCH signature")
        self.bytes = bytes
    }

    public func verify(_ verifier: SignatureVerifier) -> Bool {
        verifier.verifyReplica(bytes, domain: FetchBatch.domain, replica: replica)
    }
}

/// ⟨BATCH, m, C, j⟩σj: a committed certificate — the PRE-PREPARE m and `quorum` matching COMMITs
/// from distinct replicas — sent by replica j in answer to FETCH-BATCH (rule S5). Self-certifying:
/// the COMMITs include f+1 correct replicas that prepared m, so m committed.
public struct CommittedBatch: Hashable, Sendable {
    public static let domain = SigningDomain("bftsim/pbft/v1/BATCH")
    public let prePrepare: PrePrepare
    public let commits: [Commit]
    public let replica: ReplicaID
    public let bytes: [UInt8]

    public init(prePrepare: PrePrepare, commits: [Commit], signer: MessageSigner) {
        var w = ByteWriter(capacity: 64 + prePrepare.bytes.count + commits.count * 130)
        w.u8(PBFTWireTag.batch)
        w.lengthPrefixed(prePrepare.bytes)
        w.u32(UInt32(commits.count))
        for c in commits { w.lengthPrefixed(c.bytes) }
        replica = replicaOf(signer)
        w.u32(UInt32(replica))
        bytes = signer.sealed(&w, domain: CommittedBatch.domain)
        self.prePrepare = prePrepare
        self.commits = commits
    }

    public init(decoding bytes: [UInt8]) throws(DecodeError) {
        var r = ByteReader(bytes)
        try r.expectTag(PBFTWireTag.batch, "BATCH tag")
        prePrepare = try PrePrepare(decoding: try r.embedded("BATCH pre-prepare"))
        let count = try r.count("BATCH commits", max: PBFTLimits.replicaCountMax, minElementSize: 4)
        var commits: [Commit] = []
        commits.reserveCapacity(count)
        for _ in 0..<count { commits.append(try Commit(decoding: try r.embedded("BATCH commit"))) }
        self.commits = commits
        replica = try r.replicaID("BATCH replica")
        try r.sealEnd("BATCH signature")
        self.bytes = bytes
    }

    public func verify(_ verifier: SignatureVerifier) -> Bool {
        verifier.verifyReplica(bytes, domain: CommittedBatch.domain, replica: replica)
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

    /// The exact signed wire bytes.
    public var bytes: [UInt8] {
        switch self {
        case .prePrepare(let m): return m.bytes
        case .prepare(let m): return m.bytes
        case .commit(let m): return m.bytes
        case .checkpoint(let m): return m.bytes
        case .viewChange(let m): return m.bytes
        case .newView(let m): return m.bytes
        case .fetchState(let m): return m.bytes
        case .state(let m): return m.bytes
        case .fetchBatch(let m): return m.bytes
        case .batch(let m): return m.bytes
        }
    }

    /// The replica that signed the message.
    public var replica: ReplicaID {
        switch self {
        case .prePrepare(let m): return m.replica
        case .prepare(let m): return m.replica
        case .commit(let m): return m.replica
        case .checkpoint(let m): return m.replica
        case .viewChange(let m): return m.replica
        case .newView(let m): return m.replica
        case .fetchState(let m): return m.replica
        case .state(let m): return m.replica
        case .fetchBatch(let m): return m.replica
        case .batch(let m): return m.replica
        }
    }

    /// Checks the outer signature (embedded messages are checked by the handlers).
    public func verify(_ verifier: SignatureVerifier) -> Bool {
        switch self {
        case .prePrepare(let m): return m.verify(verifier)
        case .prepare(let m): return m.verify(verifier)
        case .commit(let m): return m.verify(verifier)
        case .checkpoint(let m): return m.verify(verifier)
        case .viewChange(let m): return m.verify(verifier)
        case .newView(let m): return m.verify(verifier)
        case .fetchState(let m): return m.verify(verifier)
        case .state(let m): return m.verify(verifier)
        case .fetchBatch(let m): return m.verify(verifier)
        case .batch(let m): return m.verify(verifier)
        }
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
