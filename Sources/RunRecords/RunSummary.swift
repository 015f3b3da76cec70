import Foundation
import ScenarioFormat

/// The machine-readable summary of a run (`summary.json`, keys sorted), defined once for its writer
/// (`Runner`, which fills it from a run's outcome) and its reader (`Reporting`). Every field is a
/// function of the scenario and seed: no wall-clock values, so two runs' summaries compare byte for byte.
public struct RunSummary: Codable, Sendable {
    public struct Check: Codable, Sendable {
        public var name: String
        public var verdict: String
        public var time: Int64?
        public var eventIndex: UInt64?
        public var message: String?
        public init(name: String, verdict: String, time: Int64?, eventIndex: UInt64?, message: String?) {
            self.name = name
            self.verdict = verdict
            self.time = time
            self.eventIndex = eventIndex
            self.message = message
        }
    }
    public struct Latency: Codable, Sendable {
        public var count: Int
        public var p50: Int64
        public var p90: Int64
        public var p99: Int64
        public var max: Int64
        public var mean: Int64
        public init(count: Int, p50: Int64, p90: Int64, p99: Int64, max: Int64, mean: Int64) {
            self.count = count
            self.p50 = p50
            self.p90 = p90
            self.p99 = p99
            self.max = max
            self.mean = mean
        }
    }
    public struct MessageCount: Codable, Sendable {
        public var type: String
        public var sent: Int
        public var delivered: Int
        public init(type: String, sent: Int, delivered: Int) {
            self.type = type
            self.sent = sent
            self.delivered = delivered
        }
    }
    public struct Crypto: Codable, Sendable {
        public var scheme: String
        public var signed: Int
        public var verifyRequests: Int
        public var verified: Int
        public var cacheHits: Int
        public var failures: Int
        public init(scheme: String, signed: Int, verifyRequests: Int, verified: Int, cacheHits: Int, failures: Int) {
            self.scheme = scheme
            self.signed = signed
            self.verifyRequests = verifyRequests
            self.verified = verified
            self.cacheHits = cacheHits
            self.failures = failures
        }
    }

    public var scenario = ""
    public var file: String?
    public var protocolName = ""
    public var replicas = 0
    public var f = 0
    public var seed: UInt64 = 0
    public var status = ""
    public var exitCode: Int32 = 0
    public var expect = Expectations()
    public var safety = ""
    public var liveness = ""
    public var checks: [Check] = []
    public var requestsIssued = 0
    public var requestsCompleted = 0
    public var batchesCommitted = 0
    public var simDurationNs: Int64 = 0
    public var throughputPerSimSecond = 0.0
    public var latencyNs: Latency?
    public var messages: [MessageCount] = []
    public var messagesSent = 0
    public var messagesDelivered = 0
    public var messagesDropped: [String: Int] = [:]
    public var viewChanges = 0
    public var highestView: UInt64 = 0
    /// Signature work; the run harness always writes it (a reader accepts summaries without it).
    public var crypto: Crypto?
    /// Rejected messages per reason; always written by the run harness.
    public var rejected: [String: Int]?
    public var events: UInt64 = 0
    public var traceHash = ""
    public var diagnosis: [String] = []
    public var replay = ""
    /// Byzantine replicas, when a summary records them; otherwise a reader takes them from the scenario.
    public var byzantine: [ByzantineRecord]?
    /// The adaptive controller's arm per epoch (issue 18), recomputed from the committed log; absent without `adaptive:`.
    public var adaptiveArms: [Int]?

    /// An empty summary for a writer to fill.
    public init() {}

    public func json() -> String {
        let enc = JSONEncoder()
        enc.outputFormatting = [.sortedKeys, .prettyPrinted, .withoutEscapingSlashes]
        return String(decoding: (try? enc.encode(self)) ?? Data(), as: UTF8.self) + "\n"
    }
}

/// A replica that runs a Byzantine behaviour for the whole run.
public struct ByzantineRecord: Codable, Sendable, Equatable {
    public var replica: Int
    public var behaviour: String

    /// The record of a scenario's Byzantine entry.
    public init(_ spec: ByzantineSpec) {
        replica = spec.replica
        behaviour = spec.behaviour
    }
}

/// The key–value table that opens `summary.md` and a Markdown report: a blank header, then one
/// `| key | value |` row per fact, in order.
public func markdownFacts(_ facts: [(String, String)]) -> String {
    "| | |\n|---|---|\n" + facts.map { "| \($0.0) | \($0.1) |\n" }.joined()
}

/// `1.50ms`, `2.000s`, `850.0µs`: a duration in nanoseconds for people (reports, summaries, live checks).
public func formatNanos(_ ns: Int64) -> String {
    let a = abs(ns)
    if a >= 1_000_000_000 { return String(format: "%.3fs", Double(ns) / 1e9) }
    if a >= 1_000_000 { return String(format: "%.2fms", Double(ns) / 1e6) }
    if a >= 1_000 { return String(format: "%.1fµs", Double(ns) / 1e3) }
    return "\(ns)ns"
}
