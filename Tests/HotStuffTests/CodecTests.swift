import Testing
import BFTCore
import BFTCrypto
@testable import HotStuff

/// Random values of every message type, from the project's deterministic PRNG.
struct MessageFactory {
    var rng: DeterministicRNG
    let ring = Keyring(scheme: .fast, seed: 3, replicas: 7, clients: 3)

    mutating func digest() -> Digest { Digest(bytes: (0..<32).map { _ in UInt8(truncatingIfNeeded: rng.next()) }) }
    mutating func signature() -> Signature { Signature(bytes: (0..<64).map { _ in UInt8(truncatingIfNeeded: rng.next()) }) }
    mutating func replica() -> ReplicaID { Int(rng.below(7)) }

    mutating func qc() -> QuorumCertificate {
        let signers = (0..<7).filter { _ in rng.chance(0.6) }
        return QuorumCertificate(view: rng.below(1 << 40), block: digest(), signatures: signers.map { ($0, signature()) })
    }

    mutating func tc() -> TimeoutCertificate {
        let signers = (0..<7).filter { _ in rng.chance(0.6) }
        return TimeoutCertificate(view: rng.below(1 << 40), entries: signers.map { .init(signer: $0, highQCView: rng.below(1 << 30), signature: signature()) })
    }

    mutating func request() -> ClientRequest {
        let c = Int(rng.below(3))
        let op = (0..<Int(rng.below(40))).map { _ in UInt8(truncatingIfNeeded: rng.next()) }
        return ClientRequest(client: c, timestamp: rng.below(1000), operation: op, signer: ring.signer(for: .client(c)))
    }

    mutating func block() -> Block {
        let requests = (0..<Int(rng.below(4))).map { _ in request() }
        return Block(view: rng.below(1 << 40), height: rng.below(1 << 40), parent: digest(), proposer: replica(), justify: qc(), requests: requests)
    }

    mutating func message() -> HotStuffMessage {
        switch rng.below(8) {
        case 0:
            let b = block()
            return .proposal(Proposal(block: b, timeoutCertificate: rng.chance(0.5) ? tc() : nil, signer: ring.signer(for: .replica(b.proposer))))
        case 1:
            return .vote(Vote(view: rng.below(1 << 40), block: digest(), signer: ring.signer(for: .replica(replica()))))
        case 2:
            let r = replica()
            let signer = ring.signer(for: .replica(r))
            let vote = rng.chance(0.5) ? Vote(view: rng.below(1 << 40), block: digest(), signer: signer) : nil
            return .newView(NewView(view: rng.below(1 << 40), highQC: qc(), lastVote: vote, signer: signer))
        case 3:
            return .timeout(Timeout(view: rng.below(1 << 40), highQC: qc(), highTC: rng.chance(0.5) ? tc() : nil,
                                    signer: ring.signer(for: .replica(replica()))))
        case 4:
            return .blockRequest(BlockRequest(block: digest(), stopHeight: rng.below(1 << 40)))
        case 5:
            return .blockResponse(BlockResponse(blocks: (0..<Int(rng.below(4))).map { _ in block() }))
        case 6:
            let announcements = (0..<7).filter { _ in rng.chance(0.3) }.map { r in
                NewView(view: rng.below(1 << 40), highQC: qc(), signer: ring.signer(for: .replica(r)))
            }
            return .syncInfo(SyncInfo(highQC: qc(), highTC: rng.chance(0.5) ? tc() : nil, announcements: announcements))
        default:
            return .request(request())
        }
    }
}

@Suite("HotStuff codec")
struct CodecTests {
    @Test("every message type round-trips through its canonical encoding")
    func roundTrips() throws {
        // Proves decode(encode(m)) == m and encode is canonical (re-encoding gives the same bytes).
        var factory = MessageFactory(rng: DeterministicRNG(seed: 42, stream: "hotstuff/codec"))
        var seen: Set<String> = []
        for _ in 0..<400 {
            let m = factory.message()
            let decoded = try HotStuffMessage(decoding: m.bytes)
            #expect(decoded == m)
            #expect(decoded.bytes == m.bytes)
            seen.insert(describeHotStuffMessage(m.bytes).type)
        }
        #expect(seen == ["PROPOSAL", "VOTE", "NEW-VIEW", "TIMEOUT", "BLOCK-REQUEST", "BLOCK-RESPONSE", "SYNC", "REQUEST"])
    }

    @Test("signatures verify after a round trip and fail when a byte changes")
    func signedMessagesVerify() throws {
        // Proves the signed payloads cover what they claim (domain-separated, sealed).
        var factory = MessageFactory(rng: DeterministicRNG(seed: 5, stream: "hotstuff/sig"))
        let v = factory.ring.verifier
        for _ in 0..<50 {
            let b = factory.block()
            let p = Proposal(block: b, signer: factory.ring.signer(for: .replica(b.proposer)))
            guard case .proposal(let decoded) = try HotStuffMessage(decoding: p.bytes) else { Issue.record("not a proposal"); return }
            #expect(decoded.verify(v))
            var tampered = p.bytes
            tampered[9] ^= 1
            if case .proposal(let t)? = try? HotStuffMessage(decoding: tampered) { #expect(!t.verify(v)) }
            let vote = Vote(view: 9, block: b.digest, signer: factory.ring.signer(for: .replica(2)))
            #expect(vote.verify(v))
            #expect(!Vote(view: 10, block: b.digest, voter: 2, signature: vote.signature).verify(v))
        }
    }

    @Test("truncated, bit-flipped and random bytes never trap the decoder or the describer")
    func garbageNeverTraps() {
        // Proves decoding untrusted bytes is total: every prefix of a valid message fails cleanly.
        var factory = MessageFactory(rng: DeterministicRNG(seed: 9, stream: "hotstuff/garbage"))
        var rng = DeterministicRNG(seed: 10, stream: "flip")
        for _ in 0..<60 {
            let bytes = factory.message().bytes
            for cut in stride(from: 0, to: bytes.count, by: max(1, bytes.count / 97)) {
                let prefix = Array(bytes[..<cut])
                #expect(throws: DecodeError.self) { _ = try HotStuffMessage(decoding: prefix) }
                _ = describeHotStuffMessage(prefix)
            }
            for _ in 0..<20 {
                var flipped = bytes
                flipped[Int(rng.below(UInt64(bytes.count)))] ^= UInt8(truncatingIfNeeded: 1 << rng.below(8))
                _ = try? HotStuffMessage(decoding: flipped)
                _ = describeHotStuffMessage(flipped)
            }
        }
        for tag in [UInt8(0x11), 0x12, 0x13, 0x14, 0x15, 0x16, 0x17, 0x40, 0x00, 0xff] {
            for _ in 0..<200 {
                let junk = [tag] + (0..<Int(rng.below(300))).map { _ in UInt8(truncatingIfNeeded: rng.next()) }
                _ = try? HotStuffMessage(decoding: junk)
                #expect(describeHotStuffMessage(junk).type != "")
            }
        }
        // Hostile counts do not allocate: a BLOCK-RESPONSE claiming 2^32−1 blocks in 5 bytes.
        #expect(throws: DecodeError.self) { _ = try HotStuffMessage(decoding: [0x16, 0xff, 0xff, 0xff, 0xff]) }
        #expect(describeHotStuffMessage([]) == .undecodable)
    }

    @Test("P12: a SYNC with a forged TC is rejected, moves nobody and is never answered; announcements out of sender order do not decode")
    func forgedSyncRejected() {
        // Proves SYNC's certificates are verified before they move a replica, and that a SYNC gets no reply.
        var factory = MessageFactory(rng: DeterministicRNG(seed: 12, stream: "hotstuff/sync"))
        let c = Cluster(config: HotStuffConfig(n: 4, variant: .twoChain), requests: 1)
        c.start()
        c.run()
        let view = c.replica(0).currentView
        let forged = TimeoutCertificate(view: view + 5, entries: [0, 1, 2].map { .init(signer: $0, highQCView: 0, signature: factory.signature()) })
        let sync = SyncInfo(highQC: .genesis, highTC: forged)
        let decoded = try? HotStuffMessage(decoding: sync.bytes)
        #expect(decoded == .syncInfo(sync))
        let queued = c.queue.count
        c.input(.message(from: .replica(2), bytes: sync.bytes), to: .replica(0))
        #expect(c.queue.count == queued, "a SYNC was answered")
        #expect(c.rejections(0, .invalidCertificate) == 1)
        #expect(c.replica(0).currentView == view)
        #expect(c.replica(0).highTC == nil)
        // Canonical encoding: announcements strictly increasing by sender; a swapped pair is refused.
        let a = NewView(view: 3, highQC: .genesis, signer: c.ring.signer(for: .replica(1)))
        let b = NewView(view: 3, highQC: .genesis, signer: c.ring.signer(for: .replica(2)))
        var bytes = SyncInfo(highQC: .genesis, highTC: nil, announcements: [a, b]).bytes
        let tail = bytes.count - a.bytes.count - b.bytes.count - 8
        let inOrder = Array(bytes[..<tail]) + [0, 0, 0, UInt8(a.bytes.count)] + a.bytes + [0, 0, 0, UInt8(b.bytes.count)] + b.bytes
        #expect(inOrder == bytes, "the splice reproduces the encoding")
        bytes = Array(bytes[..<tail]) + [0, 0, 0, UInt8(b.bytes.count)] + b.bytes + [0, 0, 0, UInt8(a.bytes.count)] + a.bytes
        #expect(throws: DecodeError.self) { _ = try HotStuffMessage(decoding: bytes) }
    }

    @Test("a replica rejects garbage as malformed and keeps working")
    func replicaRejectsGarbage() {
        // Proves the replica's input path reports `.rejected(.malformed)` instead of trapping.
        let c = Cluster(config: HotStuffConfig(n: 4), requests: 2)
        c.start()
        c.input(.message(from: .replica(2), bytes: [0x11, 1, 2, 3]), to: .replica(0))
        c.input(.message(from: .client(0), bytes: []), to: .replica(0))
        #expect(c.rejections(0, .malformed) == 2)
        c.run()
        #expect(c.clientsDone)
    }
}
