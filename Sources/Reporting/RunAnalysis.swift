import RunRecords
import Foundation
import Histogram

/// Builds a `RunReport` from a run directory in one streaming pass over the trace.
///
/// Memory is bounded whatever the length of the run: the timeline and throughput are fixed numbers
/// of time buckets, latency is a log-spaced histogram, the space-time diagram keeps a ring of at most
/// `arrowsMax` messages, and every list (view changes, faults, markers) has a named maximum with an
/// "omitted" count, which the charts state.
public enum RunAnalysis {
    /// Largest replica count a report accepts (lanes are drawn for every replica).
    public static let replicasMax = 1024
    /// Time buckets of the per-replica timeline.
    public static let timelineBuckets = 400
    /// Time buckets of the throughput chart.
    public static let throughputBuckets = 100
    /// Messages drawn in the space-time diagram at small n; larger clusters get 6 per replica (one
    /// broadcast is n arrows), up to `arrowsCeiling`.
    public static let arrowsMax = 160
    public static let arrowsCeiling = 480
    /// Share of the window's arrows that client messages (REQUEST, REPLY) may take, so a client
    /// fan-out at n=64 does not crowd out the protocol's own messages.
    public static let clientArrowsShare = 0.2

    public static func arrowsMax(replicas n: Int) -> Int { min(arrowsCeiling, max(arrowsMax, 6 * n)) }
    /// Observation markers (commits, view entries) drawn in the space-time diagram.
    public static let markersMax = 400
    /// View-change start marks kept per replica lane.
    public static let viewChangeMarksMax = 200
    /// Distinct target views tracked in the view-change table.
    public static let viewChangesMax = 200
    /// Fault windows kept (partitions, isolations, cuts, crashes, link changes).
    public static let faultsMax = 500
    /// Requests issued and not yet completed that are remembered for latency.
    public static let pendingRequestsMax = 1 << 20
    /// Latency histogram resolution: bins per power of ten (about 12% wide each).
    public static let binsPerDecade = 20
    static let latencyBinCount = 14 * 20

    /// Reads the trace of `directory` and computes every figure. `byzantine` names replicas running
    /// Byzantine behaviours when the summary does not record them (the CLI reads the scenario file).
    /// `windowAt` centres the space-time diagram at that simulated time instead of the first violation.
    public static func analyze(_ directory: RunDirectory, byzantine: [ByzantineRecord] = [], windowAt: Int64? = nil) throws(ReportError) -> RunReport {
        var state = State(summary: directory.summary, byzantine: directory.summary.byzantine ?? byzantine, windowAt: windowAt)
        try TraceReader(path: directory.tracePath).forEach { record throws(ReportError) in
            state.absorb(record)
        }
        return state.finish()
    }
}

extension RunAnalysis {
    /// The accumulating state of one pass.
    struct State {
        let summary: RunSummary
        let byzantine: [ByzantineRecord]
        let n: Int
        let endNs: Int64
        let bucketNs: Int64
        let throughputBucketNs: Int64

        var lanes: [LaneState]
        var faults: [RunReport.FaultWindow] = []
        var faultsOmitted = 0
        var pending: [String: Int64] = [:]
        var pendingOverflow = 0
        var latencyBins: [Int]
        var latencyCount = 0
        var latencyMin = Int64.max
        var latencyMax = Int64.min
        var latencySum: Double = 0
        /// Latencies for the quantiles (HdrHistogram, three significant digits, up to an hour), used when
        /// the summary carries none; the log bins above draw the chart.
        var latencyHistogram = Histogram<UInt64>(highestTrackableValue: 3_600 * 1_000_000_000, numberOfSignificantValueDigits: .three)
        var completed: [Int]
        var views: [UInt64: ViewChangeState] = [:]
        var viewsOmitted = 0
        var window: WindowState

        init(summary: RunSummary, byzantine: [ByzantineRecord], windowAt: Int64?) {
            self.summary = summary
            self.byzantine = byzantine
            n = summary.replicas
            endNs = max(1, summary.simDurationNs)
            bucketNs = max(1, (endNs + Int64(RunAnalysis.timelineBuckets) - 1) / Int64(RunAnalysis.timelineBuckets))
            throughputBucketNs = max(1, (endNs + Int64(RunAnalysis.throughputBuckets) - 1) / Int64(RunAnalysis.throughputBuckets))
            lanes = (0..<summary.replicas).map { _ in LaneState(buckets: RunAnalysis.timelineBuckets) }
            latencyBins = [Int](repeating: 0, count: RunAnalysis.latencyBinCount)
            completed = [Int](repeating: 0, count: RunAnalysis.throughputBuckets)
            let violation = summary.checks.filter { $0.verdict == "violated" && $0.eventIndex != nil }
                .min { ($0.eventIndex ?? 0) < ($1.eventIndex ?? 0) }
            let requested = windowAt.map { RunSummary.Check(name: "--window-at", verdict: "", time: $0, eventIndex: nil, message: nil) }
            window = WindowState(replicas: summary.replicas, focus: requested ?? violation)
        }

        func bucket(_ t: Int64) -> Int { Int(min(max(0, t / bucketNs), Int64(RunAnalysis.timelineBuckets - 1))) }

        mutating func absorb(_ r: TraceRecord) {
            window.absorb(r)
            switch r.kind {
            case "observe": observe(r)
            case "fault": fault(r)
            default: break
            }
        }

        mutating func observe(_ r: TraceRecord) {
            let t = r.time
            switch r.string("obs") ?? "" {
            case "view-entered":
                guard let id = r.replica("node"), id < n, let v = r.int("view") else { return }
                lanes[id].enter(view: UInt64(max(0, v)), leader: r.int("leader").map(Int.init), at: t, bucketNs: bucketNs)
                if var vc = views[UInt64(max(0, v))] {
                    if vc.enteredNs == nil { vc.enteredNs = t }
                    vc.entered += 1
                    vc.leader = r.int("leader").map(Int.init)
                    views[UInt64(max(0, v))] = vc
                }
            case "view-change":
                guard let id = r.replica("node"), id < n, let v = r.int("view") else { return }
                lanes[id].startViewChange(at: t)
                let view = UInt64(max(0, v))
                if var vc = views[view] {
                    if !vc.starters.contains(id) { vc.starters.append(id) }
                    views[view] = vc
                } else if views.count < RunAnalysis.viewChangesMax {
                    views[view] = ViewChangeState(firstStartNs: t, starters: [id])
                } else {
                    viewsOmitted += 1
                }
            case "commit":
                guard let id = r.replica("node"), id < n else { return }
                lanes[id].commits[bucket(t)] += 1
            case "request":
                guard let id = r.string("request") else { return }
                if pending.count < RunAnalysis.pendingRequestsMax { pending[id] = t } else { pendingOverflow += 1 }
            case "complete":
                guard let id = r.string("request") else { return }
                let tb = Int(min(max(0, t / throughputBucketNs), Int64(RunAnalysis.throughputBuckets - 1)))
                completed[tb] += 1
                guard let issued = pending.removeValue(forKey: id) else { return }
                recordLatency(t - issued)
            default:
                break
            }
        }

        mutating func recordLatency(_ ns: Int64) {
            let v = max(1, ns)
            let bin = Int((log10(Double(v)) * Double(RunAnalysis.binsPerDecade)).rounded(.down))
            latencyBins[min(max(0, bin), latencyBins.count - 1)] += 1
            latencyCount += 1
            latencyMin = min(latencyMin, ns)
            latencyMax = max(latencyMax, ns)
            latencySum += Double(ns)
            _ = latencyHistogram.record(UInt64(max(0, ns)))
        }

        mutating func fault(_ r: TraceRecord) {
            let t = r.time
            let action = r.string("action") ?? "?"
            if action == "heal" {
                for k in faults.indices where faults[k].toNs == nil && ["partition", "isolate", "cut", "cut-one-way"].contains(faults[k].action) {
                    faults[k].toNs = t
                }
                return
            }
            var replicas: [Int] = []
            var label = action
            switch action {
            case "partition":
                let groups = (r.fields["groups"] as? [[Any]] ?? []).map { $0.compactMap { ($0 as? NSNumber)?.intValue } }
                let largest = groups.enumerated().max { a, b in a.element.count < b.element.count || (a.element.count == b.element.count && a.offset > b.offset) }?.offset
                for (k, g) in groups.enumerated() where k != largest { replicas += g }
                label = "partition " + groups.map { "{" + $0.map(String.init).joined(separator: ",") + "}" }.joined(separator: " | ")
            case "isolate", "crash":
                if let id = r.replica("node") { replicas = [id] }
                label = "\(action) r\(replicas.first ?? -1)"
                if action == "crash", let id = replicas.first, id < n, lanes[id].crashedAt == nil {
                    lanes[id].crashedAt = t
                    lanes[id].closeChange(at: t)
                }
            case "cut", "cut-one-way":
                replicas = [r.replica("from"), r.replica("to")].compactMap { $0 }
                label = "\(action) \(r.string("from") ?? "?")→\(r.string("to") ?? "?")"
            case "set-latency":
                replicas = [r.replica("from"), r.replica("to")].compactMap { $0 }
                label = "latency \(r.string("from") ?? "*")→\(r.string("to") ?? "*") \(r.string("latency") ?? "")"
            case "set-loss":
                replicas = [r.replica("from"), r.replica("to")].compactMap { $0 }
                label = "loss \(r.string("from") ?? "*")→\(r.string("to") ?? "*") \(r.string("loss") ?? "")"
            default:
                break
            }
            guard faults.count < RunAnalysis.faultsMax else {
                faultsOmitted += 1
                return
            }
            faults.append(.init(action: action, fromNs: t, toNs: nil, replicas: replicas.filter { $0 < n }, label: label))
        }

        mutating func finish() -> RunReport {
            let s = summary
            let byz = Dictionary(byzantine.map { ($0.replica, $0.behaviour) }, uniquingKeysWith: { a, _ in a })
            let timelineLanes = lanes.enumerated().map { id, lane in
                lane.report(replica: id, byzantine: byz[id], endNs: endNs)
            }
            var notes: [String] = []
            notes.append("Timeline: \(RunAnalysis.timelineBuckets) buckets of \(formatNanos(bucketNs)); views held for less than one bucket are merged into hatched 'advancing' spans.")
            let st = window.report(endNs: endNs)
            if st.omitted > 0 { notes.append("Space-time: \(st.arrows.count) messages drawn, \(st.omitted) more in the window not drawn (cap \(st.arrowsMax)).") }
            if faultsOmitted > 0 { notes.append("\(faultsOmitted) faults beyond \(RunAnalysis.faultsMax) not drawn.") }
            if viewsOmitted > 0 { notes.append("\(viewsOmitted) view changes to views beyond the first \(RunAnalysis.viewChangesMax) not tabulated.") }
            if pendingOverflow > 0 { notes.append("\(pendingOverflow) requests beyond \(RunAnalysis.pendingRequestsMax) outstanding were not timed.") }

            let latency: RunReport.Latency? = latencyCount == 0 ? nil : {
                let bins = latencyBins.enumerated().filter { $0.element > 0 }.map { RunReport.BucketCount(bucket: $0.offset, count: $0.element) }
                return RunReport.Latency(
                    count: latencyCount, minNs: latencyMin, maxNs: latencyMax, meanNs: Int64(latencySum / Double(latencyCount)),
                    p50Ns: s.latencyNs?.p50 ?? percentile(0.50), p90Ns: s.latencyNs?.p90 ?? percentile(0.90),
                    p99Ns: s.latencyNs?.p99 ?? percentile(0.99),
                    binsPerDecade: RunAnalysis.binsPerDecade, bins: bins, incomplete: pending.count + pendingOverflow)
            }()
            let used = max(1, Int((endNs + throughputBucketNs - 1) / throughputBucketNs))
            let perBucket = Array(completed.prefix(used))
            let secondsPerBucket = Double(throughputBucketNs) / 1e9
            let throughput = RunReport.Throughput(
                bucketNs: throughputBucketNs, completed: perBucket,
                peakPerSecond: ((Double(perBucket.max() ?? 0) / secondsPerBucket) * 10).rounded() / 10,
                meanPerSecond: s.throughputPerSimSecond)

            let decisions = s.batchesCommitted
            func per(_ x: Int) -> Double? { decisions > 0 ? (Double(x) / Double(decisions) * 100).rounded() / 100 : nil }
            let messages = RunReport.Messages(
                rows: s.messages.map { .init(type: $0.type, sent: $0.sent, delivered: $0.delivered, perDecision: per($0.sent)) },
                sent: s.messagesSent, delivered: s.messagesDelivered, dropped: s.messagesDropped,
                decisions: decisions, perDecision: per(s.messagesSent))

            let vcs = views.keys.sorted().map { v in
                let x = views[v]!
                return RunReport.ViewChange(view: v, firstStartNs: x.firstStartNs, starters: x.starters.count,
                                            enteredNs: x.enteredNs, entered: x.entered, leader: x.leader)
            }
            let header = RunReport.Header(
                scenario: s.scenario, file: s.file, protocolName: s.protocolName, replicas: s.replicas, f: s.f, seed: s.seed,
                status: s.status, exitCode: s.exitCode, safety: s.safety, liveness: s.liveness,
                expectSafety: s.expect.safety.rawValue, expectLiveness: s.expect.liveness.rawValue, replay: s.replay,
                simDurationNs: s.simDurationNs, events: s.events, traceHash: s.traceHash,
                requestsIssued: s.requestsIssued, requestsCompleted: s.requestsCompleted, batchesCommitted: s.batchesCommitted,
                byzantine: byzantine.sorted { $0.replica < $1.replica })
            let violations = s.checks.filter { $0.verdict == "violated" }.map {
                RunReport.Violation(check: $0.name, timeNs: $0.time, eventIndex: $0.eventIndex, message: $0.message ?? "")
            }
            return RunReport(
                header: header, violations: violations,
                timeline: .init(bucketNs: bucketNs, buckets: RunAnalysis.timelineBuckets, lanes: timelineLanes,
                                faults: faults, faultsOmitted: faultsOmitted),
                spaceTime: st, latency: latency, throughput: throughput, messages: messages,
                viewChanges: .init(total: s.viewChanges, highestView: s.highestView, views: vcs, viewsOmitted: viewsOmitted),
                diagnosis: s.diagnosis, notes: notes)
        }

        /// The latency at quantile `q` (used when the summary has none).
        func percentile(_ q: Double) -> Int64 {
            Int64(clamping: latencyHistogram.valueAtPercentile(q * 100))
        }
    }

    struct ViewChangeState {
        var firstStartNs: Int64
        var starters: [Int]
        var enteredNs: Int64?
        var entered = 0
        var leader: Int?
    }

    /// One replica's lane while streaming.
    struct LaneState {
        var spans: [RunReport.ViewSpan] = []
        /// When the newest span's last view was entered.
        var lastEntry: Int64 = 0
        var commits: [Int]
        var viewChangeStarts: [Int64] = []
        var viewChangeStartsOmitted = 0
        var crashedAt: Int64?
        var changing: [RunReport.Interval] = []
        var changingSince: Int64?

        init(buckets: Int) {
            commits = [Int](repeating: 0, count: buckets)
        }

        /// A view held for less than one bucket merges into the current span, which then covers a
        /// range of views: so a lane has at most one span per bucket.
        mutating func enter(view: UInt64, leader: Int?, at t: Int64, bucketNs: Int64) {
            closeChange(at: t)
            if var last = spans.last {
                if t - lastEntry < bucketNs {
                    last.viewLast = max(last.viewLast, view)
                    if last.viewFirst != last.viewLast { last.leader = nil }
                    spans[spans.count - 1] = last
                    lastEntry = t
                    return
                }
                spans[spans.count - 1].toNs = t
            }
            spans.append(.init(fromNs: t, toNs: t, viewFirst: view, viewLast: view, leader: leader))
            lastEntry = t
        }

        mutating func closeChange(at t: Int64) {
            guard let since = changingSince else { return }
            changingSince = nil
            if t > since, changing.count < RunAnalysis.viewChangeMarksMax { changing.append(.init(fromNs: since, toNs: t)) }
        }

        mutating func startViewChange(at t: Int64) {
            if changingSince == nil { changingSince = t }
            if viewChangeStarts.count < RunAnalysis.viewChangeMarksMax { viewChangeStarts.append(t) } else { viewChangeStartsOmitted += 1 }
        }

        func report(replica: Int, byzantine: String?, endNs: Int64) -> RunReport.Lane {
            var spans = self.spans
            var lane = self
            lane.closeChange(at: crashedAt ?? endNs)
            if !spans.isEmpty { spans[spans.count - 1].toNs = crashedAt ?? endNs }
            let commits = self.commits.enumerated().filter { $0.element > 0 }.map { RunReport.BucketCount(bucket: $0.offset, count: $0.element) }
            return .init(replica: replica, byzantine: byzantine, crashedAtNs: crashedAt, views: spans, commits: commits,
                         viewChangeStartsNs: viewChangeStarts, viewChangeStartsOmitted: viewChangeStartsOmitted,
                         changingViews: lane.changing)
        }
    }
}

/// Parses a simulated duration for `--window-at`: `1.8s`, `250ms`, `40us`/`40µs`, `1500ns` or plain
/// nanoseconds. Returns nil when the text is not one.
public func parseDuration(_ text: String) -> Int64? {
    let t = text.trimmingCharacters(in: .whitespaces)
    for (suffix, scale) in [("ms", 1e6), ("µs", 1e3), ("us", 1e3), ("ns", 1.0), ("s", 1e9)] where t.hasSuffix(suffix) {
        guard let v = Double(t.dropLast(suffix.count)), v >= 0, v.isFinite else { return nil }
        return Int64((v * scale).rounded())
    }
    guard let v = Int64(t), v >= 0 else { return nil }
    return v
}
