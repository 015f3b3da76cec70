/// A domain-separation tag prefixed to every signed message so a signature over one message type
/// can never be replayed as another ("bftsim/pbft/v1/PREPARE" vs ".../COMMIT").
public struct SigningDomain: Hashable, Sendable, CustomStringConvertible {
    public let name: String
    public let bytes: [UInt8]
    /// First 16 bytes of BLAKE2b-256(bytes): a fixed-size stand-in for the domain in MAC schemes.
    public let fingerprint: [UInt8]
    /// The fingerprint's two words (little-endian loads of its halves), compared without touching an array.
    public let fingerprintWords: SIMD2<UInt64>
    public init(_ name: String) {
        self.name = name
        // NUL terminator: no domain is a prefix of another domain's encoding.
        bytes = Array(name.utf8) + [0]
        fingerprint = Array(Digest.of(bytes).bytes.prefix(16))
        fingerprintWords = fingerprint.withUnsafeBytes {
            SIMD2($0.loadUnaligned(as: UInt64.self), $0.loadUnaligned(fromByteOffset: 8, as: UInt64.self))
        }
    }
    public var description: String { name }
}

/// Signs on behalf of exactly one principal. Only the object holds the private key, so code that
/// is handed a signer (including Byzantine wrappers) can sign as that principal and no other.
public protocol MessageSigner: AnyObject {
    var principal: Principal { get }
    func sign(domain: SigningDomain, _ message: ArraySlice<UInt8>) -> Signature
    /// Takes the writer's bytes (left empty), appends the signature over them and returns the message.
    /// A signer may remember that it sealed exactly this buffer (the simulator's MAC signers do, so the
    /// receiver of a unicast message does not recompute its tag; `TagVerdicts`).
    func sealed(_ w: inout ByteWriter, domain: SigningDomain) -> [UInt8]
}

/// Checks the signatures a protocol message carries with `verifier`, discarding the verdicts: run by the
/// live host on its verification thread with a `RecordingVerifier`, so the replica's own checks of the
/// same bytes later hit the cache (issue 13). Each protocol supplies one; it never traps on garbage.
public typealias MessageAuthenticator = @Sendable ([UInt8], SignatureVerifier) -> Void

/// Verifies any principal's signatures.
public protocol SignatureVerifier: AnyObject {
    func verify(_ signature: Signature, domain: SigningDomain, message: ArraySlice<UInt8>, signer: Principal) -> Bool
    /// Verifies a certificate: `body` checks its `count` signed entries, held in `entries`, against
    /// `context` (the statement they sign and anything else `body` reads). A verifier may remember the
    /// verdict for this exact buffer (see `CertificateVerdicts`) and answer the same certificate again
    /// without running `body`: in the simulator every replica receives the same bytes of a broadcast
    /// QC, and at n=256 re-verifying its 171 signatures at each of them dominates a run (issue 19).
    func verifyCertificate(entries: ArraySlice<UInt8>, count: Int, context: [UInt8], _ body: () -> Bool) -> Bool
}

extension SignatureVerifier {
    public func verifyCertificate(entries: ArraySlice<UInt8>, count: Int, context: [UInt8], _ body: () -> Bool) -> Bool { body() }
}

/// Remembered certificate verdicts, keyed by the identity of the buffer that holds the signed entries.
///
/// Soundness: an entry keeps its buffer alive (it stores the slice), so while it is cached the buffer's
/// address cannot be reused, and the buffer cannot change: Swift arrays copy on write, and the cached
/// reference makes every other holder's write copy. Equal (address, range, context) therefore means the
/// very bytes that were verified, checked against the same statement; a forged certificate is a different
/// buffer and is verified for real. Bounded: when full the table is cleared, which changes speed only.
public struct CertificateVerdicts {
    struct Key: Hashable {
        var address: UInt
        var start: Int
        var count: Int
        var context: [UInt8]
    }
    /// Certificates with fewer entries are verified directly (a lookup costs about as much as a dozen
    /// MAC checks).
    public static let entriesMin = 16
    private var table: [Key: (entries: ArraySlice<UInt8>, valid: Bool)] = [:]
    private let capacity: Int
    public init(capacity: Int = 256) { self.capacity = capacity }

    /// The remembered verdict, or `body`'s (remembered).
    public mutating func verdict(entries: ArraySlice<UInt8>, context: [UInt8], hit: (Bool) -> Void, _ body: () -> Bool) -> Bool {
        guard !entries.isEmpty else { return body() }
        let address = entries.withUnsafeBufferPointer { UInt(bitPattern: $0.baseAddress) }
        let key = Key(address: address, start: entries.startIndex, count: entries.count, context: context)
        if let known = table[key] {
            hit(known.valid)
            return known.valid
        }
        let valid = body()
        if table.count >= capacity { table.removeAll(keepingCapacity: true) }
        table[key] = (entries, valid)
        return valid
    }
}

/// Helpers for the common wire layout `payload ‖ signature(64)`, where the signature covers
/// `domain ‖ payload`.
extension MessageSigner {
    /// Appends the signature over everything written so far.
    public func sealed(_ w: ByteWriter, domain: SigningDomain) -> [UInt8] {
        var w = w
        return sealed(&w, domain: domain)
    }

    /// Same, taking the writer's bytes (left empty) so the signature is appended in place, without
    /// copying the payload.
    public func sealed(_ w: inout ByteWriter, domain: SigningDomain) -> [UInt8] {
        var bytes = w.takeBytes()
        let sig = sign(domain: domain, bytes[...])
        sig.append(to: &bytes)
        return bytes
    }
}

extension SignatureVerifier {
    /// Verifies a `payload ‖ signature` message whose payload is `bytes[start..<end-64]`.
    public func verifySealed(_ bytes: [UInt8], from start: Int = 0, to end: Int? = nil, domain: SigningDomain, signer: Principal) -> Bool {
        let end = end ?? bytes.count
        guard end - start >= Signature.byteCount else { return false }
        let sigStart = end - Signature.byteCount
        let sig = Signature(bytes: bytes[sigStart..<end])
        return verify(sig, domain: domain, message: bytes[start..<sigStart], signer: signer)
    }
}
