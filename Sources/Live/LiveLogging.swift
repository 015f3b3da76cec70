import BFTCore
import Foundation
import Logging

/// How live processes write their log lines (`--log-format`).
public enum LogFormat: String, Sendable, CaseIterable {
    /// `2026-12-05T11:50:00.123Z info replica=2 view change started view=3`
    case text
    /// One JSON object per line: `{"level":"info","label":"…","message":"…","time":"…",…metadata}`.
    case json
}

/// A swift-log handler for the live shell: one line per event, written with a single `write(2)` so
/// lines of concurrent threads never interleave and survive a kill -9 (no userspace buffer).
///
/// swift-log ships only a plain-text `StreamLogHandler`; the JSON form is small enough to keep here.
/// Metadata values are the handler's caller's responsibility: the live shell logs ids, counts, views,
/// reasons and addresses — never key material or message payloads.
public struct LiveLogHandler: LogHandler {
    public var logLevel: Logger.Level
    public var metadata: Logger.Metadata = [:]
    let label: String
    let format: LogFormat
    let fd: Int32

    public init(label: String, level: Logger.Level, format: LogFormat, fd: Int32 = STDOUT_FILENO) {
        self.label = label
        self.logLevel = level
        self.format = format
        self.fd = fd
    }

    public subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    public func log(event: LogEvent) {
        var all = metadata
        if let extra = event.metadata { all.merge(extra) { $1 } }
        let line = LiveLogHandler.render(time: Date(), level: event.level, label: label, message: "\(event.message)",
                                         metadata: all, format: format)
        var bytes = Array(line.utf8)
        bytes.append(0x0A)
        bytes.withUnsafeBytes { p in
            var off = 0
            while off < p.count {
                let w = Foundation.write(fd, p.baseAddress! + off, p.count - off)
                if w <= 0 { return }
                off += w
            }
        }
    }

    /// One line, without its newline. Metadata keys are sorted so lines are stable to read and grep.
    static func render(time: Date, level: Logger.Level, label: String, message: String, metadata: Logger.Metadata,
                       format: LogFormat) -> String {
        let stamp = LiveLogHandler.timestamp(time)
        let keys = metadata.keys.sorted()
        switch format {
        case .text:
            var s = "\(stamp) \(level) \(message)"
            for k in keys { s += " \(k)=\(metadata[k]!)" }
            return s
        case .json:
            var s = "{\"time\":\(jsonString(stamp)),\"level\":\(jsonString(level.rawValue)),\"label\":\(jsonString(label)),\"message\":\(jsonString(message))"
            for k in keys where !["time", "level", "label", "message"].contains(k) {
                s += ",\(jsonString(k)):\(jsonValue(metadata[k]!))"
            }
            return s + "}"
        }
    }

    static func timestamp(_ d: Date) -> String {
        var t = time_t(d.timeIntervalSince1970)
        var tm = tm()
        gmtime_r(&t, &tm)
        let ms = Int((d.timeIntervalSince1970 - Double(t)) * 1000)
        return String(format: "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", Int(tm.tm_year) + 1900, Int(tm.tm_mon) + 1, Int(tm.tm_mday),
                      Int(tm.tm_hour), Int(tm.tm_min), Int(tm.tm_sec), max(0, min(999, ms)))
    }

    static func jsonValue(_ v: Logger.MetadataValue) -> String {
        switch v {
        case .string(let s): return Int64(s) != nil ? s : jsonString(s)
        case .stringConvertible(let c): return Int64(c.description) != nil || Double(c.description) != nil ? c.description : jsonString(c.description)
        case .array(let a): return "[" + a.map(jsonValue).joined(separator: ",") + "]"
        case .dictionary(let d): return "{" + d.keys.sorted().map { "\(jsonString($0)):\(jsonValue(d[$0]!))" }.joined(separator: ",") + "}"
        }
    }

    static func jsonString(_ s: String) -> String { QuotedString.quote(s) }
}

/// Process-wide logging set-up for the live commands (`--log-level`, `--log-format`).
public enum LiveLogging {
    /// Bootstraps swift-log once per process. Later calls are ignored (swift-log allows one bootstrap).
    public static func bootstrap(level: Logger.Level, format: LogFormat) {
        state.withLock { s in
            guard !s else { return }
            s = true
            LoggingSystem.bootstrap { label in LiveLogHandler(label: label, level: level, format: format) }
        }
    }
    private static let state = NSLockedBool()

    /// Parses `--log-level` (swift-log's levels: trace, debug, info, notice, warning, error, critical).
    public static func level(_ s: String) -> Logger.Level? { Logger.Level(rawValue: s.lowercased()) }
}

/// A Bool behind a lock (Foundation's NSLock; swift-log's bootstrap must run once).
final class NSLockedBool: @unchecked Sendable {
    private let lock = NSLock()
    private var value = false
    func withLock(_ body: (inout Bool) -> Void) {
        lock.lock()
        defer { lock.unlock() }
        body(&value)
    }
}
