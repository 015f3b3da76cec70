import RunRecords
import Foundation

/// Renders a `RunReport` as Markdown with the same figures as the HTML page: tables where HTML has
/// charts, text bars for the latency histogram and a sparkline for throughput.
public struct MarkdownRenderer {
    public let report: RunReport
    /// Rows of the space-time window listed (the JSON has all of them).
    static let messageRowsMax = 40

    public init(report: RunReport) {
        self.report = report
    }

    public func render() -> String {
        let h = report.header
        var facts = [("protocol", "\(h.protocolName), n=\(h.replicas), f=\(h.f)"), ("seed", "\(h.seed)"), ("outcome", "**\(h.status)** (exit \(h.exitCode))"),
                     ("safety", "\(h.safety) (expected \(h.expectSafety))"), ("liveness", "\(h.liveness) (expected \(h.expectLiveness))")]
        if !h.byzantine.isEmpty { facts.append(("Byzantine", h.byzantine.map { "r\($0.replica) (\($0.behaviour))" }.joined(separator: ", "))) }
        facts += [("requests", "\(h.requestsCompleted)/\(h.requestsIssued) completed, \(h.batchesCommitted) decisions"),
                  ("sim time", "\(formatNanos(h.simDurationNs)), \(h.events) events"), ("replay", "`\(h.replay)`")]
        var md = "# \(h.scenario) — bftsim report\n\n" + markdownFacts(facts) + "\n"
        if !report.violations.isEmpty {
            md += "## Violations\n\n"
            for v in report.violations {
                md += "- **\(v.check)**\(v.timeNs.map { " at \(formatNanos($0))" } ?? "")\(v.eventIndex.map { " (event \($0))" } ?? ""): \(v.message)\n"
            }
            md += "\n"
        }
        md += timeline() + spaceTime() + latency() + throughput() + messages() + viewChanges()
        if !report.diagnosis.isEmpty {
            md += "## Liveness diagnosis\n\n" + report.diagnosis.map { "- \($0)\n" }.joined() + "\n"
        }
        if !report.notes.isEmpty {
            md += "## How this report aggregates\n\n" + report.notes.map { "- \($0)\n" }.joined()
        }
        return md
    }

    func timeline() -> String {
        let tl = report.timeline
        var md = "## Per-replica timeline\n\n| replica | views (first–last) | view spans | commits | view changes started | crashed | Byzantine |\n|---|---|---|---|---|---|---|\n"
        for lane in tl.lanes {
            let first = lane.views.first?.viewFirst, last = lane.views.last?.viewLast
            let commits = lane.commits.reduce(0) { $0 + $1.count }
            md += "| r\(lane.replica) | \(first.map { "\($0)–\(last ?? $0)" } ?? "–") | \(lane.views.count) | \(commits) | \(lane.viewChangeStartsNs.count + lane.viewChangeStartsOmitted) | \(lane.crashedAtNs.map(formatNanos) ?? "") | \(lane.byzantine ?? "") |\n"
        }
        if !tl.faults.isEmpty {
            md += "\n| fault | from | to | replicas |\n|---|---|---|---|\n"
            for f in tl.faults {
                md += "| \(f.label) | \(formatNanos(f.fromNs)) | \(f.toNs.map(formatNanos) ?? "end") | \(f.replicas.map { "r\($0)" }.joined(separator: " ")) |\n"
            }
        }
        return md + "\n"
    }

    func spaceTime() -> String {
        let st = report.spaceTime
        var md = "## Space-time window\n\n\(st.caption)\n\n| sent | from | to | type | view | seq | delivered |\n|---|---|---|---|---|---|---|\n"
        for a in st.arrows.prefix(Self.messageRowsMax) {
            let outcome = a.dropped.map { "dropped (\($0))" } ?? a.deliverNs.map(formatNanos) ?? "in flight"
            md += "| \(formatNanos(a.sendNs)) | \(st.lanes[a.from]) | \(st.lanes[a.to]) | \(a.type) | \(a.view.map(String.init) ?? "") | \(a.seq.map(String.init) ?? "") | \(outcome) |\n"
        }
        if st.arrows.count > Self.messageRowsMax {
            md += "\n\(st.arrows.count - Self.messageRowsMax) more messages in the window (see `--format json` or the HTML report).\n"
        }
        return md + "\n"
    }

    func latency() -> String {
        guard let l = report.latency else { return "## Request latency\n\nNo request completed.\n\n" }
        var md = "## Request latency\n\n| count | p50 | p90 | p99 | max | mean | never completed |\n|---|---|---|---|---|---|---|\n"
        md += "| \(l.count) | \(formatNanos(l.p50Ns)) | \(formatNanos(l.p90Ns)) | \(formatNanos(l.p99Ns)) | \(formatNanos(l.maxNs)) | \(formatNanos(l.meanNs)) | \(l.incomplete) |\n\n"
        md += "```\n"
        let maxCount = l.bins.map(\.count).max() ?? 1
        var cumulative = 0
        for b in l.bins {
            cumulative += b.count
            let lo = Int64(pow(10, Double(b.bucket) / Double(l.binsPerDecade)))
            let bar = String(repeating: "█", count: max(1, b.count * 40 / maxCount))
            let label = ("≥" + formatNanos(lo)).padding(toLength: 11, withPad: " ", startingAt: 0)
            md += "\(label) \(bar) \(b.count)  (\(String(format: "%.1f", Double(cumulative) * 100 / Double(l.count)))%)\n"
        }
        md += "```\n\n"
        return md
    }

    func throughput() -> String {
        let tp = report.throughput
        let blocks = Array("▁▂▃▄▅▆▇█")
        let m = max(1, tp.completed.max() ?? 1)
        let spark = String(tp.completed.map { $0 == 0 ? " " : blocks[min(7, $0 * 8 / (m + 1))] })
        return "## Throughput\n\nMean \(tp.meanPerSecond) req/s, peak \(tp.peakPerSecond) req/s (buckets of \(formatNanos(tp.bucketNs))):\n\n```\n|\(spark)|\n```\n\n"
    }

    func messages() -> String {
        let m = report.messages
        var md = "## Messages per committed decision\n\n\(m.sent) sent, \(m.delivered) delivered, \(m.decisions) decisions"
        if let p = m.perDecision { md += ", \(p) messages per decision" }
        if !m.dropped.isEmpty { md += "; dropped: " + m.dropped.keys.sorted().map { "\($0) \(m.dropped[$0]!)" }.joined(separator: ", ") }
        md += ".\n\n| type | sent | delivered | per decision |\n|---|---|---|---|\n"
        for r in m.rows { md += "| \(r.type) | \(r.sent) | \(r.delivered) | \(r.perDecision.map { "\($0)" } ?? "–") |\n" }
        return md + "\n"
    }

    func viewChanges() -> String {
        let v = report.viewChanges
        var md = "## View changes\n\n\(v.total) started by correct replicas; highest view \(v.highestView).\n\n"
        guard !v.views.isEmpty else { return md }
        md += "| target view | leader | first start | starting | first entered | entered |\n|---|---|---|---|---|---|\n"
        for x in v.views.prefix(60) {
            md += "| \(x.view) | \(x.leader.map { "r\($0)" } ?? "–") | \(formatNanos(x.firstStartNs)) | \(x.starters) | \(x.enteredNs.map(formatNanos) ?? "never") | \(x.entered) |\n"
        }
        if v.views.count > 60 || v.viewsOmitted > 0 { md += "\n\(v.views.count - min(60, v.views.count) + v.viewsOmitted) more target views not listed.\n" }
        return md + "\n"
    }
}
