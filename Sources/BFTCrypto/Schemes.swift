import BFTCore
import CSodium

/// Counts what crypto work a run did; read by summaries and benchmarks.
public final class CryptoStats {
    public internal(set) var signed = 0
    /// Verification requests, including cache hits.
    public internal(set) var verifyRequests = 0
    /// Verifications actually computed (cache misses).
    public internal(set) var verified = 0
    /// Results computed on a verification worker and entered into the cache (live mode).
    public internal(set) var preverified = 0
    public internal(set) var cacheHits = 0
    public internal(set) var failures = 0
    public init() {}
}

enum Sodium {
    static let ready: Bool = { sodium_init() >= 0 }()
}

/// An Ed25519 key pair (libsodium). The secret key never leaves this object except through
/// `secretKeyBytes` for writing key files (live mode).
public final class Ed25519KeyPair {
    public let publicKey: [UInt8]
    private let secretKey: [UInt8]

    /// Deterministic key from a 32-byte seed (`crypto_sign_seed_keypair`).
    public init(seed: [UInt8]) {
        precondition(Sodium.ready, "libsodium failed to initialise")
        precondition(seed.count == Int(crypto_sign_SEEDBYTES), "Ed25519 seed must be 32 bytes")
        var pk = [UInt8](repeating: 0, count: Int(crypto_sign_PUBLICKEYBYTES))
        var sk = [UInt8](repeating: 0, count: Int(crypto_sign_SECRETKEYBYTES))
        _ = crypto_sign_seed_keypair(&pk, &sk, seed)
        publicKey = pk
        secretKey = sk
    }

    /// A fresh random key (libsodium's system randomness; live mode's `keygen` only).
    public convenience init() {
        precondition(Sodium.ready, "libsodium failed to initialise")
        var seed = [UInt8](repeating: 0, count: Int(crypto_sign_SEEDBYTES))
        randombytes_buf(&seed, seed.count)
        self.init(seed: seed)
    }

    public var seedBytes: [UInt8] { Array(secretKey[0..<32]) }

    public func sign(_ message: [UInt8]) -> Signature {
        var sig = [UInt8](repeating: 0, count: Int(crypto_sign_BYTES))
        _ = crypto_sign_detached(&sig, nil, message, UInt64(message.count), secretKey)
        return Signature(bytes: sig)
    }

    public static func verify(_ signature: Signature, message: [UInt8], publicKey: [UInt8]) -> Bool {
        guard publicKey.count == Int(crypto_sign_PUBLICKEYBYTES) else { return false }
        let sig = signature.bytes
        return crypto_sign_verify_detached(sig, message, UInt64(message.count), publicKey) == 0
    }
}

/// A signer's BLAKE2b-512 key, absorbed once into a libsodium state template (64-byte aligned raw
/// memory, never exposed). Each tag copies the template and absorbs `domain ‖ message`.
final class FastKey {
    private let template: UnsafeMutableRawPointer

    init(_ key: [UInt8]) {
        precondition(Sodium.ready, "libsodium failed to initialise")
        template = .allocate(byteCount: crypto_generichash_statebytes(), alignment: 64)
        key.withUnsafeBufferPointer { k in
            _ = bftsim_blake2b_keyed_template(template, k.baseAddress, k.count, 64)
        }
    }

    deinit { template.deallocate() }

    func tag(domain: SigningDomain, message: ArraySlice<UInt8>) -> Signature {
        var out = Signature.zero
        withUnsafeMutableBytes(of: &out.words) { o in
            domain.bytes.withUnsafeBufferPointer { d in
                message.withUnsafeBufferPointer { m in
                    _ = bftsim_blake2b_from_template(
                        o.baseAddress!.assumingMemoryBound(to: UInt8.self), 64, template,
                        d.baseAddress, UInt64(d.count), m.baseAddress, UInt64(m.count))
                }
            }
        }
        return out
    }
}

final class Ed25519Signer: MessageSigner {
    let principal: Principal
    private let keyPair: Ed25519KeyPair
    private let stats: CryptoStats
    init(principal: Principal, keyPair: Ed25519KeyPair, stats: CryptoStats) {
        self.principal = principal
        self.keyPair = keyPair
        self.stats = stats
    }
    func sign(domain: SigningDomain, _ message: ArraySlice<UInt8>) -> Signature {
        stats.signed += 1
        return keyPair.sign(domain.bytes + message)
    }
}

/// A signer's 16-byte SipHash key in raw memory that never leaves this object.
final class SipHashKey {
    private let key: UnsafeMutablePointer<UInt8>

    init(_ secret: [UInt8]) {
        precondition(secret.count >= 16, "SipHash key needs 16 bytes")
        key = .allocate(capacity: 16)
        for i in 0..<16 { key[i] = secret[i] }
    }

    deinit {
        key.update(repeating: 0, count: 16)
        key.deallocate()
    }

    func tag(domain: SigningDomain, message: ArraySlice<UInt8>) -> Signature {
        var out = Signature.zero
        withUnsafeMutableBytes(of: &out.words) { o in
            domain.fingerprint.withUnsafeBufferPointer { d in
                message.withUnsafeBufferPointer { m in
                    _ = bftsim_siphash_tag(o.baseAddress!.assumingMemoryBound(to: UInt8.self), key, d.baseAddress,
                                           m.baseAddress, UInt64(m.count))
                }
            }
        }
        return out
    }
}

/// Either MAC key type, behind one interface.
protocol TagKey: AnyObject {
    func tag(domain: SigningDomain, message: ArraySlice<UInt8>) -> Signature
}
extension FastKey: TagKey {}
extension SipHashKey: TagKey {}

final class FastSigner: MessageSigner {
    let principal: Principal
    private let key: any TagKey
    private let stats: CryptoStats
    private let verdicts: TagVerdictStore
    init(principal: Principal, key: any TagKey, stats: CryptoStats, verdicts: TagVerdictStore) {
        self.principal = principal
        self.key = key
        self.stats = stats
        self.verdicts = verdicts
    }
    func sign(domain: SigningDomain, _ message: ArraySlice<UInt8>) -> Signature {
        stats.signed += 1
        return key.tag(domain: domain, message: message)
    }

    /// Seals, then vouches for the result: the tag just computed is valid for exactly this buffer's
    /// payload, so its receivers find the verdict (`TagVerdicts`) rather than recompute the tag.
    func sealed(_ w: inout ByteWriter, domain: SigningDomain) -> [UInt8] {
        var bytes = w.takeBytes()
        let payloadCount = bytes.count
        let sig = sign(domain: domain, bytes[...])
        sig.append(to: &bytes)
        verdicts.table.vouch(sig, domain: domain, message: bytes[..<payloadCount], signer: principal)
        return bytes
    }
}
