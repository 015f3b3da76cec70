import BFTCore

/// Signing domains; one per signed statement so no signature can be replayed as another kind.
enum HotStuffDomain {
    static let proposal = SigningDomain("bftsim/hotstuff/v1/PROPOSAL")
    static let vote = SigningDomain("bftsim/hotstuff/v1/VOTE")
    static let newView = SigningDomain("bftsim/hotstuff/v1/NEW-VIEW")
    static let timeout = SigningDomain("bftsim/hotstuff/v1/TIMEOUT")
}

/// A quorum certificate: n−f distinct replicas' signed votes on (view, block digest) (Yin et al. §4.1;
/// Specs/HotStuff.md H-Q1). Signatures are sorted by signer, so the encoding is canonical.
public struct QuorumCertificate: Hashable, Sendable, CustomStringConvertible {
    public var view: UInt64
    public var block: Digest
    /// The signatures in wire form, `(u32 signer ‖ 64-byte signature)*` sorted by signer. A decoded QC
    /// shares these bytes with the message it came from: at n=256 a QC holds 171 signatures and every
    /// replica keeps a copy of every retained block, so one shared buffer instead of an array per
    /// replica is what keeps memory per replica small (issue 19).
    private(set) var packed: ArraySlice<UInt8>
    /// Number of signatures in `packed`.
    public private(set) var signatureCount: Int
    static let entrySize = 4 + Signature.byteCount

    public init(view: UInt64, block: Digest, signatures: [(signer: ReplicaID, signature: Signature)]) {
        self.view = view
        self.block = block
        (packed, signatureCount) = Self.pack(signatures)
    }

    private init(view: UInt64, block: Digest, packed: ArraySlice<UInt8>, count: Int) {
        self.view = view
        self.block = block
        self.packed = packed
        signatureCount = count
    }

    private static func pack(_ signatures: [(signer: ReplicaID, signature: Signature)]) -> (ArraySlice<UInt8>, Int) {
        var w = ByteWriter(capacity: signatures.count * entrySize)
        for s in signatures.sorted(by: { $0.signer < $1.signer }) {
            w.u32(UInt32(truncatingIfNeeded: s.signer))
            w.signature(s.signature)
        }
        return (w.bytes[...], signatures.count)
    }

    /// The signatures, sorted by signer (decoded from `packed` on each read; hot paths use `forEachSignature`).
    public var signatures: [(signer: ReplicaID, signature: Signature)] {
        get {
            var out: [(signer: ReplicaID, signature: Signature)] = []
            out.reserveCapacity(signatureCount)
            _ = forEachSignature { out.append(($0, $1)); return true }
            return out
        }
        set { (packed, signatureCount) = Self.pack(newValue) }
    }

    /// Calls `body` with each (signer, signature) in signer order until it returns false; returns
    /// whether every call returned true.
    @inline(__always)
    func forEachSignature(_ body: (ReplicaID, Signature) -> Bool) -> Bool {
        packed.withUnsafeBytes { raw in
            var offset = 0
            for _ in 0..<signatureCount {
                let signer = Int(UInt32(bigEndian: raw.loadUnaligned(fromByteOffset: offset, as: UInt32.self)))
                let signature = Signature(words: raw.loadUnaligned(fromByteOffset: offset + 4, as: SIMD8<UInt64>.self))
                offset += Self.entrySize
                if !body(signer, signature) { return false }
            }
            return true
        }
    }

    /// The certificate of the genesis block (H-Q2): valid by definition, carries no signatures.
    public static let genesis = QuorumCertificate(view: 0, block: Block.genesis.digest, signatures: [])

    public var isGenesis: Bool { self == .genesis }
    public var description: String { "QC(v\(view), \(block.short), \(signatureCount) sigs)" }

    /// Bytes a vote signs: `view ‖ digest` (domain VOTE). The voter is the signer, not part of the bytes.
    public static func voteStatement(view: UInt64, block: Digest) -> [UInt8] {
        ByteWriter.encoding(capacity: 40) { $0.u64(view); $0.digest(block) }
    }

    public static func == (a: Self, b: Self) -> Bool {
        a.view == b.view && a.block == b.block && a.signatureCount == b.signatureCount && a.packed.elementsEqual(b.packed)
    }
    public func hash(into h: inout Hasher) {
        h.combine(view)
        h.combine(block)
        h.combine(signatureCount)
        packed.withUnsafeBytes { h.combine(bytes: $0) }
    }

    func encode(into w: inout ByteWriter) {
        w.u64(view)
        w.digest(block)
        w.u32(UInt32(signatureCount))
        w.raw(packed)
    }

    static func decode(from r: inout ByteReader) throws(DecodeError) -> QuorumCertificate {
        let view = try r.u64("qc view")
        let block = try r.digest("qc block")
        let count = try r.count("qc signatures", max: HotStuffLimits.replicasMax, minElementSize: entrySize)
        let start = r.offset
        var last = -1
        for _ in 0..<count {
            let signer = Int(try r.u32("qc signer"))
            guard signer < HotStuffLimits.replicasMax else { throw .valueOutOfRange(field: "qc signer", value: UInt64(signer)) }
            if last >= signer { throw .invalid("qc signers not strictly increasing") }
            last = signer
            try r.skip(Signature.byteCount, "qc signature")
        }
        return QuorumCertificate(view: view, block: block, packed: r.bytes[start..<r.offset], count: count)
    }

    /// H-Q1: the genesis QC, or at least `quorum` distinct signers in `0..<n`, each signature valid.
    func isValid(config: HotStuffConfig, verifier: SignatureVerifier) -> Bool {
        if view == 0 { return isGenesis }
        guard signatureCount >= config.quorum.quorum else { return false }
        let statement = QuorumCertificate.voteStatement(view: view, block: block)
        let check = {
            var previous = -1
            return forEachSignature { signer, signature in
                guard signer > previous, signer < config.n else { return false }
                previous = signer
                return verifier.verify(signature, domain: HotStuffDomain.vote, message: statement[...], signer: .replica(signer))
            }
        }
        // A small QC is cheaper to verify than to look up.
        guard signatureCount >= CertificateVerdicts.entriesMin else { return check() }
        // The context is everything the check reads besides the entries: the statement and n.
        var context = statement
        context.append(contentsOf: HotStuffDomain.vote.fingerprint)
        withUnsafeBytes(of: UInt32(truncatingIfNeeded: config.n).bigEndian) { context.append(contentsOf: $0) }
        return verifier.verifyCertificate(entries: packed, count: signatureCount, context: context, check)
    }
}

/// A timeout certificate: n−f distinct replicas' signed timeouts for one view, each naming the view of
/// the highest QC its signer held (Jolteon §4; DiemBFT v4 `TimeoutCertificate`; Specs/HotStuff.md T1).
public struct TimeoutCertificate: Hashable, Sendable, CustomStringConvertible {
    public struct Entry: Hashable, Sendable {
        public var signer: ReplicaID
        public var highQCView: UInt64
        public var signature: Signature
    }
    public var view: UInt64
    public var entries: [Entry]

    public init(view: UInt64, entries: [Entry]) {
        self.view = view
        self.entries = entries.sorted { $0.signer < $1.signer }
    }

    /// T2: the highest QC view any signer reported; a block justified by this TC must carry a QC at least this high.
    public var highQCViewMax: UInt64 { entries.map(\.highQCView).max() ?? 0 }
    public var description: String { "TC(v\(view), hqc≤\(highQCViewMax), \(entries.count) sigs)" }

    /// Bytes a timeout signs: `view ‖ highQCView` (domain TIMEOUT).
    public static func timeoutStatement(view: UInt64, highQCView: UInt64) -> [UInt8] {
        ByteWriter.encoding(capacity: 16) { $0.u64(view); $0.u64(highQCView) }
    }

    func encode(into w: inout ByteWriter) {
        w.u64(view)
        w.u32(UInt32(entries.count))
        for e in entries {
            w.u32(UInt32(e.signer))
            w.u64(e.highQCView)
            w.signature(e.signature)
        }
    }

    static func decode(from r: inout ByteReader) throws(DecodeError) -> TimeoutCertificate {
        let view = try r.u64("tc view")
        let count = try r.count("tc entries", max: HotStuffLimits.replicasMax, minElementSize: 12 + Signature.byteCount)
        var entries: [Entry] = []
        entries.reserveCapacity(count)
        for _ in 0..<count {
            let signer = Int(try r.u32("tc signer"))
            guard signer < HotStuffLimits.replicasMax else { throw .valueOutOfRange(field: "tc signer", value: UInt64(signer)) }
            if let last = entries.last, last.signer >= signer { throw .invalid("tc signers not strictly increasing") }
            entries.append(Entry(signer: signer, highQCView: try r.u64("tc high qc view"), signature: try r.signature("tc signature")))
        }
        return TimeoutCertificate(view: view, entries: entries)
    }

    /// T1: at least `quorum` distinct signers in `0..<n`, each timeout signature valid, and no signer
    /// claims a QC at or above the timed-out view.
    func isValid(config: HotStuffConfig, verifier: SignatureVerifier) -> Bool {
        guard view > 0, entries.count >= config.quorum.quorum else { return false }
        var previous = -1
        for e in entries {
            guard e.signer > previous, e.signer < config.n, e.highQCView < view else { return false }
            previous = e.signer
            let statement = TimeoutCertificate.timeoutStatement(view: view, highQCView: e.highQCView)
            guard verifier.verify(e.signature, domain: HotStuffDomain.timeout, message: statement[...], signer: .replica(e.signer)) else {
                return false
            }
        }
        return true
    }
}
