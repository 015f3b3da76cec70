import CSodium

/// A fixed number of bytes stored inline in SIMD words (no heap), so it hashes and compares cheaply.
/// Memory order is preserved: `init(bytes:)` and `bytes` round-trip exactly.
public protocol InlineBytes {
    associatedtype Words: SIMD where Words.Scalar == UInt64
    static var byteCount: Int { get }
    var words: Words { get }
    init(words: Words)
}

extension InlineBytes {
    /// From exactly `byteCount` bytes.
    public init<C: Collection>(bytes: C) where C.Element == UInt8 {
        precondition(bytes.count == Self.byteCount, "\(Self.self) needs \(Self.byteCount) bytes")
        var w = Words()
        withUnsafeMutableBytes(of: &w) { dst in
            if bytes.withContiguousStorageIfAvailable({ dst.copyMemory(from: UnsafeRawBufferPointer($0)) }) == nil {
                for (i, b) in bytes.enumerated() { dst[i] = b }
            }
        }
        self.init(words: w)
    }

    public var bytes: [UInt8] { withUnsafeBytes(of: words) { Array($0) } }
    public func append(to out: inout [UInt8]) { withUnsafeBytes(of: words) { out.append(contentsOf: $0) } }
}

/// A 32-byte BLAKE2b-256 digest. Stored inline (no heap) so it hashes and compares cheaply.
public struct Digest: InlineBytes, Hashable, Comparable, Sendable, CustomStringConvertible {
    public static let byteCount = 32
    public var words: SIMD4<UInt64>

    public static let zero = Digest(words: .zero)

    public init(words: SIMD4<UInt64>) { self.words = words }

    /// BLAKE2b-256 of `data` (libsodium `crypto_generichash`).
    public static func of<C: ContiguousCollectionish>(_ data: C) -> Digest { data.blake2b() }

    /// A fingerprint of an operation result for observations: the bytes themselves (length byte first,
    /// zero-padded) when they fit in 31 bytes, else BLAKE2b-256. Injective on short results and
    /// collision-resistant on long ones, so checkers compare results by fingerprint; it saves a hash
    /// per replica per executed request (most results are a few bytes).
    public static func fingerprint(ofResult result: [UInt8]) -> Digest {
        guard result.count < Digest.byteCount else { return Digest.of(result) }
        var d = Digest.zero
        withUnsafeMutableBytes(of: &d.words) { out in
            out[0] = UInt8(result.count)
            for (i, b) in result.enumerated() { out[i + 1] = b }
        }
        return d
    }

    /// BLAKE2b-256 over several parts, as if concatenated.
    public static func of(parts: [[UInt8]]) -> Digest {
        Digest.of(parts.reduce(into: [UInt8]()) { $0.append(contentsOf: $1) })
    }

    public var hex: String { bytes.hexString }
    /// First 8 hex digits, for humans.
    public var short: String { String(hex.prefix(8)) }
    public var description: String { short }

    /// Byte-lexicographic order, word by word: the bytes are the words in memory order, so each word
    /// read big-endian compares as its bytes do (no arrays built per comparison).
    public static func < (a: Digest, b: Digest) -> Bool {
        for i in 0..<4 where a.words[i] != b.words[i] {
            return a.words[i].bigEndian < b.words[i].bigEndian
        }
        return false
    }

    public func hash(into hasher: inout Hasher) { hasher.combine(mixedWord) }

    /// What `Dictionary` and `Set` call to place a key (the underscored requirement of `Hashable`; Int
    /// and the standard library's own keys implement it the same way). A digest is already uniformly
    /// distributed, so folding its words and one multiply-xorshift round with the table's seed spreads
    /// it as well as SipHash would, without a `Hasher`'s set-up and finalisation per lookup, which was
    /// 5–7 % of a chained-HotStuff run (its block tree and certificate tables are keyed by digest;
    /// issue 19). The seed is the table's own, so nothing here depends on the process.
    public func _rawHashValue(seed: Int) -> Int {
        Int(truncatingIfNeeded: Digest.mix(mixedWord ^ UInt64(UInt(bitPattern: seed))))
    }

    /// All four words folded into one (a result fingerprint's bytes sit in the first words only).
    @inline(__always)
    var mixedWord: UInt64 {
        words[0] ^ words[1].rotatedLeft(17) ^ words[2].rotatedLeft(31) ^ words[3].rotatedLeft(47)
    }

    /// The finaliser of MurmurHash3's 64-bit variant (Appleby): every input bit flips each output bit
    /// with probability about one half.
    @inline(__always)
    static func mix(_ value: UInt64) -> UInt64 {
        var x = value
        x ^= x >> 33
        x &*= 0xff51_afd7_ed55_8ccd
        x ^= x >> 33
        x &*= 0xc4ce_b9fe_1a85_ec53
        x ^= x >> 33
        return x
    }
}

extension UInt64 {
    @inline(__always)
    func rotatedLeft(_ k: UInt64) -> UInt64 { (self << k) | (self >> (64 - k)) }
}

/// Byte containers that can be hashed without copying.
public protocol ContiguousCollectionish {
    func withUnsafeBytesForHashing<R>(_ body: (UnsafeRawBufferPointer) -> R) -> R
}
extension Array: ContiguousCollectionish where Element == UInt8 {
    public func withUnsafeBytesForHashing<R>(_ body: (UnsafeRawBufferPointer) -> R) -> R { withUnsafeBytes(body) }
}
extension ArraySlice: ContiguousCollectionish where Element == UInt8 {
    public func withUnsafeBytesForHashing<R>(_ body: (UnsafeRawBufferPointer) -> R) -> R { withUnsafeBytes(body) }
}
extension ContiguousCollectionish {
    func blake2b() -> Digest {
        var d = Digest.zero
        withUnsafeBytesForHashing { input in
            withUnsafeMutableBytes(of: &d.words) { out in
                _ = crypto_generichash(
                    out.baseAddress!.assumingMemoryBound(to: UInt8.self), 32,
                    input.baseAddress?.assumingMemoryBound(to: UInt8.self), UInt64(input.count), nil, 0)
            }
        }
        return d
    }
}

/// A 64-byte signature (Ed25519, or the fast scheme's 64-byte keyed BLAKE2b tag). Stored inline.
public struct Signature: InlineBytes, Hashable, Sendable, CustomStringConvertible {
    public static let byteCount = 64
    public var words: SIMD8<UInt64>
    public static let zero = Signature(words: .zero)
    public init(words: SIMD8<UInt64>) { self.words = words }
    public var description: String { String(bytes.hexString.prefix(8)) }
}

extension Sequence where Element == UInt8 {
    public var hexString: String {
        let digits = Array("0123456789abcdef".utf8)
        var out: [UInt8] = []
        for b in self {
            out.append(digits[Int(b >> 4)])
            out.append(digits[Int(b & 0xf)])
        }
        return String(decoding: out, as: UTF8.self)
    }
}
