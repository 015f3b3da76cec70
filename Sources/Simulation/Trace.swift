#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif
import BFTCore
import CSodium

/// Where trace lines go. A line is one compact JSON object with sorted keys and no trailing newline.
public protocol TraceSink: AnyObject {
    func write(_ line: String)
    /// Makes everything written so far visible (called once at the end of a run).
    func flush()
}

extension TraceSink {
    public func flush() {}
}

/// How much tracing a run does.
///
/// The trace hash is what determinism checks compare, so it is on by default; benchmarks turn
/// tracing off entirely (then `SimulationResult.traceHash` is `Digest.zero`).
public enum TraceMode {
    /// No lines are built and no hash is computed: the fastest mode, for benchmarks.
    case off
    /// Lines are built and hashed but not written anywhere.
    case hashOnly
    /// Lines are hashed and written to the sink.
    case full(TraceSink)
}

/// Writes trace lines to a JSONL file through a buffer (one line per event).
public final class JSONLFileSink: TraceSink {
    /// Bytes buffered before a write to the file.
    public static let bufferSizeMax = 1 << 16
    private var file: UnsafeMutablePointer<FILE>?
    private var buffer: [UInt8] = []

    /// Opens (truncates) `path`; returns nil when the file cannot be opened.
    public init?(path: String) {
        guard let f = fopen(path, "wb") else { return nil }
        file = f
        buffer.reserveCapacity(JSONLFileSink.bufferSizeMax + 1024)
    }

    public func write(_ line: String) {
        buffer.append(contentsOf: line.utf8)
        buffer.append(0x0A)
        if buffer.count >= JSONLFileSink.bufferSizeMax { drain() }
    }

    public func flush() {
        drain()
        if let file { fflush(file) }
    }

    /// Flushes and closes the file; later writes are ignored.
    public func close() {
        flush()
        if let file { fclose(file) }
        file = nil
    }

    private func drain() {
        guard let file, !buffer.isEmpty else {
            buffer.removeAll(keepingCapacity: true)
            return
        }
        buffer.withUnsafeBytes { _ = fwrite($0.baseAddress, 1, $0.count, file) }
        buffer.removeAll(keepingCapacity: true)
    }

    deinit { close() }
}

/// Keeps trace lines in memory (tests, small runs).
public final class MemoryTraceSink: TraceSink {
    public private(set) var lines: [String] = []
    public init() {}
    public func write(_ line: String) { lines.append(line) }
}

/// A running BLAKE2b-256 over the trace bytes (each line followed by a newline), so the final hash
/// equals BLAKE2b-256 of the `trace.jsonl` file a full trace writes.
struct TraceHasher {
    /// libsodium's state is 64-byte aligned and imports as opaque, so it lives in raw memory.
    private var memory: UnsafeMutableRawPointer
    private var state: OpaquePointer { OpaquePointer(memory) }

    init() {
        memory = .allocate(byteCount: crypto_generichash_statebytes(), alignment: 64)
        crypto_generichash_init(state, nil, 0, 32)
    }

    /// Absorbs bytes (a rendered line including its newline).
    mutating func absorb(_ bytes: [UInt8]) {
        bytes.withUnsafeBufferPointer { buf in
            _ = crypto_generichash_update(state, buf.baseAddress, UInt64(buf.count))
        }
    }

    /// Finishes the hash; the hasher must not be used afterwards.
    mutating func finish() -> Digest {
        var out = [UInt8](repeating: 0, count: 32)
        _ = crypto_generichash_final(state, &out, 32)
        memory.deallocate()
        return Digest(bytes: out)
    }
}

/// Builds one trace line: a compact JSON object whose keys are sorted (byte order) when rendered.
///
/// Values are integers, strings or pre-rendered JSON (arrays of integers); never floats, so the text
/// is the same on every platform. Keys are static strings and the line renders straight to bytes, so
/// hashing a trace costs no string building.
struct TraceLine {
    enum Value {
        case int(Int64)
        case string(String)
        /// Already valid JSON (e.g. `[[0,1],[2]]`).
        case raw(String)
    }

    private var keys: [StaticString] = []
    private var values: [Value] = []

    init(kind: String, time: Nanoseconds, event: UInt64) {
        keys.reserveCapacity(12)
        values.reserveCapacity(12)
        set("kind", kind)
        set("t", time)
        set("i", event)
    }

    mutating func set(_ key: StaticString, _ value: Int64) { append(key, .int(value)) }
    mutating func set(_ key: StaticString, _ value: Int) { append(key, .int(Int64(value))) }
    mutating func set(_ key: StaticString, _ value: UInt64) {
        append(key, value <= UInt64(Int64.max) ? .int(Int64(value)) : .string(String(value)))
    }
    mutating func set(_ key: StaticString, _ value: String) { append(key, .string(value)) }
    mutating func setRaw(_ key: StaticString, _ json: String) { append(key, .raw(json)) }

    private mutating func append(_ key: StaticString, _ value: Value) {
        keys.append(key)
        values.append(value)
    }

    /// Appends the rendered line (without newline) to `out`.
    func render(into out: inout [UInt8]) {
        // Insertion sort of field indices by key bytes: lines have about ten fields.
        var order = Array(keys.indices)
        for i in 1..<max(1, order.count) {
            var j = i
            while j > 0, TraceLine.precedes(keys[order[j]], keys[order[j - 1]]) {
                order.swapAt(j, j - 1)
                j -= 1
            }
        }
        out.append(UInt8(ascii: "{"))
        for (n, f) in order.enumerated() {
            if n > 0 {
                precondition(!TraceLine.equal(keys[order[n - 1]], keys[f]), "duplicate trace key \(keys[f])")
                out.append(UInt8(ascii: ","))
            }
            out.append(UInt8(ascii: "\""))
            keys[f].withUTF8Buffer { out.append(contentsOf: $0) }
            out.append(UInt8(ascii: "\""))
            out.append(UInt8(ascii: ":"))
            switch values[f] {
            case .int(let v): TraceLine.appendInt(v, to: &out)
            case .string(let s): TraceLine.appendQuoted(s, to: &out)
            case .raw(let json): out.append(contentsOf: json.utf8)
            }
        }
        out.append(UInt8(ascii: "}"))
    }

    /// The rendered line as a string.
    func rendered() -> String {
        var out: [UInt8] = []
        render(into: &out)
        return String(decoding: out, as: UTF8.self)
    }

    private static func precedes(_ a: StaticString, _ b: StaticString) -> Bool {
        a.withUTF8Buffer { x in b.withUTF8Buffer { y in x.lexicographicallyPrecedes(y) } }
    }

    private static func equal(_ a: StaticString, _ b: StaticString) -> Bool {
        a.withUTF8Buffer { x in b.withUTF8Buffer { y in x.elementsEqual(y) } }
    }

    static func appendInt(_ v: Int64, to out: inout [UInt8]) {
        if v == 0 {
            out.append(UInt8(ascii: "0"))
            return
        }
        if v < 0 { out.append(UInt8(ascii: "-")) }
        var m = v.magnitude
        var digits: (UInt64, UInt64, UInt64) = (0, 0, 0)  // up to 20 digits, in a fixed-size buffer
        var count = 0
        withUnsafeMutableBytes(of: &digits) { buf in
            while m > 0 {
                buf[count] = UInt8(ascii: "0") + UInt8(m % 10)
                m /= 10
                count += 1
            }
            for k in stride(from: count - 1, through: 0, by: -1) { out.append(buf[k]) }
        }
    }

    private static let hexDigits = Array("0123456789abcdef".utf8)

    static func appendQuoted(_ s: String, to out: inout [UInt8]) {
        out.append(UInt8(ascii: "\""))
        for b in s.utf8 {
            switch b {
            case UInt8(ascii: "\""): out.append(UInt8(ascii: "\\")); out.append(b)
            case UInt8(ascii: "\\"): out.append(UInt8(ascii: "\\")); out.append(b)
            case 0x0A: out.append(UInt8(ascii: "\\")); out.append(UInt8(ascii: "n"))
            case 0x0D: out.append(UInt8(ascii: "\\")); out.append(UInt8(ascii: "r"))
            case 0x09: out.append(UInt8(ascii: "\\")); out.append(UInt8(ascii: "t"))
            case 0..<0x20:
                out.append(contentsOf: Array("\\u00".utf8))
                out.append(TraceLine.hexDigits[Int(b >> 4)])
                out.append(TraceLine.hexDigits[Int(b & 0xf)])
            default: out.append(b)
            }
        }
        out.append(UInt8(ascii: "\""))
    }

    /// `[[0,1],[2]]` for integer groups.
    static func json(_ groups: [[Int]]) -> String {
        "[" + groups.map { "[" + $0.map(String.init).joined(separator: ",") + "]" }.joined(separator: ",") + "]"
    }
}
