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
            var w = ByteWriter(capacity: 16)
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
            let op = try r.u8("kv opcode")
            switch op {
            case 0: self = .noop
            case 1: self = .put(key: try r.string("kv key", max: Self.keySizeMax), value: try r.lengthPrefixed("kv value", max: Self.valueSizeMax))
            case 2: self = .get(key: try r.string("kv key", max: Self.keySizeMax))
            case 3: self = .append(key: try r.string("kv key", max: Self.keySizeMax), value: try r.lengthPrefixed("kv value", max: Self.valueSizeMax))
            default: throw .unknownTag(field: "kv opcode", tag: op)
            }
            try r.expectEnd()
        }

        public var isReadOnly: Bool {
            if case .get = self { return true }
            return false
        }
    }

    /// Maximum number of keys; a put of a new key beyond it fails with result "FULL" (bounded memory).
    public static let keyCountMax = 1 << 20
    public static let valueLengthMax = 1 << 20

    private var table: [String: [UInt8]] = [:]
    /// The keys in sorted order, maintained on insertion (there is no delete), so a snapshot never sorts.
    private var sortedKeys: [String] = []

    public init() {}

    public var count: Int { table.count }
    public func value(for key: String) -> [UInt8]? { table[key] }

    /// Executes an operation's bytes. Undecodable operations are executed as errors (deterministically).
    public mutating func execute(_ operation: [UInt8]) -> [UInt8] {
        guard let op = try? Operation(decoding: operation) else { return Array("ERR malformed".utf8) }
        return execute(op)
    }

    public static func == (a: KeyValueStore, b: KeyValueStore) -> Bool { a.table == b.table }

    /// Records a new key in `sortedKeys` (binary search insertion).
    private mutating func noteNewKey(_ k: String) {
        var lo = 0, hi = sortedKeys.count
        while lo < hi {
            let mid = (lo + hi) / 2
            if sortedKeys[mid] < k { lo = mid + 1 } else { hi = mid }
        }
        sortedKeys.insert(k, at: lo)
    }

    public mutating func execute(_ op: Operation) -> [UInt8] {
        switch op {
        case .noop:
            return []
        case let .put(k, v):
            if table[k] == nil {
                if table.count >= Self.keyCountMax { return Array("FULL".utf8) }
                noteNewKey(k)
            }
            table[k] = v
            return Array("OK".utf8)
        case let .get(k):
            guard let v = table[k] else { return [0] }
            return [1] + v
        case let .append(k, v):
            if table[k] == nil {
                if table.count >= Self.keyCountMax { return Array("FULL".utf8) }
                noteNewKey(k)
            }
            var cur = table[k] ?? []
            if cur.count + v.count <= Self.valueLengthMax { cur.append(contentsOf: v) }
            table[k] = cur
            var w = ByteWriter(capacity: 8)
            w.u64(UInt64(cur.count))
            return w.bytes
        }
    }

    /// Canonical encoding: count, then (key, value) pairs in sorted key order.
    public func snapshot() -> [UInt8] {
        var w = ByteWriter(capacity: 16 + table.count * 32)
        w.u32(UInt32(table.count))
        for k in sortedKeys {
            w.string(k)
            w.lengthPrefixed(table[k]!)
        }
        return w.bytes
    }

    public init(snapshot: [UInt8]) throws(DecodeError) {
        var r = ByteReader(snapshot)
        let n = try r.count("kv entries", max: Self.keyCountMax, minElementSize: 8)
        var previous: String? = nil
        for _ in 0..<n {
            let k = try r.string("kv key", max: Operation.keySizeMax)
            if let p = previous, !(p < k) { throw .invalid("kv snapshot keys not strictly sorted") }
            previous = k
            table[k] = try r.lengthPrefixed("kv value", max: Self.valueLengthMax)
            sortedKeys.append(k)
        }
        try r.expectEnd()
    }

    public var digest: Digest { Digest.of(snapshot()) }
}
