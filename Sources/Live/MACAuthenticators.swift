import BFTCore
import BFTCrypto
import CSodium
import Foundation

/// PBFT's MAC authenticators for client traffic (Castro & Liskov, TOCS'02 §3.2), fitted into the
/// existing 64-byte signature field so neither protocol code nor the wire format changes.
///
/// Every principal derives an X25519 key-exchange pair from its Ed25519 seed; client c and replica r
/// agree two session keys with libsodium's `crypto_kx` (client tx = replica rx for requests, replica tx
/// = client rx for replies). A request's "signature" is an authenticator: slot r (64/n bytes) holds
/// keyed-BLAKE2b(key(c→r); domain ‖ request), and replica r checks only its own slot. A reply's holds
/// the MAC for its one client. Replica-to-replica messages stay Ed25519-signed.
///
/// Trade-off (as in the paper): a faulty client can give some replicas a good slot and others a bad
/// one, which costs liveness for that request, never safety; replicas cannot forge each other's
/// messages. Opt-in with `keygen --client-auth mac` (n ≤ 8, so a slot is at least 8 bytes).
enum MACAuth {
    static func kxPair(seed: [UInt8]) -> (pk: [UInt8], sk: [UInt8]) {
        var w = ByteWriter()
        w.string("bftsim/kx/v1")
        w.raw(seed)
        let kxSeed = Digest.of(w.bytes).bytes
        var pk = [UInt8](repeating: 0, count: Int(crypto_kx_PUBLICKEYBYTES))
        var sk = [UInt8](repeating: 0, count: Int(crypto_kx_SECRETKEYBYTES))
        _ = crypto_kx_seed_keypair(&pk, &sk, kxSeed)
        return (pk, sk)
    }

    /// (rx, tx) for the client side of the pair.
    static func clientKeys(_ own: (pk: [UInt8], sk: [UInt8]), replicaPK: [UInt8]) -> (rx: [UInt8], tx: [UInt8])? {
        var rx = [UInt8](repeating: 0, count: Int(crypto_kx_SESSIONKEYBYTES)), tx = rx
        guard crypto_kx_client_session_keys(&rx, &tx, own.pk, own.sk, replicaPK) == 0 else { return nil }
        return (rx, tx)
    }

    /// (rx, tx) for the replica side of the pair.
    static func replicaKeys(_ own: (pk: [UInt8], sk: [UInt8]), clientPK: [UInt8]) -> (rx: [UInt8], tx: [UInt8])? {
        var rx = [UInt8](repeating: 0, count: Int(crypto_kx_SESSIONKEYBYTES)), tx = rx
        guard crypto_kx_server_session_keys(&rx, &tx, own.pk, own.sk, clientPK) == 0 else { return nil }
        return (rx, tx)
    }

    /// The 16-byte keyed-BLAKE2b tag of `domain ‖ message`, computed without heap allocation.
    static func tag(key: UnsafeRawBufferPointer, domain: SigningDomain, message: ArraySlice<UInt8>) -> SIMD2<UInt64> {
        var out = SIMD2<UInt64>()
        withUnsafeMutableBytes(of: &out) { o in
            domain.bytes.withUnsafeBufferPointer { d in
                message.withUnsafeBufferPointer { m in
                    _ = bftsim_blake2b_two_parts(o.baseAddress!.assumingMemoryBound(to: UInt8.self), 16,
                                                 key.baseAddress!.assumingMemoryBound(to: UInt8.self), key.count,
                                                 d.baseAddress, UInt64(d.count), m.baseAddress, UInt64(m.count))
                }
            }
        }
        return out
    }

    /// Whether `signature[offset ..< offset+length]` equals the first `length` bytes of `tag`.
    static func matches(_ signature: Signature, offset: Int, length: Int, _ tag: SIMD2<UInt64>) -> Bool {
        withUnsafeBytes(of: signature.words) { s in
            withUnsafeBytes(of: tag) { t in
                memcmp(s.baseAddress! + offset, t.baseAddress!, length) == 0
            }
        }
    }

    static func slot(n: Int) -> Int { min(16, Signature.byteCount / n) }

    /// Client id of a reply payload: tag, view u64, client u32.
    static func replyClient(_ m: ArraySlice<UInt8>) -> Int? {
        guard m.count >= 13 else { return nil }
        let b = m.startIndex
        return Int(m[b + 9]) << 24 | Int(m[b + 10]) << 16 | Int(m[b + 11]) << 8 | Int(m[b + 12])
    }
}

/// Replica r: Ed25519 for everything except replies, which carry a MAC for their client.
final class MACReplicaSigner: MessageSigner {
    let principal: Principal
    let ed25519: MessageSigner
    let keys: MACReplicaKeys
    init(ed25519: MessageSigner, keys: MACReplicaKeys) {
        principal = ed25519.principal
        self.ed25519 = ed25519
        self.keys = keys
    }
    func sign(domain: SigningDomain, _ message: ArraySlice<UInt8>) -> Signature {
        guard domain == ClientReply.domain, let c = MACAuth.replyClient(message), keys.derive(client: c) else {
            return ed25519.sign(domain: domain, message)
        }
        let t = keys.withKey(client: c, .tx) { MACAuth.tag(key: $0, domain: domain, message: message) }
        var words = SIMD8<UInt64>.zero
        words[0] = t[0]
        words[1] = t[1]
        return Signature(words: words)
    }
}

/// Replica r's session keys with every client, derived on first use and kept in one flat buffer
/// indexed by client id (bounded by the client count; no per-lookup hashing or reference counting).
final class MACReplicaKeys {
    enum Direction: Int { case rx = 0, tx = 1 }
    static let keyBytes = Int(crypto_kx_SESSIONKEYBYTES)
    let own: (pk: [UInt8], sk: [UInt8])
    let clientKX: [[UInt8]]
    private var derived: [Bool]
    private var material: [UInt8]
    init(seed: [UInt8], clientKX: [[UInt8]]) {
        own = MACAuth.kxPair(seed: seed)
        self.clientKX = clientKX
        derived = Array(repeating: false, count: clientKX.count)
        material = Array(repeating: 0, count: clientKX.count * 2 * MACReplicaKeys.keyBytes)
    }

    /// Derives client c's keys if needed; false for an unknown client or a failed key exchange.
    func derive(client c: Int) -> Bool {
        guard c >= 0 && c < clientKX.count else { return false }
        if derived[c] { return true }
        guard let k = MACAuth.replicaKeys(own, clientPK: clientKX[c]) else { return false }
        let base = c * 2 * MACReplicaKeys.keyBytes
        material.replaceSubrange(base..<(base + MACReplicaKeys.keyBytes), with: k.rx)
        material.replaceSubrange((base + MACReplicaKeys.keyBytes)..<(base + 2 * MACReplicaKeys.keyBytes), with: k.tx)
        derived[c] = true
        return true
    }

    /// Calls `body` with client c's key for `direction`; `derive(client:)` must have returned true.
    func withKey<T>(client c: Int, _ direction: Direction, _ body: (UnsafeRawBufferPointer) -> T) -> T {
        let start = (c * 2 + direction.rawValue) * MACReplicaKeys.keyBytes
        return material.withUnsafeBytes { body(UnsafeRawBufferPointer(rebasing: $0[start..<(start + MACReplicaKeys.keyBytes)])) }
    }
}

/// Replica r: checks slot r of a client's authenticator; Ed25519 for replicas.
final class MACReplicaVerifier: SignatureVerifier {
    let id: Int
    let n: Int
    let ed25519: SignatureVerifier
    let keys: MACReplicaKeys
    init(id: Int, n: Int, ed25519: SignatureVerifier, keys: MACReplicaKeys) {
        self.id = id
        self.n = n
        self.ed25519 = ed25519
        self.keys = keys
    }
    func verify(_ signature: Signature, domain: SigningDomain, message: ArraySlice<UInt8>, signer: Principal) -> Bool {
        guard case .client(let c) = signer else { return ed25519.verify(signature, domain: domain, message: message, signer: signer) }
        guard keys.derive(client: c) else { return false }
        let len = MACAuth.slot(n: n)
        let t = keys.withKey(client: c, .rx) { MACAuth.tag(key: $0, domain: domain, message: message) }
        return MACAuth.matches(signature, offset: id * len, length: len, t)
    }
}

/// Client c: authenticators on requests, MAC checks on replies.
final class MACClient: MessageSigner, SignatureVerifier {
    let principal: Principal
    let n: Int
    let keys: [(rx: [UInt8], tx: [UInt8])]
    init?(client c: Int, seed: [UInt8], replicaKX: [[UInt8]]) {
        principal = .client(c)
        n = replicaKX.count
        let own = MACAuth.kxPair(seed: seed)
        var ks: [(rx: [UInt8], tx: [UInt8])] = []
        for pk in replicaKX {
            guard let k = MACAuth.clientKeys(own, replicaPK: pk) else { return nil }
            ks.append(k)
        }
        keys = ks
    }
    func sign(domain: SigningDomain, _ message: ArraySlice<UInt8>) -> Signature {
        let len = MACAuth.slot(n: n)
        var words = SIMD8<UInt64>.zero
        withUnsafeMutableBytes(of: &words) { out in
            for (r, k) in keys.enumerated() {
                var t = k.tx.withUnsafeBytes { MACAuth.tag(key: $0, domain: domain, message: message) }
                withUnsafeBytes(of: &t) { out.baseAddress!.advanced(by: r * len).copyMemory(from: $0.baseAddress!, byteCount: len) }
            }
        }
        return Signature(words: words)
    }
    func verify(_ signature: Signature, domain: SigningDomain, message: ArraySlice<UInt8>, signer: Principal) -> Bool {
        guard case .replica(let r) = signer, r >= 0, r < n else { return false }
        let t = keys[r].rx.withUnsafeBytes { MACAuth.tag(key: $0, domain: domain, message: message) }
        return MACAuth.matches(signature, offset: 0, length: 16, t)
    }
}

/// Routes verification by the message's client: the load generator hosts many clients in one process.
final class MACClientsVerifier: SignatureVerifier {
    let first: Int
    let clients: [MACClient]
    init(first: Int, clients: [MACClient]) {
        self.first = first
        self.clients = clients
    }
    func verify(_ signature: Signature, domain: SigningDomain, message: ArraySlice<UInt8>, signer: Principal) -> Bool {
        guard domain == ClientReply.domain, let c = MACAuth.replyClient(message), c >= first, c - first < clients.count else { return false }
        return clients[c - first].verify(signature, domain: domain, message: message, signer: signer)
    }
}
