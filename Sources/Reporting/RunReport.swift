import RunRecords
import Foundation

/// Every figure of a run report, computed once and rendered as HTML, Markdown or JSON so the three
/// formats always agree. All times are simulated nanoseconds.
public struct RunReport: Codable, Sendable {
    public struct Header: Codable, Sendable {
        public var scenario: String
        public var file: String?
        public var protocolName: String
        public var replicas: Int
        public var f: Int
        public var seed: UInt64
        public var status: String
        public var exitCode: Int32
        public var safety: String
        public var liveness: String
        public var expectSafety: String
        public var expectLiveness: String
        public var replay: String
        public var simDurationNs: Int64
        public var events: UInt64
        public var traceHash: String
        public var requestsIssued: Int
        public var requestsCompleted: Int
        public var batchesCommitted: Int
        public var byzantine: [ByzantineRecord]
    }

    /// A violated check from the summary.
    public struct Violation: Codable, Sendable {
        public var check: String
        public var timeNs: Int64?
        public var eventIndex: UInt64?
        public var message: String
    }

    /// Per-replica lanes on a common time axis of `buckets` equal buckets.
    public struct Timeline: Codable, Sendable {
        public var bucketNs: Int64
        public var buckets: Int
        public var lanes: [Lane]
        /// Partitions, isolations, link cuts and crashes, in time order.
        public var faults: [FaultWindow]
        public var faultsOmitted: Int
    }

    public struct Lane: Codable, Sendable {
        public var replica: Int
        public var byzantine: String?
        public var crashedAtNs: Int64?
        /// Views held by this replica. A span with `viewLast > viewFirst` covers views entered faster
        /// than one bucket (HotStuff enters a view per block): drawn hatched as "advancing".
        public var views: [ViewSpan]
        /// Commit observations per bucket (sparse: bucket index and count).
        public var commits: [BucketCount]
        /// Times this replica started a view change (PBFT) or timed out of a view (HotStuff).
        public var viewChangeStartsNs: [Int64]
        public var viewChangeStartsOmitted: Int
        /// From starting a view change to entering a view (or crashing, or the end): the replica is
        /// not processing requests. Zero-length changes (HotStuff timeouts) are left out.
        public var changingViews: [Interval]
    }

    public struct Interval: Codable, Sendable {
        public var fromNs: Int64
        public var toNs: Int64
    }

    public struct ViewSpan: Codable, Sendable {
        public var fromNs: Int64
        public var toNs: Int64
        public var viewFirst: UInt64
        public var viewLast: UInt64
        public var leader: Int?
    }

    public struct BucketCount: Codable, Sendable {
        public var bucket: Int
        public var count: Int
    }

    public struct FaultWindow: Codable, Sendable {
        /// `partition`, `isolate`, `cut`, `cut-one-way`, `crash`, `set-latency`, `set-loss`.
        public var action: String
        public var fromNs: Int64
        /// When a later `heal` ended it; nil when it lasts to the end of the run.
        public var toNs: Int64?
        /// Replicas the fault affects (for a partition: every replica outside the largest group).
        public var replicas: [Int]
        public var label: String
    }

    /// Messages of one window drawn as arrows between lanes (replicas, then one lane for all clients).
    public struct SpaceTime: Codable, Sendable {
        /// Why this window: around the first violation, or the start of the run.
        public var caption: String
        public var fromNs: Int64
        public var toNs: Int64
        public var lanes: [String]
        public var arrows: [Arrow]
        public var markers: [Marker]
        public var arrowsMax: Int
        /// Messages in the window that were not drawn because of `arrowsMax`.
        public var omitted: Int
        public var focusNs: Int64?
    }

    public struct Arrow: Codable, Sendable {
        public var from: Int
        public var to: Int
        public var sendNs: Int64
        /// Delivery time; nil when dropped or still in flight at the end of the window.
        public var deliverNs: Int64?
        public var type: String
        public var view: UInt64?
        public var seq: UInt64?
        public var dropped: String?
    }

    public struct Marker: Codable, Sendable {
        public var lane: Int
        public var timeNs: Int64
        public var kind: String
        public var label: String
    }

    public struct Latency: Codable, Sendable {
        public var count: Int
        public var minNs: Int64
        public var maxNs: Int64
        public var meanNs: Int64
        public var p50Ns: Int64
        public var p90Ns: Int64
        public var p99Ns: Int64
        /// Log-spaced histogram: `binsPerDecade` bins per power of ten; a bin's lower edge is
        /// 10^(bin/binsPerDecade) ns.
        public var binsPerDecade: Int
        public var bins: [BucketCount]
        /// Requests issued but never completed by the end of the run.
        public var incomplete: Int
    }

    public struct Throughput: Codable, Sendable {
        public var bucketNs: Int64
        /// Completed requests per bucket, one entry per bucket from time 0.
        public var completed: [Int]
        /// Highest and mean completion rate, requests per simulated second.
        public var peakPerSecond: Double
        public var meanPerSecond: Double
    }

    public struct MessageRow: Codable, Sendable {
        public var type: String
        public var sent: Int
        public var delivered: Int
        public var perDecision: Double?
    }

    public struct Messages: Codable, Sendable {
        public var rows: [MessageRow]
        public var sent: Int
        public var delivered: Int
        public var dropped: [String: Int]
        public var decisions: Int
        public var perDecision: Double?
    }

    /// One target view that some correct or faulty replica tried to move to.
    public struct ViewChange: Codable, Sendable {
        public var view: UInt64
        public var firstStartNs: Int64
        public var starters: Int
        public var enteredNs: Int64?
        public var entered: Int
        public var leader: Int?
    }

    public struct ViewChanges: Codable, Sendable {
        public var total: Int
        public var highestView: UInt64
        public var views: [ViewChange]
        public var viewsOmitted: Int
    }

    public var header: Header
    public var violations: [Violation]
    public var timeline: Timeline
    public var spaceTime: SpaceTime
    public var latency: Latency?
    public var throughput: Throughput
    public var messages: Messages
    public var viewChanges: ViewChanges
    public var diagnosis: [String]
    /// Where the report aggregated or capped what it drew ("n lanes", "arrows capped at ..."), said
    /// on the charts too.
    public var notes: [String]

    /// Sorted-key pretty JSON.
    public func json() -> String {
        let enc = JSONEncoder()
        enc.outputFormatting = [.sortedKeys, .prettyPrinted, .withoutEscapingSlashes]
        return String(decoding: (try? enc.encode(self)) ?? Data(), as: UTF8.self) + "\n"
    }
}

/// The output formats of `bftsim report`.
public enum ReportFormat: String, CaseIterable, Sendable {
    case html, md, json

    public var fileExtension: String { self == .md ? "md" : rawValue }

    public func render(_ report: RunReport) -> String {
        switch self {
        case .html: return HTMLRenderer(report: report).render()
        case .md: return MarkdownRenderer(report: report).render()
        case .json: return report.json()
        }
    }
}
