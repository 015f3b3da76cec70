import BFTCore
import BFTCrypto
import CSodium

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

    static func mac(key: [UInt8], domain: SigningDomain, message: ArraySlice<UInt8>, length: Int) -> [UInt8] {
        var out = [UInt8](repeating: 0, count: 16)
        message.withUnsafeBufferPointer { m in
            _ = bftsim_blake2b_two_parts(&out, 16, key, key.count, domain.bytes, UInt64(domain.bytes.count), m.baseAddress, UInt64(m.count))
        }
        return Array(out.prefix(length))
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
        guard domain == ClientReply.domain, let c = MACAuth.replyClient(message), let k = keys.keys(client: c) else {
            return ed25519.sign(domain: domain, message)
        }
        var bytes = MACAuth.mac(key: k.tx, domain: domain, message: message, length: 16)
        bytes += [UInt8](repeating: 0, count: Signature.byteCount - bytes.count)
        return Signature(bytes: bytes)
    }
}

/// Replica r's session keys with every client, derived on first use (bounded by the client count).
final class MACReplicaKeys {
    let own: (pk: [UInt8], sk: [UInt8])
    let clientKX: [[UInt8]]
    private var cache: [Int: (rx: [UInt8], tx: [UInt8])] = [:]
    init(seed: [UInt8], clientKX: [[UInt8]]) {
        own = MACAuth.kxPair(seed: seed)
        self.clientKX = clientKX
    }
    func keys(client c: Int) -> (rx: [UInt8], tx: [UInt8])? {
        if let k = cache[c] { return k }
        guard c >= 0 && c < clientKX.count, let k = MACAuth.replicaKeys(own, clientPK: clientKX[c]) else { return nil }
        cache[c] = k
        return k
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
        guard let k = keys.keys(client: c) else { return false }
        let len = MACAuth.slot(n: n)
        let sig = signature.bytes
        return Array(sig[(id * len)..<(id * len + len)]) == MACAuth.mac(key: k.rx, domain: domain, message: message, length: len)
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
        var bytes: [UInt8] = []
        for k in keys { bytes += MACAuth.mac(key: k.tx, domain: domain, message: message, length: len) }
        bytes += [UInt8](repeating: 0, count: Signature.byteCount - bytes.count)
        return Signature(bytes: bytes)
    }
    func verify(_ signature: Signature, domain: SigningDomain, message: ArraySlice<UInt8>, signer: Principal) -> Bool {
        guard case .replica(let r) = signer, r >= 0, r < n else { return false }
        return Array(signature.bytes.prefix(16)) == MACAuth.mac(key: keys[r].rx, domain: domain, message: message, length: 16)
    }
}

/// Routes verification by the message's client: the load generator hosts many clients in one process.
final class MACClientsVerifier: SignatureVerifier {
    let clients: [Int: MACClient]
    init(clients: [Int: MACClient]) { self.clients = clients }
    func verify(_ signature: Signature, domain: SigningDomain, message: ArraySlice<UInt8>, signer: Principal) -> Bool {
        guard domain == ClientReply.domain, let c = MACAuth.replyClient(message), let client = clients[c] else { return false }
        return client.verify(signature, domain: domain, message: message, signer: signer)
    }
}
