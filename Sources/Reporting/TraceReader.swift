import Foundation

/// One parsed `trace.jsonl` line: a flat JSON object (integers, strings, and `groups` as an array).
public struct TraceRecord {
    public var fields: [String: Any]
    public var line: Int

    public var kind: String { fields["kind"] as? String ?? "" }
    public var time: Int64 { int("t") ?? 0 }
    public var event: UInt64 { UInt64(int("i") ?? 0) }

    public func string(_ key: String) -> String? { fields[key] as? String }

    public func int(_ key: String) -> Int64? {
        if let n = fields[key] as? NSNumber { return n.int64Value }
        if let s = fields[key] as? String { return Int64(s) }
        return nil
    }

    /// `r3` → 3 for replica names; nil for clients (`c0`) and anything else.
    public func replica(_ key: String) -> Int? {
        guard let s = string(key), s.first == "r" else { return nil }
        return Int(s.dropFirst())
    }
}

/// Streams `trace.jsonl` one line at a time through a fixed-size buffer, so memory stays bounded
/// however long the run was.
public struct TraceReader {
    /// Bytes read from the file at a time.
    public static let chunkSize = 1 << 20
    /// A single line longer than this is treated as corrupt rather than buffered without end.
    public static let lineBytesMax = 1 << 20

    public let path: String

    public init(path: String) {
        self.path = path
    }

    /// Calls `body` for each line in order; a line that is not a JSON object (for example the last
    /// line of a trace cut short) is an error naming the file and the line number.
    public func forEach(_ body: (TraceRecord) throws(ReportError) -> Void) throws(ReportError) {
        guard FileManager.default.fileExists(atPath: path) else {
            throw ReportError(file: path, "missing (the run was made with --no-trace, or the directory is incomplete); a report needs the trace")
        }
        guard let handle = FileHandle(forReadingAtPath: path) else {
            throw ReportError(file: path, "cannot open for reading")
        }
        defer { try? handle.close() }
        var pending = Data()
        var lineNumber = 0
        while true {
            let chunk: Data
            do {
                chunk = try handle.read(upToCount: Self.chunkSize) ?? Data()
            } catch {
                throw ReportError(file: path, line: lineNumber + 1, "read failed: \(error.localizedDescription)")
            }
            if chunk.isEmpty { break }
            pending.append(chunk)
            var start = pending.startIndex
            while let nl = pending[start...].firstIndex(of: 0x0A) {
                lineNumber += 1
                try body(try parse(pending[start..<nl], line: lineNumber))
                start = pending.index(after: nl)
            }
            pending = Data(pending[start...])
            if pending.count > Self.lineBytesMax {
                throw ReportError(file: path, line: lineNumber + 1, "line longer than \(Self.lineBytesMax) bytes; not a trace")
            }
        }
        if !pending.isEmpty {
            lineNumber += 1
            try body(try parse(pending, line: lineNumber))
        }
    }

    private func parse(_ bytes: Data, line: Int) throws(ReportError) -> TraceRecord {
        let object: Any
        do {
            object = try JSONSerialization.jsonObject(with: bytes)
        } catch {
            let preview = String(decoding: bytes.prefix(60), as: UTF8.self)
            throw ReportError(file: path, line: line, "not a JSON object (truncated line?): \(preview)\(bytes.count > 60 ? "…" : "")")
        }
        guard let fields = object as? [String: Any] else {
            throw ReportError(file: path, line: line, "expected a JSON object per line")
        }
        guard fields["kind"] is String, fields["t"] is NSNumber, fields["i"] is NSNumber else {
            throw ReportError(file: path, line: line, "trace line lacks \"kind\", \"t\" or \"i\"")
        }
        return TraceRecord(fields: fields, line: line)
    }
}
