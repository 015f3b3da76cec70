import BFTCore

/// A node of the block tree (Yin et al. §5, "node"): a batch of client requests, the digest of its
/// parent, its height and view, and the QC that justifies it (Specs/HotStuff.md B1).
///
/// The digest covers the whole canonical encoding, including the justify QC's signatures, so a chain
/// of digests authenticates every embedded certificate (S2).
public struct Block: Hashable, Sendable, CustomStringConvertible {
    /// The fields live in one immutable box, so copying a block (into the tree, a proposal, a chain
    /// walked at commit, a dictionary resize) is one retain instead of a 170-byte copy with three
    /// (issue 19: block copies and their retains were about 5 % of a chained-HotStuff run).
    private final class Fields: Sendable {
        let view: UInt64
        let height: UInt64
        let parent: Digest
        let proposer: ReplicaID
        let justify: QuorumCertificate
        let requests: [ClientRequest]
        /// D(m) of each request, in order, computed with the block: the simulator's receivers of a
        /// proposal share one decoded block (`DecodeMemo`), so n replicas executing it read these instead
        /// of each hashing every request (issue 19: 4 % of a chained-HotStuff run at n = 4).
        let requestDigests: [Digest]
        let encoded: ArraySlice<UInt8>
        let digest: Digest

        init(view: UInt64, height: UInt64, parent: Digest, proposer: ReplicaID, justify: QuorumCertificate,
             requests: [ClientRequest], encoded: ArraySlice<UInt8>, digest: Digest) {
            requestDigests = requests.map { $0.digest }
            self.view = view
            self.height = height
            self.parent = parent
            self.proposer = proposer
            self.justify = justify
            self.requests = requests
            self.encoded = encoded
            self.digest = digest
        }
    }
    private let fields: Fields

    public var view: UInt64 { fields.view }
    public var height: UInt64 { fields.height }
    public var parent: Digest { fields.parent }
    public var proposer: ReplicaID { fields.proposer }
    public var justify: QuorumCertificate { fields.justify }
    public var requests: [ClientRequest] { fields.requests }
    /// `requests.map(\.digest)`, computed once per block value.
    public var requestDigests: [Digest] { fields.requestDigests }
    /// Canonical encoding (without message tag) and its BLAKE2b-256 digest, computed once. A decoded
    /// block shares these bytes with the message it arrived in (every receiver of a broadcast proposal
    /// holds the same buffer), so a block costs its bytes once per simulation, not once per replica.
    public var encoded: ArraySlice<UInt8> { fields.encoded }
    public var digest: Digest { fields.digest }

    public init(view: UInt64, height: UInt64, parent: Digest, proposer: ReplicaID,
                justify: QuorumCertificate, requests: [ClientRequest]) {
        var w = ByteWriter(capacity: 128 + requests.reduce(0) { $0 + $1.bytes.count + 4 })
        w.u64(view)
        w.u64(height)
        w.digest(parent)
        w.u32(UInt32(proposer))
        justify.encode(into: &w)
        w.u32(UInt32(requests.count))
        for r in requests { r.encodeEmbedded(into: &w) }
        self.init(view: view, height: height, parent: parent, proposer: proposer, justify: justify, requests: requests,
                  encoded: w.bytes[...])
    }

    /// A block whose canonical encoding is `encoded` (built above, or the bytes it was decoded from).
    private init(view: UInt64, height: UInt64, parent: Digest, proposer: ReplicaID, justify: QuorumCertificate,
                 requests: [ClientRequest], encoded: ArraySlice<UInt8>) {
        fields = Fields(view: view, height: height, parent: parent, proposer: proposer, justify: justify,
                        requests: requests, encoded: encoded, digest: Digest.of(encoded))
    }

    /// The root of every tree: view 0, height 0, no requests, justified by a placeholder QC on the zero digest.
    public static let genesis = Block(view: 0, height: 0, parent: .zero, proposer: 0,
                                      justify: QuorumCertificate(view: 0, block: .zero, signatures: []), requests: [])

    /// Creates the block a leader proposes on `justify` (B1: its parent is the block `justify` certifies).
    public init(view: UInt64, parentHeight: UInt64, proposer: ReplicaID, justify: QuorumCertificate, requests: [ClientRequest]) {
        self.init(view: view, height: parentHeight + 1, parent: justify.block, proposer: proposer, justify: justify, requests: requests)
    }

    public var description: String { "B(v\(view) h\(height) \(digest.short) ← \(parent.short))" }

    public static func == (a: Block, b: Block) -> Bool { a.digest == b.digest && a.encoded == b.encoded }
    public func hash(into h: inout Hasher) { h.combine(digest) }

    func encode(into w: inout ByteWriter) { w.raw(encoded) }

    static func decode(from r: inout ByteReader) throws(DecodeError) -> Block {
        let start = r.offset
        let view = try r.u64("block view")
        let height = try r.u64("block height")
        let parent = try r.digest("block parent")
        let proposer = Int(try r.u32("block proposer"))
        guard proposer < HotStuffLimits.replicasMax else { throw .valueOutOfRange(field: "block proposer", value: UInt64(proposer)) }
        let justify = try QuorumCertificate.decode(from: &r)
        // A request is at least tag, client, timestamp, operation length and signature.
        let count = try r.count("block requests", max: HotStuffLimits.batchSizeMax, minElementSize: 4 + 1 + 4 + 8 + 4 + Signature.byteCount)
        var requests: [ClientRequest] = []
        requests.reserveCapacity(count)
        for _ in 0..<count { requests.append(try ClientRequest.decodeEmbedded(&r)) }
        // The fields read are the canonical encoding (fixed-width integers, canonical QC and requests),
        // so the bytes just read are the block's encoding: no re-encoding (`CodecTests` checks the round trip).
        return Block(view: view, height: height, parent: parent, proposer: proposer, justify: justify, requests: requests,
                     encoded: r.bytes[start..<r.offset])
    }

    /// B1: the shape every non-genesis block must have, checkable without its ancestors.
    var isWellFormed: Bool {
        guard height >= 1, view >= 1 else { return false }
        guard parent == justify.block else { return false }
        guard view > justify.view else { return false }
        return true
    }
}
