/// The replicated application: a deterministic key-value store.
///
/// Operations are canonical bytes: `u8 opcode ‖ key (u32-prefixed UTF-8) ‖ value (u32-prefixed)`.
/// Results are bytes too. Executing the same operations in the same order gives the same state and
/// the same results on every replica; `snapshot()` is canonical (sorted keys) so its digest can be
/// certified by checkpoints (Castro & Liskov §4.3).
public struct KeyValueStore: Sendable, Equatable {
    public enum Operation: Equatable, Sendable {
        case put(key: String, value: [UInt8])
        case get(key: String)
        /// Appends to the value (creating it) and returns the new length as u64.
        case append(key: String, value: [UInt8])
        /// No operation: PBFT's null request, used to fill gaps after a view change.
        case noop

        public static let keySizeMax = 256
        public static let valueSizeMax = 16 * 1024

        public var encoded: [UInt8] {
            var w = ByteWriter(capacity: 32 + {
                switch self {
                case let .put(k, v), let .append(k, v): return k.utf8.count + v.count
                case let .get(k): return k.utf8.count
                case .noop: return 0
                }
            }())
            switch self {
            case let .put(k, v): w.u8(1); w.string(k); w.lengthPrefixed(v)
            case let .get(k): w.u8(2); w.string(k)
            case let .append(k, v): w.u8(3); w.string(k); w.lengthPrefixed(v)
            case .noop: w.u8(0)
            }
            return w.bytes
        }

        public init(decoding bytes: [UInt8]) throws(DecodeError) {
            var r = ByteReader(bytes)
            let op = try RawOperation(&r)
            switch op.opcode {
            case 1: self = .put(key: op.key, value: Array(bytes[op.value]))
            case 2: self = .get(key: op.key)
            case 3: self = .append(key: op.key, value: Array(bytes[op.value]))
            default: self = .noop
            }
        }

        public var isReadOnly: Bool {
            if case .get = self { return true }
            return false
        }
    }

    /// Maximum number of keys; a put of a new key beyond it fails with result "FULL" (bounded memory).
    public static let keyCountMax = 1 << 20
    public static let valueLengthMax = 1 << 20

    /// Slot of each key; slots are never freed (there is no delete). Values and key bytes live in
    /// arrays indexed by slot, so an operation hashes its key once and a snapshot hashes nothing.
    private var index: [String: Int] = [:]
    private var keys: [String] = []
    /// UTF-8 of each key, by slot (what a snapshot writes).
    private var keyBytes: [[UInt8]] = []
    private var values: [[UInt8]] = []
    /// Slots in sorted key order, maintained on insertion, so a snapshot never sorts.
    private var sortedSlots: [Int] = []
    /// Sum of key and value lengths (sizes a snapshot's buffer exactly).
    private var payloadBytes = 0

    public init() {}

    public var count: Int { index.count }
    public func value(for key: String) -> [UInt8]? { index[key].map { values[$0] } }

    /// Executes an operation's bytes. Undecodable operations are executed as errors (deterministically).
    public mutating func execute(_ operation: [UInt8]) -> [UInt8] {
        var r = ByteReader(operation)
        return execute(&r)
    }

    /// Executes a request's operation, read in place from the request's bytes (same result as
    /// `execute(request.operation)`, without copying the operation or building an `Operation`).
    public mutating func execute(_ request: ClientRequest) -> [UInt8] {
        var r = ByteReader(request.bytes, range: request.operationRange)
        return execute(&r)
    }

    private mutating func execute(_ r: inout ByteReader) -> [UInt8] {
        guard let op = try? RawOperation(&r) else { return Array("ERR malformed".utf8) }
        switch op.opcode {
        case 1: return put(op.key, r.bytes, op.value)
        case 2: return get(op.key)
        case 3: return append(op.key, r.bytes, op.value)
        default: return []
        }
    }

    /// An operation decoded with its value left in place: `value` is a range of the reader's bytes.
    /// Accepts and rejects exactly the encodings `Operation(decoding:)` does.
    struct RawOperation {
        var opcode: UInt8
        var key: String = ""
        var value: Range<Int> = 0..<0

        init(_ r: inout ByteReader) throws(DecodeError) {
            opcode = try r.u8("kv opcode")
            switch opcode {
            case 0: break
            case 1, 3:
                key = try r.string("kv key", max: Operation.keySizeMax)
                let n = try r.count("kv value", max: Operation.valueSizeMax)
                let start = r.offset
                try r.skip(n, "kv value")
                value = start..<start + n
            case 2: key = try r.string("kv key", max: Operation.keySizeMax)
            default: throw .unknownTag(field: "kv opcode", tag: opcode)
            }
            try r.expectEnd()
        }
    }

    /// Same keys with the same values (keys compare as Strings, as a dictionary's would).
    public static func == (a: KeyValueStore, b: KeyValueStore) -> Bool {
        guard a.index.count == b.index.count else { return false }
        for (k, slot) in a.index {
            guard let other = b.index[k], a.values[slot] == b.values[other] else { return false }
        }
        return true
    }

    /// Adds a new key with an empty value and records it in sorted order (binary search insertion).
    private mutating func addKey(_ k: String) -> Int {
        var lo = 0, hi = sortedSlots.count
        while lo < hi {
            let mid = (lo + hi) / 2
            if keys[sortedSlots[mid]] < k { lo = mid + 1 } else { hi = mid }
        }
        let slot = keys.count
        sortedSlots.insert(slot, at: lo)
        index[k] = slot
        keys.append(k)
        let utf8 = Array(k.utf8)
        payloadBytes += utf8.count
        keyBytes.append(utf8)
        values.append([])
        return slot
    }

    public mutating func execute(_ op: Operation) -> [UInt8] {
        switch op {
        case .noop: return []
        case let .put(k, v): return put(k, v, v.indices)
        case let .get(k): return get(k)
        case let .append(k, v): return append(k, v, v.indices)
        }
    }

    /// Slot of `k`, adding the key if it is new; nil when the store is full.
    private mutating func slot(adding k: String) -> Int? {
        if let s = index[k] { return s }
        if index.count >= Self.keyCountMax { return nil }
        return addKey(k)
    }

    private static let okResult: [UInt8] = Array("OK".utf8)

    /// Stores `bytes[v]` as the value of `k`, reusing the old value's buffer (no allocation when it fits).
    private mutating func put(_ k: String, _ bytes: [UInt8], _ v: Range<Int>) -> [UInt8] {
        guard let slot = slot(adding: k) else { return Array("FULL".utf8) }
        payloadBytes += v.count - values[slot].count
        values[slot].removeAll(keepingCapacity: true)
        bytes.withUnsafeBufferPointer { values[slot].append(contentsOf: UnsafeBufferPointer(rebasing: $0[v])) }
        return KeyValueStore.okResult
    }

    private func get(_ k: String) -> [UInt8] {
        guard let slot = index[k] else { return [0] }
        let v = values[slot]
        var out: [UInt8] = []
        out.reserveCapacity(v.count + 1)
        out.append(1)
        out.append(contentsOf: v)
        return out
    }

    private mutating func append(_ k: String, _ bytes: [UInt8], _ v: Range<Int>) -> [UInt8] {
        guard let slot = slot(adding: k) else { return Array("FULL".utf8) }
        if values[slot].count + v.count <= Self.valueLengthMax {
            // In place: no copy of the value.
            bytes.withUnsafeBufferPointer { values[slot].append(contentsOf: UnsafeBufferPointer(rebasing: $0[v])) }
            payloadBytes += v.count
        }
        var w = ByteWriter(capacity: 8)
        w.u64(UInt64(values[slot].count))
        return w.bytes
    }

    /// Size in bytes of `snapshot()`.
    public var snapshotByteCount: Int { 4 + 8 * sortedSlots.count + payloadBytes }

    /// Canonical encoding: count, then (key, value) pairs in sorted key order.
    public func snapshot() -> [UInt8] {
        var w = ByteWriter(capacity: snapshotByteCount)
        appendSnapshot(to: &w)
        return w.bytes
    }

    /// Appends `snapshot()` to a writer without building it separately.
    public func appendSnapshot(to w: inout ByteWriter) {
        w.u32(UInt32(index.count))
        // One bulk write of the exact size: (u32 length ‖ key ‖ u32 length ‖ value) per key, in order.
        w.appendRaw(count: snapshotByteCount - 4) { out in
            guard let base = out.baseAddress else { return }
            var o = 0
            for slot in sortedSlots {
                Self.put(keyBytes[slot], at: base, &o)
                Self.put(values[slot], at: base, &o)
            }
            precondition(o == out.count, "snapshot size mismatch")
        }
    }

    /// Writes `u32 length ‖ field` at `base + o` (room checked by the caller's exact sizing) and moves `o`.
    @inline(__always)
    private static func put(_ field: [UInt8], at base: UnsafeMutableRawPointer, _ o: inout Int) {
        base.storeBytes(of: UInt32(field.count).bigEndian, toByteOffset: o, as: UInt32.self)
        o += 4
        field.withUnsafeBytes { src in
            if let from = src.baseAddress, src.count > 0 { (base + o).copyMemory(from: from, byteCount: src.count) }
        }
        o += field.count
    }

    public init(snapshot: [UInt8]) throws(DecodeError) {
        var r = ByteReader(snapshot)
        let n = try r.count("kv entries", max: Self.keyCountMax, minElementSize: 8)
        var previous: String? = nil
        for _ in 0..<n {
            let k = try r.string("kv key", max: Operation.keySizeMax)
            if let p = previous, !(p < k) { throw .invalid("kv snapshot keys not strictly sorted") }
            previous = k
            let v = try r.lengthPrefixed("kv value", max: Self.valueLengthMax)
            if let slot = index[k] {
                // Distinct Strings that compare equal (canonically equivalent): the later value wins.
                payloadBytes += v.count - values[slot].count
                values[slot] = v
                continue
            }
            let slot = keys.count
            index[k] = slot
            keys.append(k)
            let utf8 = Array(k.utf8)
            payloadBytes += utf8.count + v.count
            keyBytes.append(utf8)
            values.append(v)
            sortedSlots.append(slot)
        }
        try r.expectEnd()
    }

    public var digest: Digest { Digest.of(snapshot()) }
}
