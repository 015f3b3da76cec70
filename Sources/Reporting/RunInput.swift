import Foundation
import RunRecords

/// Why a report could not be built: always names the file, and the line when there is one.
public struct ReportError: Error, CustomStringConvertible, Sendable {
    public var file: String
    public var line: Int?
    public var message: String

    public init(file: String, line: Int? = nil, _ message: String) {
        self.file = file
        self.line = line
        self.message = message
    }

    /// `DIR/trace.jsonl:17: not a JSON object (truncated line?)`
    public var description: String {
        if let line { return "\(file):\(line): \(message)" }
        return "\(file): \(message)"
    }
}

/// A run directory as `bftsim run --out DIR` leaves it: `summary.json` and `trace.jsonl`.
public struct RunDirectory: Sendable {
    public var path: String
    public var summary: RunSummary
    public var summaryPath: String { path + "/summary.json" }
    public var tracePath: String { path + "/trace.jsonl" }

    /// Reads and validates `DIR/summary.json`; the trace is streamed later by `RunAnalysis`.
    public init(path: String) throws(ReportError) {
        var isDir: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDir) else {
            throw ReportError(file: path, "no such run directory")
        }
        guard isDir.boolValue else {
            throw ReportError(file: path, "not a directory (expected a run directory written by `bftsim run --out DIR`)")
        }
        self.path = path
        let summaryPath = path + "/summary.json"
        guard let data = FileManager.default.contents(atPath: summaryPath) else {
            throw ReportError(file: summaryPath, "missing or unreadable (run `bftsim run SCENARIO --out \(path)` first)")
        }
        do {
            summary = try JSONDecoder().decode(RunSummary.self, from: data)
        } catch let DecodingError.keyNotFound(key, ctx) {
            throw ReportError(file: summaryPath, "missing field \(Self.describe(ctx.codingPath + [key]))")
        } catch let DecodingError.typeMismatch(_, ctx) {
            throw ReportError(file: summaryPath, "wrong type for field \(Self.describe(ctx.codingPath))")
        } catch let DecodingError.valueNotFound(_, ctx) {
            throw ReportError(file: summaryPath, "null field \(Self.describe(ctx.codingPath))")
        } catch let DecodingError.dataCorrupted(ctx) {
            let line = Self.errorLine(ctx, data: data)
            throw ReportError(file: summaryPath, line: line, "not valid JSON")
        } catch {
            throw ReportError(file: summaryPath, "cannot decode: \(error)")
        }
        guard summary.replicas > 0, summary.replicas <= RunAnalysis.replicasMax else {
            throw ReportError(file: summaryPath, "replicas = \(summary.replicas) is outside 1...\(RunAnalysis.replicasMax)")
        }
    }

    static func describe(_ path: [CodingKey]) -> String {
        path.isEmpty ? "(top level)" : path.map { $0.intValue.map { "[\($0)]" } ?? $0.stringValue }.joined(separator: ".")
    }

    /// JSONDecoder's syntax errors carry no position; JSONSerialization's say "around character N",
    /// which becomes a line number.
    static func errorLine(_ ctx: DecodingError.Context, data: Data) -> Int? {
        do {
            _ = try JSONSerialization.jsonObject(with: data)
            return nil
        } catch {
            let text = "\((error as NSError).userInfo)"
            guard let r = text.range(of: #"character (\d+)"#, options: .regularExpression),
                  let offset = Int(text[r].dropFirst(10)) else { return nil }
            return data.prefix(min(offset, data.count)).reduce(1) { $0 + ($1 == 0x0A ? 1 : 0) }
        }
    }
}
