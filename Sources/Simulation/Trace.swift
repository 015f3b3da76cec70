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

    mutating func absorb(_ line: String) {
        var line = line
        line.withUTF8 { buf in
            _ = crypto_generichash_update(state, buf.baseAddress, UInt64(buf.count))
        }
        var newline: UInt8 = 0x0A
        _ = crypto_generichash_update(state, &newline, 1)
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
/// is the same on every platform.
struct TraceLine {
    enum Value {
        case int(Int64)
        case string(String)
        /// Already valid JSON (e.g. `[[0,1],[2]]`).
        case raw(String)
    }

    private var fields: [(key: String, value: Value)] = []

    init(kind: String, time: Nanoseconds, event: UInt64) {
        fields.reserveCapacity(12)
        fields.append(("kind", .string(kind)))
        fields.append(("t", .int(time)))
        fields.append(("i", .int(Int64(bitPattern: event))))
    }

    mutating func set(_ key: String, _ value: Int64) { fields.append((key, .int(value))) }
    mutating func set(_ key: String, _ value: Int) { fields.append((key, .int(Int64(value)))) }
    mutating func set(_ key: String, _ value: UInt64) {
        fields.append((key, value <= UInt64(Int64.max) ? .int(Int64(value)) : .string(String(value))))
    }
    mutating func set(_ key: String, _ value: String) { fields.append((key, .string(value))) }
    mutating func setRaw(_ key: String, _ json: String) { fields.append((key, .raw(json))) }

    func rendered() -> String {
        let sorted = fields.sorted { $0.key.utf8.lexicographicallyPrecedes($1.key.utf8) }
        var out = "{"
        for (n, field) in sorted.enumerated() {
            precondition(n == 0 || sorted[n - 1].key != field.key, "duplicate trace key \(field.key)")
            if n > 0 { out += "," }
            TraceLine.appendQuoted(field.key, to: &out)
            out += ":"
            switch field.value {
            case .int(let v): out += String(v)
            case .string(let s): TraceLine.appendQuoted(s, to: &out)
            case .raw(let json): out += json
            }
        }
        out += "}"
        return out
    }

    static func appendQuoted(_ s: String, to out: inout String) {
        out += "\""
        for scalar in s.unicodeScalars {
            switch scalar {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            default:
                if scalar.value < 0x20 {
                    let hex = String(scalar.value, radix: 16)
                    out += "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
                } else {
                    out.unicodeScalars.append(scalar)
                }
            }
        }
        out += "\""
    }

    /// `[[0,1],[2]]` for integer groups.
    static func json(_ groups: [[Int]]) -> String {
        "[" + groups.map { "[" + $0.map(String.init).joined(separator: ",") + "]" }.joined(separator: ",") + "]"
    }
}
