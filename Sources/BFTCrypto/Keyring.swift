import BFTCore
import CSodium

/// All keys of one simulated cluster, derived from the scenario seed so runs replay exactly.
///
/// Hand each state machine `signer(for:)` of its own principal and the shared `verifier`; never the
/// keyring itself. Byzantine wrappers get the same: they can sign as themselves and verify anyone,
/// and so cannot produce a correct replica's signature under either scheme.
public final class Keyring {
    public let scheme: SignatureScheme
    public let replicaCount: Int
    public let clientCount: Int
    public let stats = CryptoStats()
    public let verifier: SignatureVerifier
    /// The Ed25519 verifier's cache, where results computed on another thread can be entered (live mode).
    public let verificationCache: VerificationCache?
    private var signers: [Principal: MessageSigner] = [:]
    private let publicKeys: [Principal: [UInt8]]

    public init(scheme: SignatureScheme, seed: UInt64, replicas: Int, clients: Int, verificationCacheMax: Int = 1 << 18) {
        precondition(Sodium.ready, "libsodium failed to initialise")
        self.scheme = scheme
        replicaCount = replicas
        clientCount = clients
        let principals = (0..<replicas).map(Principal.replica) + (0..<clients).map(Principal.client)
        switch scheme {
        case .ed25519:
            var pks: [Principal: [UInt8]] = [:]
            for p in principals {
                let kp = Ed25519KeyPair(seed: Keyring.secretSeed(seed: seed, principal: p, scheme: scheme))
                pks[p] = kp.publicKey
                signers[p] = Ed25519Signer(principal: p, keyPair: kp, stats: stats)
            }
            publicKeys = pks
            let v = Ed25519Verifier(publicKeys: pks, stats: stats, cacheMax: verificationCacheMax)
            verifier = v
            verificationCache = v
        case .fast, .blake2b:
            var replicaKeys: [any TagKey] = []
            var clientKeys: [any TagKey] = []
            let verdicts = TagVerdictStore()
            for p in principals {
                let secret = Keyring.secretSeed(seed: seed, principal: p, scheme: scheme)
                let k: any TagKey = scheme == .fast ? SipHashKey(secret) : FastKey(secret)
                if case .replica = p { replicaKeys.append(k) } else { clientKeys.append(k) }
                signers[p] = FastSigner(principal: p, key: k, stats: stats, verdicts: verdicts)
            }
            publicKeys = [:]
            verifier = FastVerifier(replicaKeys: replicaKeys, clientKeys: clientKeys, stats: stats, verdicts: verdicts)
            verificationCache = nil
        }
    }

    /// A live-mode keyring built from key files: Ed25519 only (MAC schemes are simulator-only, see
    /// `SignatureScheme`). `publicKeys` lists every principal of the cluster; `ownSeeds` holds the
    /// 32-byte secret seeds of the principals this process signs for (one replica, or a client range).
    public init(publicKeys: [Principal: [UInt8]], ownSeeds: [Principal: [UInt8]], verificationCacheMax: Int = 1 << 16) {
        precondition(Sodium.ready, "libsodium failed to initialise")
        scheme = .ed25519
        replicaCount = publicKeys.keys.filter { $0.replicaID != nil }.count
        clientCount = publicKeys.keys.filter { $0.clientID != nil }.count
        for (p, seed) in ownSeeds {
            let kp = Ed25519KeyPair(seed: seed)
            precondition(publicKeys[p] == kp.publicKey, "secret key of \(p) does not match its public key in the cluster file")
            signers[p] = Ed25519Signer(principal: p, keyPair: kp, stats: stats)
        }
        self.publicKeys = publicKeys
        let v = Ed25519Verifier(publicKeys: publicKeys, stats: stats, cacheMax: verificationCacheMax)
        verifier = v
        verificationCache = v
    }

    /// A live-mode keyring around signers and a verifier built elsewhere (for example PBFT's MAC
    /// authenticators for client traffic, with Ed25519 between replicas). Crypto stats stay zero.
    public init(signers: [Principal: MessageSigner], verifier: SignatureVerifier, replicas: Int, clients: Int,
                publicKeys: [Principal: [UInt8]] = [:], verificationCache: VerificationCache? = nil) {
        scheme = .ed25519
        replicaCount = replicas
        clientCount = clients
        self.signers = signers
        self.publicKeys = publicKeys
        self.verifier = verifier
        self.verificationCache = verificationCache
    }

    /// Every principal's Ed25519 public key (empty for the MAC schemes).
    public var allPublicKeys: [Principal: [UInt8]] { publicKeys }

    /// The signer for one principal. Precondition: the principal belongs to the cluster.
    public func signer(for principal: Principal) -> MessageSigner {
        guard let s = signers[principal] else { preconditionFailure("no key for \(principal)") }
        return s
    }

    public func publicKey(of principal: Principal) -> [UInt8]? { publicKeys[principal] }

    private var sharedObjects: [ObjectIdentifier: AnyObject] = [:]

    /// The one `T` of this keyring's run, made by `make` on first use: state the machines of one
    /// simulation share because they see the same buffers (`DecodeMemo`). Holds only memo tables of
    /// pure functions, never anything a machine could learn another's secrets or state from.
    public func shared<T: AnyObject>(_ make: () -> T) -> T {
        if let existing = sharedObjects[ObjectIdentifier(T.self)] as? T { return existing }
        let made = make()
        sharedObjects[ObjectIdentifier(T.self)] = made
        return made
    }

    /// 32 secret bytes per principal: BLAKE2b-256("bftsim/keys/v1" ‖ scheme ‖ seed ‖ principal).
    static func secretSeed(seed: UInt64, principal: Principal, scheme: SignatureScheme) -> [UInt8] {
        var w = ByteWriter()
        w.string("bftsim/keys/v1")
        w.string(scheme.rawValue)
        w.u64(seed)
        principal.encode(into: &w)
        return Digest.of(w.bytes).bytes
    }
}

/// The outcome of one Ed25519 verification computed by libsodium (`RecordingVerifier`). Only this
/// module can make one, so code outside it (Byzantine layers included) cannot enter a result into a
/// verifier's cache that libsodium did not compute for exactly these bytes.
public struct VerifiedSignature: Sendable {
    let signer: Principal
    let signature: Signature
    /// `domain ‖ message`, as the cache keys it.
    let signed: [UInt8]
    let valid: Bool
}

/// A verifier that runs on a worker thread (the live host's verification pool, issue 13): it checks
/// signatures with libsodium against fixed public keys and records each result, which the owner of the
/// replica's verifier then enters with `VerificationCache.remember` on the replica's own thread. The
/// replica's own verification of the same bytes is then a cache hit, so the expensive part of a flood of
/// well-formed forgeries runs off the event loop. It keeps its own bounded cache (a QC travels in many
/// messages), so it must be confined to one thread: the host's pool has exactly one.
public final class RecordingVerifier: SignatureVerifier, @unchecked Sendable {
    private let publicKeys: [Principal: [UInt8]]
    private var records: [VerifiedSignature] = []
    private var cache: [Ed25519Verifier.Key: Bool] = [:]
    private let cacheMax: Int
    /// Verifications computed (cache misses), for the host's stats.
    public private(set) var computed = 0

    public init(publicKeys: [Principal: [UInt8]], cacheMax: Int = 1 << 14) {
        self.publicKeys = publicKeys
        self.cacheMax = cacheMax
    }

    public func verify(_ signature: Signature, domain: SigningDomain, message: ArraySlice<UInt8>, signer: Principal) -> Bool {
        guard let pk = publicKeys[signer] else { return false }
        let key = Ed25519Verifier.Key(signer: signer, signature: signature, signed: domain.bytes + message)
        let ok: Bool
        if let hit = cache[key] {
            ok = hit
        } else {
            computed += 1
            ok = Ed25519KeyPair.verify(signature, message: key.signed, publicKey: pk)
            if cache.count >= cacheMax { cache.removeAll(keepingCapacity: true) }
            cache[key] = ok
        }
        records.append(VerifiedSignature(signer: signer, signature: signature, signed: key.signed, valid: ok))
        return ok
    }

    /// The results recorded since the last call.
    public func drain() -> [VerifiedSignature] {
        defer { records.removeAll() }
        return records
    }
}

/// A verifier whose results can be computed elsewhere (`RecordingVerifier`) and entered later.
public protocol VerificationCache: AnyObject {
    func remember(_ records: [VerifiedSignature])
}

extension Ed25519Verifier: VerificationCache {}

/// Ed25519 verification with a per-simulation cache of results.
///
/// Soundness: the cache key is the exact triple (signer, signed bytes including the domain, signature)
/// and the public key of a signer is fixed for the whole run, so a hit returns what
/// `crypto_sign_verify_detached` returned for those same inputs — verification is a pure function of
/// them. A forgery differs in bytes or signature from every triple that verified, so it misses the
/// cache and is verified for real. Broadcasts are the common case: n-1 receivers verify one triple
/// once. The cache is bounded; when full it is cleared, which changes only speed, never outcomes, so
/// determinism is unaffected.
final class Ed25519Verifier: SignatureVerifier {
    struct Key: Hashable {
        var signer: Principal
        var signature: Signature
        var signed: [UInt8]

        /// Hashes the signer and the signature only: equal keys have equal signatures, and a
        /// signature is 64 unpredictable bytes, so buckets stay spread. Equality (`==`, synthesised)
        /// still compares every signed byte. Hashing the signed bytes element by element cost more than
        /// the verification it saved on 64 KiB blocks.
        func hash(into h: inout Hasher) {
            h.combine(signer)
            h.combine(signature)
        }
    }
    private let publicKeys: [Principal: [UInt8]]
    private let stats: CryptoStats
    private let cacheMax: Int
    private var cache: [Key: Bool] = [:]
    private var certificates = CertificateVerdicts()

    func verifyCertificate(entries: ArraySlice<UInt8>, count: Int, context: [UInt8], _ body: () -> Bool) -> Bool {
        certificates.verdict(entries: entries, context: context, hit: { [stats] _ in
            stats.verifyRequests += count
            stats.cacheHits += count
        }, body)
    }

    init(publicKeys: [Principal: [UInt8]], stats: CryptoStats, cacheMax: Int) {
        self.publicKeys = publicKeys
        self.stats = stats
        self.cacheMax = cacheMax
    }

    /// Results computed off the owner's thread (`RecordingVerifier`), entered as if computed here.
    func remember(_ records: [VerifiedSignature]) {
        for r in records {
            if cache.count >= cacheMax { cache.removeAll(keepingCapacity: true) }
            cache[Key(signer: r.signer, signature: r.signature, signed: r.signed)] = r.valid
            stats.preverified += 1
        }
    }

    func verify(_ signature: Signature, domain: SigningDomain, message: ArraySlice<UInt8>, signer: Principal) -> Bool {
        stats.verifyRequests += 1
        guard let pk = publicKeys[signer] else {
            stats.failures += 1
            return false
        }
        let key = Key(signer: signer, signature: signature, signed: domain.bytes + message)
        if let hit = cache[key] {
            stats.cacheHits += 1
            if !hit { stats.failures += 1 }
            return hit
        }
        stats.verified += 1
        let ok = Ed25519KeyPair.verify(signature, message: key.signed, publicKey: pk)
        if !ok { stats.failures += 1 }
        if cache.count >= cacheMax { cache.removeAll(keepingCapacity: true) }
        cache[key] = ok
        return ok
    }
}

/// Verdicts of recent MAC-tag checks, keyed by the identity of the checked bytes (issue 19).
///
/// The simulator hands every receiver of a broadcast the same buffer, so the n−1 receivers of a
/// proposal (or the n replicas a client sends its request to) check one tag over one buffer. A signer
/// also vouches for every message it seals (`FastSigner.sealed`): the tag it just computed over exactly
/// those bytes is valid, so the receiver of a unicast message (a vote to the leader, a reply to a client)
/// finds the verdict instead of recomputing the tag. An entry
/// keeps the checked slice alive, so while it exists no other bytes can occupy that address: the same
/// address, bounds, domain fingerprint, signer and signature mean the same inputs, and the verdict (a
/// pure function of them) is reused. A forged copy lives in another buffer and is checked afresh; Swift
/// arrays are copied before they are written while the entry shares them.
/// Direct-mapped, 256 entries chosen by the tag's bits: a collision only evicts, which changes speed, never
/// a verdict, and collisions (so the reported cache counts) do not depend on where buffers were allocated.
struct TagVerdicts {
    /// What identifies one check's inputs, and its verdict: plain values, compared and stored without
    /// touching reference counts. The domain enters the tag only through its 16-byte fingerprint, so the
    /// fingerprint's value identifies it.
    struct Key: Equatable {
        var address: UInt = 0
        var start = 0
        var count = 0
        var domain: SIMD2<UInt64> = .zero
        /// The signer as one integer: replica r is r, client c is −1−c.
        var signer = Int.min
        var signature: SIMD8<UInt64> = .zero

        /// Word by word, most selective first (a lookup's cost is this comparison: issue 19).
        @inline(__always)
        static func == (a: Key, b: Key) -> Bool {
            let s = a.signature ^ b.signature, d = a.domain ^ b.domain
            let differs = (s[0] | s[1] | s[2] | s[3]) | (s[4] | s[5] | s[6] | s[7]) | (d[0] | d[1])
            return differs == 0 && a.address == b.address && a.start == b.start && a.count == b.count && a.signer == b.signer
        }
    }
    /// Slots: enough for the messages in flight at once in a small cluster (a vouched entry is evicted
    /// by the 256th message sealed after it on average, and most are delivered long before).
    private static let slots = 256
    private var keys: [Key] = []
    private var valid: [Bool] = []
    /// The buffers the keys' addresses point into, held so that no other bytes can take their place.
    private var held: [ArraySlice<UInt8>?] = []

    /// The slot and key of a check's inputs; nil for bytes without storage of their own.
    @inline(__always)
    func locate(_ signature: Signature, domain: SigningDomain, message: ArraySlice<UInt8>, signer: Principal) -> (slot: Int, key: Key)? {
        let address = message.withUnsafeBufferPointer { UInt(bitPattern: $0.baseAddress) }
        guard address != 0 else { return nil }
        let signerCode: Int
        switch signer {
        case .replica(let r): signerCode = r
        case .client(let c): signerCode = -1 - c
        }
        let key = Key(address: address, start: message.startIndex, count: message.count, domain: domain.fingerprintWords,
                      signer: signerCode, signature: signature.words)
        // The slot comes from the tag (a PRF output), not the address: which checks collide, and so the
        // computed/cached counts a run reports, are then the same in every process.
        let mix = signature.words[0] ^ (signature.words[1] &>> 17) ^ UInt64(truncatingIfNeeded: message.startIndex)
        return (Int(truncatingIfNeeded: mix & UInt64(Self.slots - 1)), key)
    }

    /// The remembered verdict for exactly `key`'s inputs.
    @inline(__always)
    func verdict(slot: Int, key: Key) -> Bool? { !keys.isEmpty && keys[slot] == key ? valid[slot] : nil }

    /// Records that `signature` is the valid tag of `signer` over exactly `message` (its buffer, bounds
    /// and domain): called by the signer that just computed it.
    mutating func vouch(_ signature: Signature, domain: SigningDomain, message: ArraySlice<UInt8>, signer: Principal) {
        guard let (slot, key) = locate(signature, domain: domain, message: message, signer: signer) else { return }
        remember(slot: slot, key: key, valid: true, message: message)
    }

    mutating func remember(slot: Int, key: Key, valid ok: Bool, message: ArraySlice<UInt8>) {
        if keys.isEmpty {
            keys = [Key](repeating: Key(), count: Self.slots)
            valid = [Bool](repeating: false, count: Self.slots)
            held = [ArraySlice<UInt8>?](repeating: nil, count: Self.slots)
        }
        keys[slot] = key
        valid[slot] = ok
        held[slot] = message
    }
}

/// The MAC verdicts of one run, shared by its verifier and its signers (which vouch for what they seal).
/// Code outside this module cannot reach it: a Byzantine layer can only have its own signer vouch for
/// bytes that signer really tagged.
final class TagVerdictStore {
    var table = TagVerdicts()
}

/// Verifies MAC tags (fast, blake2b) by recomputing them, after looking the exact inputs up by buffer
/// identity (`TagVerdicts`), so the receivers of one broadcast share one check and the receiver of a
/// message its signer vouched for checks nothing (README "Instructions per event").
final class FastVerifier: SignatureVerifier {
    private let replicaKeys: [any TagKey]
    private let clientKeys: [any TagKey]
    private let stats: CryptoStats
    /// Whole-certificate verdicts (a QC's n−f tags are many lookups' worth; `CertificateVerdicts`).
    private var certificates = CertificateVerdicts()
    private let verdicts: TagVerdictStore
    init(replicaKeys: [any TagKey], clientKeys: [any TagKey], stats: CryptoStats, verdicts: TagVerdictStore) {
        self.replicaKeys = replicaKeys
        self.clientKeys = clientKeys
        self.stats = stats
        self.verdicts = verdicts
    }
    private func key(of signer: Principal) -> (any TagKey)? {
        switch signer {
        case .replica(let r): return r >= 0 && r < replicaKeys.count ? replicaKeys[r] : nil
        case .client(let c): return c >= 0 && c < clientKeys.count ? clientKeys[c] : nil
        }
    }
    func verify(_ signature: Signature, domain: SigningDomain, message: ArraySlice<UInt8>, signer: Principal) -> Bool {
        stats.verifyRequests += 1
        // Only a known signer's checks and seals are ever remembered, so a hit implies a known signer.
        let located = verdicts.table.locate(signature, domain: domain, message: message, signer: signer)
        let ok: Bool
        if let (slot, key) = located, let known = verdicts.table.verdict(slot: slot, key: key) {
            stats.cacheHits += 1
            ok = known
        } else {
            stats.verified += 1
            guard let k = key(of: signer) else {
                stats.failures += 1
                return false
            }
            ok = k.tag(domain: domain, message: message) == signature
            if let (slot, key) = located { verdicts.table.remember(slot: slot, key: key, valid: ok, message: message) }
        }
        if !ok { stats.failures += 1 }
        return ok
    }
    func verifyCertificate(entries: ArraySlice<UInt8>, count: Int, context: [UInt8], _ body: () -> Bool) -> Bool {
        certificates.verdict(entries: entries, context: context, hit: { [stats] _ in
            // Counted as the requests they stand for, so cost models see the same work (issue 15).
            stats.verifyRequests += count
            stats.cacheHits += count
        }, body)
    }
}
