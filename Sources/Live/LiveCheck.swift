import BFTCore
import Checkers
import Foundation
import RunRecords
import Runner

/// `bftsim check DIR`: the simulator's checkers over a live run's observation logs.
///
/// Reads `DIR/cluster.json` (n, f, liveness bound) and every observation log under `DIR`
/// (`observations.bin`, or the JSON lines of older logs), merges
/// them on the wall-clock axis (rebased to the earliest record), renumbers events in merged order, and
/// feeds `InvariantChecker`. Replicas named with `--byzantine` are untrusted, as in a scenario.
public enum LiveCheck {
    public struct Result {
        public var report: CheckReport
        public var text: String
        public var status: RunStatus
        /// Incomplete evidence (torn or unreadable records, a replica that stopped on a storage
        /// failure or lost observation writes): printed as WARNING lines; the verdicts are then only as
        /// good as the logs (issue 13: a truncated log passed as AS EXPECTED without a word).
        public var warnings: [String]
    }

    public static func logFiles(under dir: String) -> [String] {
        guard let e = FileManager.default.enumerator(atPath: dir) else { return [] }
        var out: [String] = []
        while let p = e.nextObject() as? String {
            if p.hasSuffix(ObservationLog.fileName) || p.hasSuffix("observations.jsonl") { out.append(dir + "/" + p) }
        }
        return out.sorted()
    }

    public static func run(directory dir: String, byzantine: Set<Int> = []) throws -> Result {
        let config = try ClusterConfig.load(path: dir + "/cluster.json")
        var records: [ObservationRecord] = []
        var bad = 0
        var warnings: [String] = []
        let files = logFiles(under: dir)
        for f in files {
            let (r, b) = ObservationLogReader.read(path: f)
            records += r
            bad += b
            if b > 0 {
                warnings.append("\(f): \(b) unreadable record\(b == 1 ? "" : "s") (a torn last record after kill -9, or a damaged log): "
                    + "observations after the last good record are missing")
            }
        }
        var shellRejected: [String: Int] = [:]
        var haveStats = false
        for i in 0..<config.n {
            let path = "\(dir)/data/r\(i)/stats.json"
            guard let data = FileManager.default.contents(atPath: path),
                  let s = try? JSONDecoder().decode(ShellStats.self, from: data) else { continue }
            haveStats = true
            for (k, v) in s.rejected { shellRejected[k, default: 0] += v }
            if let why = s.storageFailure {
                warnings.append("r\(i) stopped on a storage failure: \(why) (its log ends there; restart it once space is freed)")
            }
            if s.observationWriteFailures > 0 {
                warnings.append("r\(i) failed to write \(s.observationWriteFailures) batch\(s.observationWriteFailures == 1 ? "" : "es") of observations: its audit trail is incomplete")
            }
        }
        records.sort { ($0.time, $0.source, $0.eventIndex) < ($1.time, $1.source, $1.eventIndex) }
        let t0 = records.first?.time ?? 0
        for i in records.indices {
            records[i].time -= t0
            records[i].eventIndex = UInt64(i + 1)
        }
        let end = records.last?.time ?? 0
        let checker = InvariantChecker(config: CheckerConfig(n: config.n, f: config.f, byzantine: byzantine,
                                                             livenessBound: config.livenessBound))
        var rejected: [String: Int] = [:]
        var highestView: UInt64 = 0
        for r in records {
            checker.observe(r)
            if case .rejected(let reason, _) = r.observation { rejected[reason.rawValue, default: 0] += 1 }
            if case .viewEntered(let v, _) = r.observation, let id = r.source.replicaID, !byzantine.contains(id) { highestView = max(highestView, v) }
        }
        let report = checker.finish(at: end)
        let status: RunStatus = report.safety == .violated ? .safetyViolation : (report.liveness == .violated ? .livenessViolation : .asExpected)

        var out: [String] = []
        out.append("live run  \(dir)  (\(config.protocolName), n=\(config.n), f=\(config.f), \(files.count) logs, \(records.count) observations\(bad > 0 ? ", \(bad) unreadable records" : ""))")
        out.append("outcome   \(status.label.uppercased())\(warnings.isEmpty ? "" : " WITH \(warnings.count) WARNING\(warnings.count == 1 ? "" : "S") (see below)")  safety: \(report.safety.rawValue) (expected holds), liveness: \(report.liveness.rawValue) (expected holds)")
        for kind in ViolationKind.allCases {
            let v = report.violations.first { $0.kind == kind }
            var line = "  \(v == nil ? "ok  " : "FAIL") \(kind.rawValue.padding(toLength: 14, withPad: " ", startingAt: 0))"
            if let v { line += " at \(formatNanos(v.time)) (event \(v.eventIndex)): \(v.message)" }
            out.append(line)
        }
        let seconds = Double(end) / 1e9
        let tput = seconds > 0 ? Double(report.completedRequests) / seconds : 0
        out.append("requests  \(report.completedRequests)/\(report.issuedRequests) completed, \(report.committedBatches) batches committed, wall time \(formatNanos(end)), \(String(format: "%.1f", tput)) req/s (wall)")
        if !report.latency.isComplete {
            let l = report.latency
            out.append("latency   p50 \(formatNanos(l.histogramPercentile(50)))  p90 \(formatNanos(l.histogramPercentile(90)))  p99 \(formatNanos(l.histogramPercentile(99)))  max \(formatNanos(l.max))  (wall time)")
        } else if !report.latencies.isEmpty {
            let s = report.latencies.sorted()
            func p(_ q: Double) -> Int64 { s[min(s.count - 1, Int(Double(s.count) * q))] }
            out.append("latency   p50 \(formatNanos(p(0.5)))  p90 \(formatNanos(p(0.9)))  p99 \(formatNanos(p(0.99)))  max \(formatNanos(s.last!))  (wall time)")
        }
        out.append("views     highest view \(highestView)")
        // Replicas log at most one rejection per reason per second; stats.json has the exact counts.
        let rejectedCounts = haveStats ? shellRejected : rejected
        if !rejectedCounts.isEmpty {
            out.append("rejected  " + rejectedCounts.keys.sorted().map { "\($0) \(rejectedCounts[$0]!)" }.joined(separator: ", ")
                + (haveStats ? " (replicas' stats.json)" : ""))
        }
        for w in warnings { out.append("WARNING   \(w)") }
        if !report.diagnosis.isEmpty {
            out.append("diagnosis (liveness):")
            for d in report.diagnosis { out.append("  \(d.summary)") }
        }
        return Result(report: report, text: out.joined(separator: "\n"), status: status, warnings: warnings)
    }
}
