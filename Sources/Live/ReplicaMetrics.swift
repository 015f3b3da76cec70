import BFTCore
import CoreMetrics
import Foundation
import Prometheus

/// Counts the live shell keeps on its event loop for metrics that `ShellStats` does not hold: plain
/// integers, so the hot path pays an array increment per frame and no lock or atomic.
struct TrafficCounts {
    /// Frames and bytes by wire tag (the first byte of a frame), in and out.
    var framesIn = [Int](repeating: 0, count: 256)
    var bytesIn = [Int](repeating: 0, count: 256)
    var framesOut = [Int](repeating: 0, count: 256)
    var bytesOut = [Int](repeating: 0, count: 256)
    var committedRequests = 0
    var viewChanges = 0
    var viewsEntered = 0
    var stateTransfers = 0

    mutating func countIn(_ bytes: [UInt8]) {
        let t = Int(bytes.first ?? 0)
        framesIn[t] &+= 1
        bytesIn[t] &+= bytes.count + 4
    }
    mutating func countOut(_ tag: UInt8, bytes: Int, copies: Int = 1) {
        framesOut[Int(tag)] &+= copies
        bytesOut[Int(tag)] &+= (bytes + 4) * copies
    }
}

/// Message type names by wire tag (PBFT 1...10, HotStuff 0x11...0x17, clients 0x40...0x41).
enum WireTagNames {
    static func name(_ tag: Int) -> String {
        switch tag {
        case 1: return "pre-prepare"
        case 2: return "prepare"
        case 3: return "commit"
        case 4: return "checkpoint"
        case 5: return "view-change"
        case 6: return "new-view"
        case 7: return "fetch-state"
        case 8: return "state"
        case 9: return "fetch-batch"
        case 10: return "batch"
        case 0x11: return "proposal"
        case 0x12: return "vote"
        case 0x13: return "hotstuff-new-view"
        case 0x14: return "timeout"
        case 0x15: return "block-request"
        case 0x16: return "block-response"
        case 0x17: return "sync-info"
        case 0x40: return "request"
        case 0x41: return "reply"
        default: return "other"
        }
    }
}

/// A swift-metrics counter fed from a running total the shell already keeps: `set` adds the difference
/// since the last export, so a scrape costs a few atomics and the event loop nothing per message.
struct ExportedCounter {
    let counter: CoreMetrics.Counter
    var exported = 0
    init(_ label: String, _ dimensions: [(String, String)] = [], factory: PrometheusMetricsFactory) {
        counter = CoreMetrics.Counter(label: label, dimensions: dimensions, factory: factory)
    }
    mutating func set(_ total: Int) {
        guard total > exported else { return }
        counter.increment(by: total - exported)
        exported = total
    }
}

/// Reasons a frame is rejected, as the `reason` label of `bftsim_rejected_frames_total`: the shell's
/// own (framing, handshakes, limits) and the protocol's (`RejectReason`). All appear from the start
/// at 0, so a dashboard sees the series before the first attack.
enum RejectedFrameReason {
    static let shell = ["oversize", "empty", "truncated", "bad-handshake", "replay", "rate-limited", "over-budget",
                        "stalled", "handshake-timeout", "client-auth-failure"]
    static var all: [String] {
        var names = shell
        for r in RejectReason.allCases where !names.contains(r.rawValue) { names.append(r.rawValue) }
        return names
    }
}

/// The replica's Prometheus registry (swift-metrics through swift-prometheus's factory, one registry
/// per replica so in-process tests can run several). Histograms are recorded where they happen (the
/// verification thread, the IO thread's completion, execution); counters and gauges are brought up to
/// date from the shell's own tallies when scraped (`update`, on the event loop).
public final class ReplicaMetrics: @unchecked Sendable {
    public let registry = PrometheusCollectorRegistry()
    let factory: PrometheusMetricsFactory

    let verification: CoreMetrics.Timer
    let storeSync: CoreMetrics.Timer
    let commitLatency: CoreMetrics.Timer

    /// One counter per `totals` entry, in its order.
    private var totalCounters: [ExportedCounter]
    private var rejected: [String: ExportedCounter] = [:]
    private var messages: [String: ExportedCounter] = [:]
    private let view: CoreMetrics.Gauge
    private let lastCommitted: CoreMetrics.Gauge
    private let commitRate: CoreMetrics.Gauge
    private let peerConnected: [CoreMetrics.Gauge?]
    private let peersConnected: CoreMetrics.Gauge
    private let inboundConnections: CoreMetrics.Gauge
    private let queueHeld: CoreMetrics.Gauge
    private let queueVerifying: CoreMetrics.Gauge
    private let queueOutbound: CoreMetrics.Gauge
    private let uptime: CoreMetrics.Gauge

    init(n: Int, id: Int) {
        var f = PrometheusMetricsFactory(registry: registry)
        let fast: [Duration] = [.microseconds(10), .microseconds(25), .microseconds(50), .microseconds(100), .microseconds(250),
                                .microseconds(500), .milliseconds(1), .milliseconds(2.5), .milliseconds(5), .milliseconds(10),
                                .milliseconds(25), .milliseconds(50), .milliseconds(100), .milliseconds(250), .seconds(1)]
        f.durationHistogramBuckets = [
            "bftsim_verification_seconds": fast,
            "bftsim_store_sync_seconds": fast,
            "bftsim_commit_latency_seconds": [.milliseconds(1), .milliseconds(2.5), .milliseconds(5), .milliseconds(10),
                                              .milliseconds(25), .milliseconds(50), .milliseconds(100), .milliseconds(250),
                                              .milliseconds(500), .seconds(1), .seconds(2.5), .seconds(5), .seconds(10)],
        ]
        factory = f
        verification = CoreMetrics.Timer(label: "bftsim_verification_seconds", factory: f)
        storeSync = CoreMetrics.Timer(label: "bftsim_store_sync_seconds", factory: f)
        commitLatency = CoreMetrics.Timer(label: "bftsim_commit_latency_seconds", factory: f)
        totalCounters = Self.totals.map { ExportedCounter($0.label, $0.dimensions, factory: f) }
        for r in RejectedFrameReason.all {
            rejected[r] = ExportedCounter("bftsim_rejected_frames_total", [("reason", r)], factory: f)
        }
        view = CoreMetrics.Gauge(label: "bftsim_view", factory: f)
        lastCommitted = CoreMetrics.Gauge(label: "bftsim_last_committed_sequence", factory: f)
        commitRate = CoreMetrics.Gauge(label: "bftsim_commit_rate_requests_per_second", factory: f)
        peerConnected = (0..<n).map { j in j == id ? nil : CoreMetrics.Gauge(label: "bftsim_peer_connected", dimensions: [("peer", String(j))], factory: f) }
        peersConnected = CoreMetrics.Gauge(label: "bftsim_peers_connected", factory: f)
        inboundConnections = CoreMetrics.Gauge(label: "bftsim_inbound_connections", factory: f)
        queueHeld = CoreMetrics.Gauge(label: "bftsim_queue_depth", dimensions: [("queue", "held-sends")], factory: f)
        queueVerifying = CoreMetrics.Gauge(label: "bftsim_queue_depth", dimensions: [("queue", "verification")], factory: f)
        queueOutbound = CoreMetrics.Gauge(label: "bftsim_queue_depth", dimensions: [("queue", "outbound-pending")], factory: f)
        uptime = CoreMetrics.Gauge(label: "bftsim_uptime_seconds", factory: f)
    }

    /// The running totals exported as counters: metric label, dimensions, and where a snapshot holds
    /// the total (one table instead of a stored property, an initialisation and an update line each).
    private static var totals: [(label: String, dimensions: [(String, String)], total: KeyPath<Snapshot, Int>)] {
        [("bftsim_committed_batches_total", [], \.stats.committed),
         ("bftsim_committed_requests_total", [], \.traffic.committedRequests),
         ("bftsim_executed_requests_total", [], \.stats.executed),
         ("bftsim_view_changes_total", [], \.traffic.viewChanges),
         ("bftsim_views_entered_total", [], \.traffic.viewsEntered),
         ("bftsim_state_transfers_total", [], \.traffic.stateTransfers),
         ("bftsim_verified_signatures_total", [], \.stats.verifiedOffLoop),
         ("bftsim_bans_total", [], \.stats.bans),
         ("bftsim_accept_pauses_total", [], \.stats.acceptPauses),
         ("bftsim_connections_refused_total", [("reason", "banned")], \.stats.refusedBanned),
         ("bftsim_connections_refused_total", [("reason", "over-limit")], \.stats.refusedOverLimit),
         ("bftsim_connections_closed_for_garbage_total", [], \.stats.disconnectedForGarbage),
         ("bftsim_sends_dropped_total", [], \.stats.sendsDroppedUnconnected)]
    }

    /// What the shell reports at a scrape (event loop).
    struct Snapshot {
        var stats: ShellStats
        var traffic: TrafficCounts
        var peers: [Bool?]
        var inbound: Int
        var held: Int
        var verifying: Int
        var outboundPending: Int
        var commitRate: Double
        var uptimeSeconds: Double
    }

    /// Brings counters and gauges up to date (event loop, before each exposition).
    func update(_ s: Snapshot) {
        for (k, entry) in Self.totals.enumerated() { totalCounters[k].set(s[keyPath: entry.total]) }
        var reasons: [String: Int] = [
            "oversize": s.stats.oversizeFrames, "empty": s.stats.emptyFrames, "truncated": s.stats.truncatedFrames,
            "bad-handshake": s.stats.badHandshakes, "replay": s.stats.replays, "rate-limited": s.stats.rateLimited,
            "over-budget": s.stats.overBudgetFrames, "stalled": s.stats.stalledFrames,
            "handshake-timeout": s.stats.handshakeTimeouts, "client-auth-failure": s.stats.clientAuthFailures,
        ]
        for (k, v) in s.stats.rejected { reasons[k, default: 0] += v }
        // The shell's own unknown-sender (a handshake naming no replica, a request outside the range).
        reasons["unknown-sender", default: 0] += s.stats.unknownSenders
        for (k, v) in reasons { rejected[k]?.set(v) }
        for tag in 0..<256 {
            for (direction, frames, bytes) in [("received", s.traffic.framesIn[tag], s.traffic.bytesIn[tag]),
                                               ("sent", s.traffic.framesOut[tag], s.traffic.bytesOut[tag])] where frames > 0 {
                let type = WireTagNames.name(tag)
                let mk = "\(direction)/\(type)/m", bk = "\(direction)/\(type)/b"
                if messages[mk] == nil {
                    messages[mk] = ExportedCounter("bftsim_messages_\(direction)_total", [("type", type)], factory: factory)
                    messages[bk] = ExportedCounter("bftsim_\(direction)_bytes_total", [("type", type)], factory: factory)
                }
                // Tags sharing the name "other" add up (`set` takes running totals).
                let (m0, b0) = type == "other" ? otherTotals(s.traffic, direction: direction, upTo: tag) : (0, 0)
                messages[mk]!.set(m0 + frames)
                messages[bk]!.set(b0 + bytes)
            }
        }
        view.record(Int64(s.stats.highestView))
        lastCommitted.record(Int64(s.stats.lastCommittedSequence))
        commitRate.record(s.commitRate)
        var up = 0
        for (j, g) in peerConnected.enumerated() {
            guard let g, j < s.peers.count else { continue }
            let on = s.peers[j] ?? false
            g.record(on ? 1 : 0)
            if on { up += 1 }
        }
        peersConnected.record(Int64(up))
        inboundConnections.record(Int64(s.inbound))
        queueHeld.record(Int64(s.held))
        queueVerifying.record(Int64(s.verifying))
        queueOutbound.record(Int64(s.outboundPending))
        uptime.record(s.uptimeSeconds)
    }

    private func otherTotals(_ t: TrafficCounts, direction: String, upTo tag: Int) -> (Int, Int) {
        var m = 0, b = 0
        for k in 0..<tag where WireTagNames.name(k) == "other" {
            m += direction == "received" ? t.framesIn[k] : t.framesOut[k]
            b += direction == "received" ? t.bytesIn[k] : t.bytesOut[k]
        }
        return (m, b)
    }

    /// The Prometheus text exposition.
    public func exposition() -> String { registry.emitToString() }
}

/// The load client's metrics (`bftsim client --metrics-port`): requests issued and completed (f+1
/// matching replies), the request latency histogram, and connected replicas.
public final class ClientMetrics: @unchecked Sendable {
    public let registry = PrometheusCollectorRegistry()
    let issued: CoreMetrics.Counter
    let completed: CoreMetrics.Counter
    let latency: CoreMetrics.Timer
    let connected: CoreMetrics.Gauge

    public init() {
        var f = PrometheusMetricsFactory(registry: registry)
        f.durationHistogramBuckets = ["bftsim_client_request_latency_seconds": [
            .milliseconds(1), .milliseconds(2.5), .milliseconds(5), .milliseconds(10), .milliseconds(25), .milliseconds(50),
            .milliseconds(100), .milliseconds(250), .milliseconds(500), .seconds(1), .seconds(2.5), .seconds(5), .seconds(10)]]
        issued = CoreMetrics.Counter(label: "bftsim_client_requests_issued_total", factory: f)
        completed = CoreMetrics.Counter(label: "bftsim_client_requests_completed_total", factory: f)
        latency = CoreMetrics.Timer(label: "bftsim_client_request_latency_seconds", factory: f)
        connected = CoreMetrics.Gauge(label: "bftsim_client_connected_replicas", factory: f)
    }

    public func exposition() -> String { registry.emitToString() }
}
