/// Why untrusted bytes could not be decoded. Decoders never trap and never allocate more than the
/// input's length justifies.
public enum DecodeError: Error, Equatable, Sendable, CustomStringConvertible {
    case truncated(field: String, needed: Int, remaining: Int)
    case lengthTooLarge(field: String, length: Int, max: Int)
    case unknownTag(field: String, tag: UInt8)
    case valueOutOfRange(field: String, value: UInt64)
    case trailingBytes(count: Int)
    case invalid(String)

    public var description: String {
        switch self {
        case let .truncated(field, needed, remaining): return "truncated \(field): needs \(needed) bytes, \(remaining) left"
        case let .lengthTooLarge(field, length, max): return "\(field) length \(length) exceeds maximum \(max)"
        case let .unknownTag(field, tag): return "unknown \(field) tag \(tag)"
        case let .valueOutOfRange(field, value): return "\(field) value \(value) out of range"
        case let .trailingBytes(count): return "\(count) trailing bytes"
        case let .invalid(what): return what
        }
    }
}

/// Appends canonical big-endian encodings. There is exactly one encoding per value: fixed-width
/// integers, u32 length prefixes, fields in declaration order.
public struct ByteWriter: Sendable {
    public private(set) var bytes: [UInt8]

    public init(capacity: Int = 128) {
        bytes = []
        bytes.reserveCapacity(capacity)
    }

    /// The bytes `body` writes into a fresh writer (a statement a signature covers, say).
    public static func encoding(capacity: Int, _ body: (inout ByteWriter) -> Void) -> [UInt8] {
        var w = ByteWriter(capacity: capacity)
        body(&w)
        return w.bytes
    }

    /// Moves the bytes out and leaves the writer empty (the result is uniquely referenced).
    public mutating func takeBytes() -> [UInt8] {
        var out: [UInt8] = []
        swap(&out, &bytes)
        return out
    }

    /// Bytes written so far.
    public var count: Int { bytes.count }

    /// Empties the writer and keeps its buffer, for writers reused across records.
    public mutating func reset() { bytes.removeAll(keepingCapacity: true) }

    /// Overwrites four bytes at `offset` (already written) with `v`, for length prefixes known only
    /// after the body is written.
    public mutating func setU32(_ v: UInt32, at offset: Int) {
        precondition(offset >= 0 && offset + 4 <= bytes.count, "setU32 outside the written bytes")
        bytes[offset] = UInt8(truncatingIfNeeded: v >> 24)
        bytes[offset + 1] = UInt8(truncatingIfNeeded: v >> 16)
        bytes[offset + 2] = UInt8(truncatingIfNeeded: v >> 8)
        bytes[offset + 3] = UInt8(truncatingIfNeeded: v)
    }

    @inline(__always) public mutating func u8(_ v: UInt8) { bytes.append(v) }
    @inline(__always) public mutating func bool(_ v: Bool) { bytes.append(v ? 1 : 0) }
    @inline(__always) public mutating func u16(_ v: UInt16) {
        bytes.append(UInt8(truncatingIfNeeded: v >> 8))
        bytes.append(UInt8(truncatingIfNeeded: v))
    }
    // Byte by byte: appending a raw buffer goes through the generic `append(contentsOf:)` path,
    // which costs far more than a few single-byte appends.
    @inline(__always) public mutating func u32(_ v: UInt32) {
        bytes.append(UInt8(truncatingIfNeeded: v >> 24))
        bytes.append(UInt8(truncatingIfNeeded: v >> 16))
        bytes.append(UInt8(truncatingIfNeeded: v >> 8))
        bytes.append(UInt8(truncatingIfNeeded: v))
    }
    @inline(__always) public mutating func u64(_ v: UInt64) {
        u32(UInt32(truncatingIfNeeded: v >> 32))
        u32(UInt32(truncatingIfNeeded: v))
    }
    /// Length-prefixed (u32) byte string.
    public mutating func lengthPrefixed<C: Collection>(_ v: C) where C.Element == UInt8 {
        u32(UInt32(v.count))
        bytes.append(contentsOf: v)
    }
    /// Appends `count` bytes that `body` writes into (zero-filled first) in one step, for bulk encoders.
    public mutating func appendRaw(count: Int, _ body: (UnsafeMutableRawBufferPointer) -> Void) {
        let start = bytes.count
        bytes.append(contentsOf: repeatElement(0, count: count))
        bytes.withUnsafeMutableBytes { all in body(UnsafeMutableRawBufferPointer(rebasing: all[start..<start + count])) }
    }

    /// Raw bytes with no prefix (fixed-size fields such as digests and signatures).
    public mutating func raw<C: Collection>(_ v: C) where C.Element == UInt8 { bytes.append(contentsOf: v) }
    public mutating func string(_ s: String) {
        let utf8 = s.utf8
        u32(UInt32(utf8.count))
        bytes.append(contentsOf: utf8)
    }
    public mutating func digest(_ d: Digest) { d.append(to: &bytes) }
    public mutating func signature(_ s: Signature) { s.append(to: &bytes) }
}

/// Reads canonical encodings from untrusted bytes; every read checks the remaining length first.
public struct ByteReader: Sendable {
    public let bytes: [UInt8]
    public private(set) var offset: Int
    /// Reads stop here: a reader over `bytes[offset..<end]` sees exactly what a reader over a copy of
    /// that range would (same values, same errors), without the copy.
    public let end: Int

    public init(_ bytes: [UInt8], offset: Int = 0) {
        self.bytes = bytes
        self.offset = offset
        end = bytes.count
    }

    /// A reader over `bytes[range]`: behaves as `ByteReader(Array(bytes[range]))`, offsets aside.
    public init(_ bytes: [UInt8], range: Range<Int>) {
        precondition(range.lowerBound >= 0 && range.upperBound <= bytes.count, "reader range outside the bytes")
        self.bytes = bytes
        offset = range.lowerBound
        end = range.upperBound
    }

    public var remaining: Int { end - offset }
    public var isAtEnd: Bool { offset == end }

    @inline(__always) mutating func need(_ n: Int, _ field: String) throws(DecodeError) {
        guard n <= remaining else { throw .truncated(field: field, needed: n, remaining: remaining) }
    }

    public mutating func u8(_ field: String = "u8") throws(DecodeError) -> UInt8 {
        try need(1, field)
        defer { offset += 1 }
        return bytes[offset]
    }
    public mutating func bool(_ field: String = "bool") throws(DecodeError) -> Bool {
        let b = try u8(field)
        guard b <= 1 else { throw .valueOutOfRange(field: field, value: UInt64(b)) }
        return b == 1
    }
    public mutating func u16(_ field: String = "u16") throws(DecodeError) -> UInt16 {
        try need(2, field)
        defer { offset += 2 }
        return UInt16(bytes[offset]) << 8 | UInt16(bytes[offset + 1])
    }
    // Big-endian integers are read with one unaligned load after the bounds check (`need`), not byte
    // by byte: the decoders of every message read several per message.
    public mutating func u32(_ field: String = "u32") throws(DecodeError) -> UInt32 {
        try need(4, field)
        let start = offset
        offset += 4
        return UInt32(bigEndian: bytes.withUnsafeBytes { $0.loadUnaligned(fromByteOffset: start, as: UInt32.self) })
    }
    public mutating func u64(_ field: String = "u64") throws(DecodeError) -> UInt64 {
        try need(8, field)
        let start = offset
        offset += 8
        return UInt64(bigEndian: bytes.withUnsafeBytes { $0.loadUnaligned(fromByteOffset: start, as: UInt64.self) })
    }
    /// A u32 count that must not exceed `max`, and whose elements (each at least `minElementSize`
    /// bytes) must fit in what is left, so a hostile count cannot make the decoder allocate.
    public mutating func count(_ field: String, max: Int, minElementSize: Int = 1) throws(DecodeError) -> Int {
        let n = Int(try u32(field))
        guard n <= max else { throw .lengthTooLarge(field: field, length: n, max: max) }
        guard n * Swift.max(1, minElementSize) <= remaining else {
            throw .truncated(field: field, needed: n * minElementSize, remaining: remaining)
        }
        return n
    }
    public mutating func lengthPrefixed(_ field: String, max: Int) throws(DecodeError) -> [UInt8] {
        let n = try count(field, max: max)
        return try raw(n, field)
    }
    public mutating func raw(_ n: Int, _ field: String) throws(DecodeError) -> [UInt8] {
        try need(n, field)
        defer { offset += n }
        return Array(bytes[offset..<offset + n])
    }
    /// Moves past `n` bytes without copying them.
    public mutating func skip(_ n: Int, _ field: String) throws(DecodeError) {
        try need(n, field)
        offset += n
    }
    public mutating func string(_ field: String, max: Int) throws(DecodeError) -> String {
        let n = try count(field, max: max)
        try need(n, field)
        let start = offset
        offset += n
        // ASCII is valid UTF-8 and decodes to the same String: skip the generic validating initialiser.
        let ascii: String? = bytes.withUnsafeBufferPointer { all in
            let b = UnsafeBufferPointer(rebasing: all[start..<start + n])
            for byte in b where byte >= 0x80 { return nil }
            return String(decoding: b, as: UTF8.self)
        }
        if let ascii { return ascii }
        guard let s = String(validating: bytes[start..<start + n], as: UTF8.self) else { throw .invalid("\(field) is not UTF-8") }
        return s
    }
    public mutating func digest(_ field: String = "digest") throws(DecodeError) -> Digest {
        try need(Digest.byteCount, field)
        let start = offset
        offset += Digest.byteCount
        // One unaligned load in memory order: the words `Digest(bytes:)` would copy byte by byte.
        return Digest(words: bytes.withUnsafeBytes { $0.loadUnaligned(fromByteOffset: start, as: SIMD4<UInt64>.self) })
    }
    public mutating func signature(_ field: String = "signature") throws(DecodeError) -> Signature {
        try need(Signature.byteCount, field)
        let start = offset
        offset += Signature.byteCount
        return Signature(words: bytes.withUnsafeBytes { $0.loadUnaligned(fromByteOffset: start, as: SIMD8<UInt64>.self) })
    }
    public func expectEnd() throws(DecodeError) {
        guard isAtEnd else { throw .trailingBytes(count: remaining) }
    }
}
