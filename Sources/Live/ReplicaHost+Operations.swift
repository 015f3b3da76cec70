import BFTCore
import Foundation
import Logging
import NIOCore

// MARK: Operating the replica (issue 20): logs, metrics, status

extension ReplicaHost {
    /// Remembers when a client request arrived (for `bftsim_commit_latency_seconds`): request frames
    /// are `tag ‖ u32 client ‖ u64 timestamp ‖ …`; the first arrival of each id counts.
    func noteArrival(_ bytes: [UInt8], client: Int) {
        guard bytes.count >= 13, arrivals.count < ReplicaHost.arrivalsMax else { return }
        var t: UInt64 = 0
        for k in 5..<13 { t = t << 8 | UInt64(bytes[k]) }
        let key = RequestID(client: client, timestamp: t)
        if arrivals[key] == nil { arrivals[key] = FrameReader.monotonicNanos() }
    }

    /// Wire tags of the catch-up requests: PBFT FETCH-STATE, HotStuff block request.
    static let fetchStateTag: UInt8 = 7
    static let blockRequestTag: UInt8 = 0x15

    /// A catch-up request leaving (state transfer or block sync): one line per second at most.
    func noteCatchUp(_ tag: UInt8, from peer: Int?) {
        let now = FrameReader.monotonicNanos()
        guard now - catchUpReportedAt >= nanosPerSecond else { return }
        catchUpReportedAt = now
        logger.notice(tag == ReplicaHost.fetchStateTag ? "state transfer started" : "block sync started",
                      metadata: ["peer": peer.map { "\($0)" } ?? "all", "last_committed": "\(stats.lastCommittedSequence)"])
    }

    /// A slow store sync: one warning line per `slowSyncLogIntervalNs` at most, with the count since.
    func noteSlowSync(_ nanos: Int64) {
        slowSyncs += 1
        let now = FrameReader.monotonicNanos()
        guard now - slowSyncReportedAt >= ReplicaHost.slowSyncLogIntervalNs else { return }
        logger.warning("store sync slow", metadata: ["millis": "\(nanos / 1_000_000)", "slow_syncs": "\(slowSyncs)",
                                                     "threshold_millis": "\(ReplicaHost.slowSyncNs / 1_000_000)"])
        slowSyncReportedAt = now
        slowSyncs = 0
    }

    /// Rejected frames by reason: the protocol's (`RejectReason`) and the shell's own.
    func rejectedTotals() -> [String: Int] {
        var r = stats.rejected
        let shell: [(String, Int)] = [
            ("oversize", stats.oversizeFrames), ("empty", stats.emptyFrames), ("truncated", stats.truncatedFrames),
            ("bad-handshake", stats.badHandshakes), ("replay", stats.replays), ("rate-limited", stats.rateLimited),
            ("over-budget", stats.overBudgetFrames), ("stalled", stats.stalledFrames),
            ("handshake-timeout", stats.handshakeTimeouts), ("client-auth-failure", stats.clientAuthFailures),
            ("unknown-sender", stats.unknownSenders),
        ]
        for (k, v) in shell where v > 0 { r[k, default: 0] += v }
        return r
    }

    /// Once a second (housekeeping): the commit rate, and one summary line for the frames rejected and
    /// addresses banned during the second — never one line per bad frame, whatever the flood.
    func everySecond() {
        // Requests that never executed here (a partition, a faulty client) leave the latency table
        // after `arrivalTTLNs`, so it never fills up for good.
        let now = FrameReader.monotonicNanos()
        if !arrivals.isEmpty { arrivals = arrivals.filter { now - $0.value < ReplicaHost.arrivalTTLNs } }
        committedHistory.append(traffic.committedRequests)
        if committedHistory.count > ReplicaHost.rateWindow + 1 { committedHistory.removeFirst() }
        if committedHistory.count >= 2 {
            commitRate = Double(committedHistory.last! - committedHistory.first!) / Double(committedHistory.count - 1)
        }
        let totals = rejectedTotals()
        var delta: Logger.Metadata = [:]
        var sum = 0
        for (k, v) in totals where v > rejectionsReported[k, default: 0] {
            delta[k] = "\(v - rejectionsReported[k, default: 0])"
            sum += v - rejectionsReported[k, default: 0]
        }
        let refused = stats.refusedBanned + stats.refusedOverLimit
        if sum > 0 || stats.bans > bansReported || stats.acceptPauses > acceptPausesReported || refused > refusedReported {
            if refused > refusedReported { delta["connections_refused"] = "\(refused - refusedReported)" }
            delta["total"] = "\(sum)"
            if stats.bans > bansReported { delta["bans"] = "\(stats.bans - bansReported)" }
            if stats.acceptPauses > acceptPausesReported { delta["accept_pauses"] = "\(stats.acceptPauses - acceptPausesReported)" }
            logger.warning("frames rejected in the last second", metadata: delta)
        }
        rejectionsReported = totals
        bansReported = stats.bans
        acceptPausesReported = stats.acceptPauses
        refusedReported = refused
    }

    /// The metrics port's pages (event loop): `/metrics` (Prometheus text), `/` (status page),
    /// `/status.json`.
    func page(_ path: String) -> HTTPPage {
        switch path {
        case "/metrics":
            metrics.update(metricsSnapshot())
            return HTTPPage(contentType: "text/plain; version=0.0.4; charset=utf-8", body: metrics.exposition())
        case "/", "/index.html":
            return HTTPPage(contentType: "text/html; charset=utf-8",
                            body: StatusPage.html(title: "bftsim replica \(id)", protocolName: config.protocolName,
                                                  replicas: [status()], refreshSeconds: 2))
        case "/status.json":
            let enc = JSONEncoder()
            enc.outputFormatting = [.sortedKeys]
            let body = (try? enc.encode(status())).map { String(decoding: $0, as: UTF8.self) } ?? "{}"
            return HTTPPage(contentType: "application/json", body: body + "\n")
        default:
            return .notFound
        }
    }

    func metricsSnapshot() -> ReplicaMetrics.Snapshot {
        ReplicaMetrics.Snapshot(
            stats: stats, traffic: traffic, peers: links.map { $0.map { $0.channel != nil } },
            inbound: inbound.count, held: held.count - heldHead, verifying: inbound.reduce(0) { $0 + $1.verifying },
            outboundPending: links.reduce(0) { $0 + ($1?.pending.count ?? 0) }, commitRate: commitRate,
            uptimeSeconds: Double(FrameReader.monotonicNanos() - startMonotonic) / 1e9)
    }

    /// This replica's row of the status page.
    func status() -> ReplicaStatus {
        let entry = config.replicas[id]
        return ReplicaStatus(id: id, address: "\(entry.host):\(entry.port)", reachable: true, view: stats.highestView,
                             lastCommittedSequence: stats.lastCommittedSequence, committedRequests: traffic.committedRequests,
                             commitRate: commitRate,
                             peersConnected: (0..<config.n).filter { $0 != id && links.indices.contains($0) && links[$0]?.channel != nil },
                             peersTotal: config.n - 1, rejectedFrames: rejectedTotals().values.reduce(0, +),
                             uptimeSeconds: Double(FrameReader.monotonicNanos() - startMonotonic) / 1e9, error: nil)
    }
}
