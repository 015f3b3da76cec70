import Testing
import BFTCore
import BFTCrypto
@testable import HotStuff

/// Issue 19: packed QCs, blocks that keep the bytes they were decoded from, and whole-certificate
/// verdicts keyed by the buffer — each must save memory or time without changing what is accepted.
@Suite("HotStuff scale representation")
struct ScaleRepresentationTests {
    static let n = 32

    /// A QC of n−f votes for (view, block), signed by the keyring's replicas.
    static func qc(_ keyring: Keyring, view: UInt64, block: Digest, config: HotStuffConfig) -> QuorumCertificate {
        let statement = QuorumCertificate.voteStatement(view: view, block: block)
        let sigs = (0..<config.quorum.quorum).reversed().map { r in
            (signer: r, signature: keyring.signer(for: .replica(r)).sign(domain: HotStuffDomain.vote, statement[...]))
        }
        return QuorumCertificate(view: view, block: block, signatures: sigs)
    }

    static func wire(_ qc: QuorumCertificate) -> [UInt8] {
        var w = ByteWriter(capacity: 64)
        qc.encode(into: &w)
        return w.bytes
    }

    @Test("a packed QC round-trips, keeps its signatures sorted, and re-encodes to the bytes it came from")
    func packedRoundTrip() throws {
        let config = HotStuffConfig(n: Self.n)
        let keyring = Keyring(scheme: .fast, seed: 7, replicas: Self.n, clients: 0)
        let original = Self.qc(keyring, view: 3, block: Digest.of([1, 2, 3]), config: config)
        #expect(original.signatures.map(\.signer) == Array(0..<config.quorum.quorum))
        let bytes = Self.wire(original)
        var r = ByteReader(bytes)
        let decoded = try QuorumCertificate.decode(from: &r)
        #expect(decoded == original)
        #expect(decoded.signatureCount == config.quorum.quorum)
        #expect(Self.wire(decoded) == bytes)
        var shortened = decoded
        shortened.signatures = Array(decoded.signatures.prefix(2))
        #expect(shortened.signatureCount == 2 && shortened != decoded)
    }

    @Test("a decoded block's encoding is the received bytes and its digest the sender's")
    func blockKeepsReceivedBytes() throws {
        let config = HotStuffConfig(n: Self.n)
        let keyring = Keyring(scheme: .fast, seed: 7, replicas: Self.n, clients: 0)
        let justify = Self.qc(keyring, view: 1, block: Block.genesis.digest, config: config)
        let block = Block(view: 2, parentHeight: 0, proposer: 1, justify: justify, requests: [])
        var w = ByteWriter(capacity: 64)
        block.encode(into: &w)
        var r = ByteReader(w.bytes)
        let decoded = try Block.decode(from: &r)
        #expect(decoded.digest == block.digest)
        #expect(Array(decoded.encoded) == Array(block.encoded))
        #expect(decoded.justify == justify)
    }

    @Test("the certificate verdict cache answers the same buffer again and still rejects a forged copy")
    func certificateVerdicts() throws {
        let config = HotStuffConfig(n: Self.n)
        let keyring = Keyring(scheme: .fast, seed: 7, replicas: Self.n, clients: 0)
        let good = Self.wire(Self.qc(keyring, view: 5, block: Digest.of([9]), config: config))
        var r1 = ByteReader(good)
        var r2 = ByteReader(good)
        let a = try QuorumCertificate.decode(from: &r1)
        let b = try QuorumCertificate.decode(from: &r2)  // another replica's copy of the same message
        #expect(a.isValid(config: config, verifier: keyring.verifier))
        let computed = keyring.stats.verified
        #expect(b.isValid(config: config, verifier: keyring.verifier))
        #expect(keyring.stats.verified == computed, "the second check of the same bytes computes nothing")
        #expect(keyring.stats.cacheHits >= config.quorum.quorum)
        // The same certificate with one signature bit flipped, in its own buffer: verified for real, rejected.
        var forged = good
        forged[forged.count - 1] ^= 1
        var r3 = ByteReader(forged)
        let c = try QuorumCertificate.decode(from: &r3)
        #expect(!c.isValid(config: config, verifier: keyring.verifier))
        #expect(keyring.stats.verified > computed)
    }
}
