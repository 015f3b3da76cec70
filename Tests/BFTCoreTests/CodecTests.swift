import Testing
@testable import BFTCore

@Suite("Canonical codec")
struct CodecTests {
    @Test("integers encode big-endian and round-trip")
    func integers() throws {
        var w = ByteWriter()
        w.u8(0xAB); w.u16(0x0102); w.u32(0x0304_0506); w.u64(0x0708_090A_0B0C_0D0E); w.bool(true)
        #expect(w.bytes == [0xAB, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 1])
        var r = ByteReader(w.bytes)
        #expect(try r.u8() == 0xAB)
        #expect(try r.u16() == 0x0102)
        #expect(try r.u32() == 0x0304_0506)
        #expect(try r.u64() == 0x0708_090A_0B0C_0D0E)
        #expect(try r.bool() == true)
        try r.expectEnd()
    }

    @Test("truncated input gives a typed error, never a trap")
    func truncated() {
        var r = ByteReader([0, 0, 1])
        #expect(throws: DecodeError.truncated(field: "x", needed: 4, remaining: 3)) { try r.u32("x") }
    }

    @Test("a hostile length prefix cannot force a large allocation")
    func hostileLength() {
        var w = ByteWriter()
        w.u32(UInt32.max)
        var r = ByteReader(w.bytes + [1, 2, 3])
        #expect(throws: DecodeError.self) { try r.lengthPrefixed("blob", max: 1 << 30) }
        var r2 = ByteReader(w.bytes)
        #expect(throws: DecodeError.lengthTooLarge(field: "blob", length: Int(UInt32.max), max: 100)) { try r2.lengthPrefixed("blob", max: 100) }
    }

    @Test("digests and signatures round-trip through bytes")
    func digestRoundTrip() throws {
        let d = Digest.of(Array("hello".utf8))
        #expect(Digest(bytes: d.bytes) == d)
        // BLAKE2b-256("hello"), a published value.
        #expect(d.hex == "324dcf027dd4a30a932c441f365a25e86b173defa4b8e58948253471b81b72cf")
        var w = ByteWriter()
        w.digest(d)
        var r = ByteReader(w.bytes)
        #expect(try r.digest() == d)
    }

    @Test("principals encode canonically and reject unknown kinds")
    func principals() throws {
        for p in [Principal.replica(3), .client(9)] {
            var w = ByteWriter()
            p.encode(into: &w)
            var r = ByteReader(w.bytes)
            #expect(try Principal.decode(from: &r) == p)
        }
        var r = ByteReader([7, 0, 0, 0, 1])
        #expect(throws: DecodeError.unknownTag(field: "principal kind", tag: 7)) { try Principal.decode(from: &r) }
    }
}

@Suite("Quorum math")
struct QuorumTests {
    @Test("for n = 4…20 and every f ≤ ⌊(n-1)/3⌋, two quorums intersect in at least f+1 replicas")
    func intersections() {
        // Rule Q1 (Specs/PBFT.md): quorum = n - f. Any two quorums share 2(n-f) - n = n - 2f ≥ f + 1.
        for n in 4...20 {
            #expect(QuorumMath.maxFaulty(n: n) == (n - 1) / 3)
            for f in 0...QuorumMath.maxFaulty(n: n) {
                let q = QuorumMath(n: n, f: f)
                #expect(q.quorum == n - f)
                #expect(2 * q.quorum - n >= f + 1)
                #expect(q.weakQuorum == f + 1)
                #expect(q.quorum <= n - f)  // reachable with f silent replicas
            }
        }
        #expect(QuorumMath(n: 4).quorum == 3)
        #expect(QuorumMath(n: 5).quorum == 4)
        #expect(QuorumMath(n: 7).quorum == 5)
        #expect(QuorumMath(n: 6, f: 1).quorum == 5)
    }
}

@Suite("Key-value store")
struct KeyValueStoreTests {
    @Test("operations execute deterministically and the snapshot is canonical")
    func executeAndSnapshot() throws {
        var a = KeyValueStore()
        #expect(a.execute(KeyValueStore.Operation.put(key: "x", value: [1]).encoded) == Array("OK".utf8))
        #expect(a.execute(KeyValueStore.Operation.append(key: "x", value: [2, 3]).encoded) == [0, 0, 0, 0, 0, 0, 0, 3])
        #expect(a.execute(KeyValueStore.Operation.get(key: "x").encoded) == [1, 1, 2, 3])
        #expect(a.execute(KeyValueStore.Operation.get(key: "nope").encoded) == [0])
        _ = a.execute(.put(key: "a", value: [9]))
        var b = KeyValueStore()
        _ = b.execute(.put(key: "a", value: [9]))
        _ = b.execute(.put(key: "x", value: [1, 2, 3]))
        #expect(a.snapshot() == b.snapshot())
        #expect(a.digest == b.digest)
        let c = try KeyValueStore(snapshot: a.snapshot())
        #expect(c == a)
        #expect(a.execute([0xFF]) == Array("ERR malformed".utf8))
    }

    @Test("executing wire bytes answers exactly as executing decoded operations, canonically equivalent keys included")
    func wireBytesMatchOperations() {
        // Two stores, one fed wire bytes (the replicas' path: keys read in place), one fed decoded
        // operations (String keys only). Keys include canonically equivalent spellings: U+212A KELVIN
        // SIGN equals "K" as a String, so both must reach one slot, and "e\u{301}" equals "é".
        let keys = ["K", "\u{212A}", "k", "é", "e\u{301}", "key-1", "key-2", "", String(repeating: "z", count: 200)]
        var rng = DeterministicRNG(seed: 7)
        var bytesStore = KeyValueStore()
        var opsStore = KeyValueStore()
        for _ in 0..<3000 {
            let key = keys[Int(rng.below(UInt64(keys.count)))]
            let value = (0..<Int(rng.below(5))).map { _ in UInt8(truncatingIfNeeded: rng.next()) }
            let op: KeyValueStore.Operation
            switch rng.below(3) {
            case 0: op = .put(key: key, value: value)
            case 1: op = .append(key: key, value: value)
            default: op = .get(key: key)
            }
            #expect(bytesStore.execute(op.encoded) == opsStore.execute(op))
        }
        #expect(bytesStore == opsStore)
        #expect(bytesStore.snapshot() == opsStore.snapshot())
        #expect(bytesStore.count == 7)  // "K" (= KELVIN SIGN), "k", "é" (= e + U+0301), key-1, key-2, "", z…z
    }

    @Test("a snapshot with unsorted keys is rejected")
    func unsortedSnapshot() {
        var w = ByteWriter()
        w.u32(2); w.string("b"); w.lengthPrefixed([1]); w.string("a"); w.lengthPrefixed([2])
        #expect(throws: DecodeError.self) { try KeyValueStore(snapshot: w.bytes) }
    }
}
