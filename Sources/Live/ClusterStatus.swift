import Foundation

/// One replica as an operator sees it: the status page's row and `bftsim cluster status`'s line.
public struct ReplicaStatus: Codable, Sendable, Equatable {
    public var id: Int
    public var address: String
    /// False when its metrics endpoint did not answer (`error` says why).
    public var reachable: Bool
    public var view: UInt64
    public var lastCommittedSequence: UInt64
    public var committedRequests: Int
    /// Committed requests per second over the last few seconds.
    public var commitRate: Double
    /// Peers this replica's outgoing links are connected to.
    public var peersConnected: [Int]
    public var peersTotal: Int
    public var rejectedFrames: Int
    public var uptimeSeconds: Double
    public var error: String?

    static func unreachable(id: Int, address: String, error: String) -> ReplicaStatus {
        ReplicaStatus(id: id, address: address, reachable: false, view: 0, lastCommittedSequence: 0, committedRequests: 0,
                      commitRate: 0, peersConnected: [], peersTotal: 0, rejectedFrames: 0, uptimeSeconds: 0, error: error)
    }
}

/// Samples of the Prometheus text exposition format (name, labels, value); comments skipped.
public enum PrometheusText {
    public struct Sample: Equatable, Sendable {
        public var name: String
        public var labels: [String: String]
        public var value: Double
    }

    public static func parse(_ text: String) -> [Sample] {
        var out: [Sample] = []
        for raw in text.split(separator: "\n") {
            let line = raw.trimmingCharacters(in: .whitespaces)
            guard !line.isEmpty, !line.hasPrefix("#") else { continue }
            var name = Substring(line), labels: [String: String] = [:], rest = Substring("")
            if let open = line.firstIndex(of: "{"), let close = line.lastIndex(of: "}") {
                name = line[..<open]
                for pair in line[line.index(after: open)..<close].split(separator: ",") {
                    let kv = pair.split(separator: "=", maxSplits: 1)
                    guard kv.count == 2 else { continue }
                    labels[String(kv[0]).trimmingCharacters(in: .whitespaces)] = String(kv[1]).trimmingCharacters(in: CharacterSet(charactersIn: "\" "))
                }
                rest = line[line.index(after: close)...]
            } else if let sp = line.firstIndex(of: " ") {
                name = line[..<sp]
                rest = line[sp...]
            }
            guard let v = rest.split(separator: " ").first.flatMap({ Double($0) }) else { continue }
            out.append(Sample(name: String(name), labels: labels, value: v))
        }
        return out
    }

    /// The value of an unlabelled series (or the sum over labelled ones matching `labels`).
    public static func value(_ samples: [Sample], _ name: String, labels: [String: String] = [:]) -> Double? {
        let hits = samples.filter { s in s.name == name && labels.allSatisfy { s.labels[$0.key] == $0.value } }
        return hits.isEmpty ? nil : hits.reduce(0) { $0 + $1.value }
    }
}

/// `bftsim cluster status DIR`: every replica's view, last committed sequence, commit rate and peers,
/// read from its metrics endpoint.
public enum ClusterStatus {
    public static func collect(config: ClusterConfig, timeout: Double = 2) -> [ReplicaStatus] {
        config.replicas.map { r in
            let address = "\(r.host):\(r.port)"
            guard let port = r.metricsPort else {
                return .unreachable(id: r.id, address: address, error: "no metricsPort in the cluster file")
            }
            do {
                let (code, body) = try HTTPGet.fetch(host: r.host, port: port, path: "/metrics", timeout: timeout)
                guard code == 200 else { return .unreachable(id: r.id, address: address, error: "HTTP \(code)") }
                return status(id: r.id, address: address, n: config.n, metrics: PrometheusText.parse(body))
            } catch {
                return .unreachable(id: r.id, address: address, error: "\(error)")
            }
        }
    }

    static func status(id: Int, address: String, n: Int, metrics m: [PrometheusText.Sample]) -> ReplicaStatus {
        let peers = (0..<n).filter { j in j != id && (PrometheusText.value(m, "bftsim_peer_connected", labels: ["peer": String(j)]) ?? 0) > 0 }
        return ReplicaStatus(
            id: id, address: address, reachable: true,
            view: UInt64(PrometheusText.value(m, "bftsim_view") ?? 0),
            lastCommittedSequence: UInt64(PrometheusText.value(m, "bftsim_last_committed_sequence") ?? 0),
            committedRequests: Int(PrometheusText.value(m, "bftsim_committed_requests_total") ?? 0),
            commitRate: PrometheusText.value(m, "bftsim_commit_rate_requests_per_second") ?? 0,
            peersConnected: peers, peersTotal: n - 1,
            rejectedFrames: Int(PrometheusText.value(m, "bftsim_rejected_frames_total") ?? 0),
            uptimeSeconds: PrometheusText.value(m, "bftsim_uptime_seconds") ?? 0, error: nil)
    }

    public static func text(_ rows: [ReplicaStatus]) -> String {
        var lines = ["replica  address           view  last-seq  committed  rate/s  peers  rejected  uptime"]
        for r in rows {
            guard r.reachable else {
                lines.append(String(format: "r%-7d %-17@ unreachable: %@", r.id, r.address as NSString, (r.error ?? "?") as NSString))
                continue
            }
            lines.append(String(format: "r%-7d %-17@ %4llu  %8llu  %9d  %6.1f  %d/%d    %8d  %.0fs", r.id, r.address as NSString,
                                r.view, r.lastCommittedSequence, r.committedRequests, r.commitRate,
                                r.peersConnected.count, r.peersTotal, r.rejectedFrames, r.uptimeSeconds))
        }
        return lines.joined(separator: "\n")
    }
}

/// The status page (`/` on a replica's metrics port; `bftsim cluster status DIR --html FILE` for the
/// cluster): one table, no scripts, refreshed by a meta tag.
public enum StatusPage {
    public static func html(title: String, protocolName: String, replicas: [ReplicaStatus], refreshSeconds: Int? = nil) -> String {
        func esc(_ s: String) -> String {
            s.replacingOccurrences(of: "&", with: "&amp;").replacingOccurrences(of: "<", with: "&lt;")
                .replacingOccurrences(of: ">", with: "&gt;").replacingOccurrences(of: "\"", with: "&quot;")
        }
        var rows = ""
        for r in replicas {
            if r.reachable {
                let peers = r.peersConnected.map { "r\($0)" }.joined(separator: " ")
                let healthy = r.peersConnected.count == r.peersTotal
                rows += "<tr class=\"\(healthy ? "ok" : "warn")\"><td>r\(r.id)</td><td>\(esc(r.address))</td><td class=\"num view\">\(r.view)</td>"
                    + "<td class=\"num seq\">\(r.lastCommittedSequence)</td><td class=\"num\">\(r.committedRequests)</td>"
                    + "<td class=\"num\">\(String(format: "%.1f", r.commitRate))</td>"
                    + "<td>\(r.peersConnected.count)/\(r.peersTotal) <span class=\"peers\">\(esc(peers))</span></td>"
                    + "<td class=\"num\">\(r.rejectedFrames)</td><td class=\"num\">\(String(format: "%.0f s", r.uptimeSeconds))</td></tr>\n"
            } else {
                rows += "<tr class=\"down\"><td>r\(r.id)</td><td>\(esc(r.address))</td><td colspan=\"7\">unreachable: \(esc(r.error ?? "?"))</td></tr>\n"
            }
        }
        let refresh = refreshSeconds.map { "<meta http-equiv=\"refresh\" content=\"\($0)\">" } ?? ""
        return """
        <!DOCTYPE html>
        <html lang="en"><head><meta charset="utf-8">\(refresh)<title>\(esc(title))</title>
        <style>
        body { font: 15px/1.4 system-ui, sans-serif; margin: 2em; color: #222; }
        h1 { font-size: 1.4em; margin-bottom: 0.2em; } p.sub { color: #666; margin-top: 0; }
        table { border-collapse: collapse; min-width: 60em; }
        th, td { padding: 0.45em 0.9em; border-bottom: 1px solid #ddd; text-align: left; }
        th { background: #f0f2f5; } td.num { text-align: right; font-variant-numeric: tabular-nums; }
        tr.ok td:first-child { border-left: 6px solid #2e9d4f; } tr.warn td:first-child { border-left: 6px solid #e0a100; }
        tr.down td:first-child { border-left: 6px solid #c62828; } tr.down td { color: #c62828; }
        span.peers { color: #666; font-size: 0.9em; }
        </style></head><body>
        <h1>\(esc(title))</h1>
        <p class="sub">protocol \(esc(protocolName)) · \(replicas.count) replica\(replicas.count == 1 ? "" : "s") shown · metrics at <code>/metrics</code></p>
        <table><thead><tr><th>replica</th><th>address</th><th>view</th><th>last committed</th><th>committed requests</th><th>commits/s</th><th>peers</th><th>rejected frames</th><th>uptime</th></tr></thead>
        <tbody>
        \(rows)</tbody></table>
        </body></html>
        """
    }
}
