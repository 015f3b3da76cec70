import Foundation

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

/// The fields of `summary.json` a report uses (written by `Runner.RunSummary`). Decoded on its own
/// so this module depends on the file format, not on the run harness.
public struct SummaryRecord: Codable, Sendable {
    public struct Check: Codable, Sendable {
        public var name: String
        public var verdict: String
        public var time: Int64?
        public var eventIndex: UInt64?
        public var message: String?
    }
    public struct Expect: Codable, Sendable {
        public var safety: String
        public var liveness: String
    }
    public struct Latency: Codable, Sendable {
        public var count: Int
        public var p50: Int64
        public var p90: Int64
        public var p99: Int64
        public var max: Int64
        public var mean: Int64
    }
    public struct MessageCount: Codable, Sendable {
        public var type: String
        public var sent: Int
        public var delivered: Int
    }

    public var scenario: String
    public var file: String?
    public var protocolName: String
    public var replicas: Int
    public var f: Int
    public var seed: UInt64
    public var status: String
    public var exitCode: Int32
    public var expect: Expect
    public var safety: String
    public var liveness: String
    public var checks: [Check]
    public var requestsIssued: Int
    public var requestsCompleted: Int
    public var batchesCommitted: Int
    public var simDurationNs: Int64
    public var throughputPerSimSecond: Double
    public var latencyNs: Latency?
    public var messages: [MessageCount]
    public var messagesSent: Int
    public var messagesDelivered: Int
    public var messagesDropped: [String: Int]
    public var viewChanges: Int
    public var highestView: UInt64
    public var events: UInt64
    public var traceHash: String
    public var diagnosis: [String]
    public var replay: String
    /// Byzantine replicas, when the summary records them (newer summaries); otherwise the caller
    /// supplies them from the scenario file.
    public var byzantine: [ByzantineReplica]?
}

/// A replica that runs a Byzantine behaviour for the whole run.
public struct ByzantineReplica: Codable, Sendable, Equatable {
    public var replica: Int
    public var behaviour: String

    public init(replica: Int, behaviour: String) {
        self.replica = replica
        self.behaviour = behaviour
    }
}

/// A run directory as `bftsim run --out DIR` leaves it: `summary.json` and `trace.jsonl`.
public struct RunDirectory: Sendable {
    public var path: String
    public var summary: SummaryRecord
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
            summary = try JSONDecoder().decode(SummaryRecord.self, from: data)
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
