import Testing
import BFTCore
@testable import BFTCrypto

private func hex(_ s: String) -> [UInt8] {
    var out: [UInt8] = []
    var it = s.utf8.makeIterator()
    while let a = it.next(), let b = it.next() {
        out.append(UInt8(String(decoding: [a, b], as: UTF8.self), radix: 16)!)
    }
    return out
}

@Suite("Signatures")
struct SignatureTests {
    static let domain = SigningDomain("bftsim/test/v1/A")
    static let otherDomain = SigningDomain("bftsim/test/v1/B")

    @Test("Ed25519 through libsodium matches RFC 8032 test vector 1")
    func rfc8032() {
        // Proves the system-library binding calls real Ed25519, not a stand-in.
        let kp = Ed25519KeyPair(seed: hex("9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60"))
        #expect(kp.publicKey == hex("d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a"))
        let sig = kp.sign([])
        #expect(sig.bytes == hex("e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e065224901555fb8821590a33bacc61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b"))
        #expect(Ed25519KeyPair.verify(sig, message: [], publicKey: kp.publicKey))
        #expect(!Ed25519KeyPair.verify(sig, message: [0], publicKey: kp.publicKey))
    }

    @Test("both schemes: valid signatures verify; changed bytes, wrong signer and wrong domain fail", arguments: SignatureScheme.allCases)
    func schemeBasics(scheme: SignatureScheme) {
        let ring = Keyring(scheme: scheme, seed: 5, replicas: 4, clients: 2)
        let msg: [UInt8] = Array("pre-prepare v=0 n=1".utf8)
        let s0 = ring.signer(for: .replica(0))
        let sig = s0.sign(domain: Self.domain, msg[...])
        let v = ring.verifier
        #expect(v.verify(sig, domain: Self.domain, message: msg[...], signer: .replica(0)))
        var tampered = msg
        tampered[3] ^= 1
        #expect(!v.verify(sig, domain: Self.domain, message: tampered[...], signer: .replica(0)))
        #expect(!v.verify(sig, domain: Self.domain, message: msg[...], signer: .replica(1)))
        #expect(!v.verify(sig, domain: Self.otherDomain, message: msg[...], signer: .replica(0)))
        #expect(!v.verify(sig, domain: Self.domain, message: msg[...], signer: .client(99)))
        #expect(ring.stats.signed == 1)
        #expect(ring.stats.failures == 4)
        // Signatures are deterministic per (key, domain, message) and differ across messages.
        #expect(s0.sign(domain: Self.domain, msg[...]) == sig)
        #expect(s0.sign(domain: Self.domain, tampered[...]) != sig)
    }

    @Test("a Byzantine replica holding only its own signer cannot produce a correct replica's signature", arguments: SignatureScheme.allCases)
    func unforgeable(scheme: SignatureScheme) {
        let ring = Keyring(scheme: scheme, seed: 5, replicas: 4, clients: 0)
        let msg: [UInt8] = [1, 2, 3]
        let byzantine = ring.signer(for: .replica(3))
        // Its best attempt: its own signature presented as replica 0's.
        let forged = byzantine.sign(domain: Self.domain, msg[...])
        #expect(!ring.verifier.verify(forged, domain: Self.domain, message: msg[...], signer: .replica(0)))
    }

    @Test("keys derive from the seed: same seed same keys, other seed other keys")
    func derivation() {
        let a = Keyring(scheme: .ed25519, seed: 1, replicas: 4, clients: 1)
        let b = Keyring(scheme: .ed25519, seed: 1, replicas: 4, clients: 1)
        let c = Keyring(scheme: .ed25519, seed: 2, replicas: 4, clients: 1)
        #expect(a.publicKey(of: .replica(2)) == b.publicKey(of: .replica(2)))
        #expect(a.publicKey(of: .replica(2)) != c.publicKey(of: .replica(2)))
        #expect(a.publicKey(of: .replica(0)) != a.publicKey(of: .replica(1)))
        let m: [UInt8] = [9]
        #expect(a.signer(for: .client(0)).sign(domain: Self.domain, m[...]) == b.signer(for: .client(0)).sign(domain: Self.domain, m[...]))
    }

    @Test("verification caches reuse a verdict only for the same bytes, domain, signer and signature", arguments: [SignatureScheme.ed25519, .fast])
    func cache(scheme: SignatureScheme) {
        // Soundness: Ed25519Verifier keys by content, so a forgery differs in bytes or signature and
        // misses; TagVerdicts (fast) keys by buffer identity and holds the buffer, so an equal address
        // means the same bytes and a forged copy lives elsewhere (Swift copies a shared array before
        // writing it).
        let ring = Keyring(scheme: scheme, seed: 3, replicas: 4, clients: 0)
        let msg: [UInt8] = Array(repeating: 7, count: 100)
        let sig = ring.signer(for: .replica(1)).sign(domain: Self.domain, msg[...])
        for _ in 0..<3 { #expect(ring.verifier.verify(sig, domain: Self.domain, message: msg[...], signer: .replica(1))) }
        #expect(ring.stats.verified == 1)
        #expect(ring.stats.cacheHits == 2)
        // The same array written: copy-on-write gives the writer a new buffer, checked afresh.
        var forged = msg
        forged[99] = 8
        #expect(!ring.verifier.verify(sig, domain: Self.domain, message: forged[...], signer: .replica(1)))
        // Other bounds / claimed signer / signature / domain over the same buffer: all computed, all fail.
        #expect(!ring.verifier.verify(sig, domain: Self.domain, message: msg[1...], signer: .replica(1)))
        #expect(!ring.verifier.verify(sig, domain: Self.domain, message: msg[...], signer: .replica(2)))
        var badSig = sig
        badSig.words[0] ^= 1
        #expect(!ring.verifier.verify(badSig, domain: Self.domain, message: msg[...], signer: .replica(1)))
        #expect(!ring.verifier.verify(sig, domain: SigningDomain("other"), message: msg[...], signer: .replica(1)))
        #expect(ring.stats.verified == 6)
        #expect(ring.stats.failures == 5)
        // A remembered failure stays a failure, and the good verdict still holds.
        #expect(!ring.verifier.verify(badSig, domain: Self.domain, message: msg[...], signer: .replica(1)))
        #expect(ring.verifier.verify(sig, domain: Self.domain, message: msg[...], signer: .replica(1)))
    }

    @Test("the fast verifier's computed and cached counts do not depend on where buffers were allocated")
    func tagCacheCountsAreDeterministic() {
        // Runs report these counts, so two processes of one scenario must agree on them: which checks
        // collide in TagVerdicts must follow from the inputs, not from addresses.
        func counts(padding: Int) -> (Int, Int) {
            let ring = Keyring(scheme: .fast, seed: 5, replicas: 4, clients: 0)
            var ballast: [[UInt8]] = []
            let messages: [[UInt8]] = (0..<600).map { i in
                ballast.append([UInt8](repeating: 0, count: padding + i % 7))  // moves the next buffer
                return [UInt8(i & 0xFF), UInt8(i >> 8)] + (0..<38).map { UInt8(truncatingIfNeeded: $0 &* 7 &+ i) }
            }
            let tags = messages.map { ring.signer(for: .replica(2)).sign(domain: Self.domain, $0[...]) }
            for round in 0..<3 {
                for i in stride(from: round, to: messages.count, by: 2) {
                    #expect(ring.verifier.verify(tags[i], domain: Self.domain, message: messages[i][...], signer: .replica(2)))
                }
            }
            return (ring.stats.verified, ring.stats.cacheHits)
        }
        let a = counts(padding: 1)
        #expect(a.1 > 0)
        for padding in [24, 200, 4096] { #expect(counts(padding: padding) == a) }
    }

    @Test("a MAC signer vouches for what it seals: its receiver computes nothing, and a forged copy is still checked")
    func sealVouching() {
        let ring = Keyring(scheme: .fast, seed: 9, replicas: 4, clients: 1)
        var w = ByteWriter()
        w.u8(0x21)
        w.u64(42)
        let sealed = ring.signer(for: .replica(1)).sealed(&w, domain: Self.domain)
        // The receiver gets the very buffer the signer sealed (as in the simulator): a hit, no tag computed.
        #expect(ring.verifier.verifySealed(sealed, domain: Self.domain, signer: .replica(1)))
        #expect(ring.stats.verified == 0)
        #expect(ring.stats.cacheHits == 1)
        // The vouch covers exactly that buffer, domain and signer: anything else is computed and fails.
        var forged = sealed
        forged[1] ^= 1
        #expect(!ring.verifier.verifySealed(forged, domain: Self.domain, signer: .replica(1)))
        #expect(!ring.verifier.verifySealed(sealed, domain: SigningDomain("other"), signer: .replica(1)))
        #expect(!ring.verifier.verifySealed(sealed, domain: Self.domain, signer: .replica(2)))
        #expect(ring.stats.verified == 3)
        // A copy of the bytes in another buffer (a live receiver's frame) is computed, and valid.
        let copy = Array(sealed[...])
        #expect(ring.verifier.verifySealed(copy, domain: Self.domain, signer: .replica(1)))
        #expect(ring.stats.verified == 4)
        // Ed25519 signers vouch for nothing: every first check is computed.
        let ed = Keyring(scheme: .ed25519, seed: 9, replicas: 4, clients: 1)
        var w2 = ByteWriter()
        w2.u8(0x21)
        let edSealed = ed.signer(for: .replica(1)).sealed(&w2, domain: Self.domain)
        #expect(ed.verifier.verifySealed(edSealed, domain: Self.domain, signer: .replica(1)))
        #expect(ed.stats.verified == 1)
    }

    @Test("the bounded cache is cleared when full without changing outcomes")
    func cacheBound() {
        let ring = Keyring(scheme: .ed25519, seed: 3, replicas: 1, clients: 0, verificationCacheMax: 4)
        let s = ring.signer(for: .replica(0))
        for i in 0..<20 {
            let m: [UInt8] = [UInt8(i)]
            let sig = s.sign(domain: Self.domain, m[...])
            #expect(ring.verifier.verify(sig, domain: Self.domain, message: m[...], signer: .replica(0)))
        }
        #expect(ring.stats.verified == 20)
    }
}

@Suite("Verification off the replica's thread (live mode)")
struct RecordedVerificationTests {
    @Test("results recorded on a worker enter the cache as computed: the replica's check is a hit with the same verdict")
    func recordedResultsAreHits() throws {
        let ring = Keyring(scheme: .ed25519, seed: 9, replicas: 4, clients: 1)
        let cache = try #require(ring.verificationCache)
        let msg = Array("prepare v=1 n=2".utf8)
        let good = ring.signer(for: .replica(1)).sign(domain: SignatureTests.domain, msg[...])
        // A well-formed signature under the wrong key (the `expensive` flood): it passes the cheap
        // canonical checks, so only a full verification rejects it.
        let forged = Keyring(scheme: .ed25519, seed: 10, replicas: 4, clients: 1).signer(for: .replica(1))
            .sign(domain: SignatureTests.domain, msg[...])
        let recorder = RecordingVerifier(publicKeys: ring.allPublicKeys)
        #expect(recorder.verify(good, domain: SignatureTests.domain, message: msg[...], signer: .replica(1)))
        #expect(!recorder.verify(forged, domain: SignatureTests.domain, message: msg[...], signer: .replica(1)))
        #expect(recorder.computed == 2)
        cache.remember(recorder.drain())
        #expect(recorder.drain().isEmpty)

        let computedBefore = ring.stats.verified
        #expect(ring.verifier.verify(good, domain: SignatureTests.domain, message: msg[...], signer: .replica(1)))
        #expect(!ring.verifier.verify(forged, domain: SignatureTests.domain, message: msg[...], signer: .replica(1)))
        #expect(ring.stats.verified == computedBefore, "a recorded result was computed again on the replica's thread")
        #expect(ring.stats.cacheHits == 2)
        #expect(ring.stats.preverified == 2)
        // A result is keyed by the exact bytes: the good signature over other bytes is not a hit and fails.
        var other = msg
        other[0] ^= 1
        #expect(!ring.verifier.verify(good, domain: SignatureTests.domain, message: other[...], signer: .replica(1)))
        #expect(ring.stats.verified == computedBefore + 1)
    }

    @Test("the recorder keeps its own cache: a QC carried by many messages is verified once on the worker")
    func recorderCaches() {
        let ring = Keyring(scheme: .ed25519, seed: 9, replicas: 4, clients: 1)
        let msg = Array("vote v=3".utf8)
        let sig = ring.signer(for: .replica(2)).sign(domain: SignatureTests.domain, msg[...])
        let recorder = RecordingVerifier(publicKeys: ring.allPublicKeys)
        for _ in 0..<5 { #expect(recorder.verify(sig, domain: SignatureTests.domain, message: msg[...], signer: .replica(2))) }
        #expect(recorder.computed == 1)
        #expect(recorder.drain().count == 5)
        // An unknown signer is rejected without a record (nothing to enter into the cache).
        #expect(!recorder.verify(sig, domain: SignatureTests.domain, message: msg[...], signer: .replica(9)))
        #expect(recorder.drain().isEmpty)
    }
}
