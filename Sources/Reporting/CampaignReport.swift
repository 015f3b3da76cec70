import BFTCore
import Foundation
import RunRecords
import ScenarioFormat

/// Input of a fuzz-campaign report: a directory holding `campaign.json` (written by `bftsim fuzz`),
/// its `failures/` and the shrunk scenario files. Decoded from the file format alone (Reporting does
/// not link the fuzzer), parallel to `RunDirectory` → `RunAnalysis` → `RunReport`.
public struct CampaignDirectory: Sendable {
    public var path: String
    public var campaign: CampaignFile

    /// Whether `path` looks like a campaign directory (has `campaign.json`).
    public static func isCampaign(_ path: String) -> Bool {
        FileManager.default.fileExists(atPath: path + "/campaign.json")
    }

    public init(path: String) throws(ReportError) {
        self.path = path
        let file = path + "/campaign.json"
        guard let data = FileManager.default.contents(atPath: file) else { throw ReportError(file: file, "cannot read") }
        let d = JSONDecoder()
        d.keyDecodingStrategy = .convertFromSnakeCase
        do { campaign = try d.decode(CampaignFile.self, from: data) } catch {
            throw ReportError(file: file, "not a bftsim campaign.json: \(error)")
        }
    }
}

/// The fields of `campaign.json`'s config a report shows.
public struct CampaignFileConfig: Codable, Sendable {
    public var protocolKind: String
    public var strategy: String
    public var seed: UInt64
    public var replicas: Int
    /// The largest n when runs draw n from a range.
    public var replicasMax: Int?
    public var byzantineBudget: Int
    public var crashBudget: Int
    public var faultClasses: [String]
    public var mutant: String?
    var replicasText: String { replicasMax.map { $0 > replicas ? "\(replicas)..\($0)" : "\(replicas)" } ?? "\(replicas)" }
}

/// `campaign.json` as a report reads it.
public typealias CampaignFile = CampaignRecord<CampaignFileConfig>

/// Everything a campaign report draws: the campaign, the coverage curves (this campaign and any
/// compared ones, e.g. random vs guided), and each shrunk failure with its mini timeline.
public struct CampaignReport: Sendable {
    public struct Curve: Sendable {
        public var label: String
        public var points: [[Int]]
        public var statesPerRun: Double
    }
    /// A shrunk failure: its scenario's fault events for the mini timeline.
    public struct Failure: Sendable {
        public var signature: SignatureRecord
        public var replicas: Int
        public var timeLimit: Int64
        public var gst: Int64?
        public var events: [(at: Int64, label: String, replicas: [Int], kind: String)]
        public var byzantine: [(replica: Int, behaviour: String)]
    }
    public var directory: String
    public var campaign: CampaignFile
    public var curves: [Curve]
    public var failures: [Failure]
    /// Signatures beyond the ones drawn (the report lists at most `failuresMax`).
    public var failuresOmitted: Int
    public static let failuresMax = 20

    public static func analyze(_ dir: CampaignDirectory, compare: [CampaignDirectory] = []) -> CampaignReport {
        func curve(_ c: CampaignFile) -> Curve {
            Curve(label: "\(c.config.strategy) (seed \(c.config.seed))", points: c.coverage.growth,
                  statesPerRun: c.runs == 0 ? 0 : Double(c.coverage.stateVisits) / Double(c.runs))
        }
        var failures: [Failure] = []
        for s in dir.campaign.signatures.prefix(failuresMax) {
            let file = dir.path + "/" + (s.shrunkFile ?? s.file)
            guard let scenario = try? ScenarioLoader.load(path: file) else { continue }
            failures.append(Failure(signature: s, replicas: scenario.replicas, timeLimit: scenario.stop.timeLimit,
                                    gst: scenario.network.gst, events: scenario.timeline.map(describe),
                                    byzantine: scenario.byzantine.map { ($0.replica, $0.behaviour) }))
        }
        return CampaignReport(directory: dir.path, campaign: dir.campaign, curves: [curve(dir.campaign)] + compare.map { curve($0.campaign) },
                              failures: failures, failuresOmitted: max(0, dir.campaign.signatures.count - failuresMax))
    }

    static func describe(_ e: TimelineEvent) -> (at: Int64, label: String, replicas: [Int], kind: String) {
        switch e.action {
        case .crash(let r): return (e.at, "crash r\(r)", [r], "crash")
        case .isolate(let r): return (e.at, "isolate r\(r)", [r], "cut")
        case .partition(let groups):
            return (e.at, "partition " + groups.map { "{" + $0.map(String.init).joined(separator: ",") + "}" }.joined(separator: " "),
                    groups.count > 1 ? groups.dropFirst().flatMap { $0 } : [], "cut")
        case .cutLink(let a, let b, let oneWay): return (e.at, "cut \(a)\(oneWay ? "→" : "↔")\(b)", [a, b], "cut")
        case .heal: return (e.at, "heal", [], "heal")
        case .setLatency(let a, let b, _): return (e.at, "latency \(a.map(String.init) ?? "*")→\(b.map(String.init) ?? "*")", [a, b].compactMap { $0 }, "net")
        case .setLoss(let a, let b, _): return (e.at, "loss \(a.map(String.init) ?? "*")→\(b.map(String.init) ?? "*")", [a, b].compactMap { $0 }, "net")
        default: return (e.at, "event", [], "net")
        }
    }

    // MARK: rendering

    public func markdown() -> String {
        let c = campaign
        var md = ["# Fuzz campaign report: \(c.config.protocolKind), \(c.config.strategy)", ""]
        md.append("- runs \(c.runs)" + (c.timing.map { String(format: ", %.0f runs/s, %.1fs", $0.runsPerSecond, $0.elapsedSeconds) } ?? ""))
        md.append("- failing runs \(c.failingRuns), signatures \(c.signatures.count), over-threshold runs \(c.overThresholdRuns), excused violations \(c.excusedViolations)")
        if let m = c.config.mutant { md.append("- test-only mutant `\(m)`") }
        md += ["", "## Failures by kind", ""]
        for k in c.failuresByKind.keys.sorted() { md.append("- \(k): \(c.failuresByKind[k]!)") }
        md += ["", "## Coverage", ""]
        for cv in curves { md.append("- \(cv.label): \(cv.points.last?[1] ?? 0) states after \(cv.points.last?[0] ?? 0) runs, \(String(format: "%.1f", cv.statesPerRun)) states/run") }
        md += ["", "## Shrunk failures", ""]
        for f in failures {
            md.append("- **\(f.signature.kind)** ×\(f.signature.count) (first run \(f.signature.firstRun)): \(f.signature.message)")
            md.append("  - timeline: " + (f.events.map { "\(formatNanos($0.at)) \($0.label)" } + f.byzantine.map { "r\($0.replica) \($0.behaviour)" }).joined(separator: "; "))
            md.append("  - replay: `\(f.signature.replay)`")
        }
        if failuresOmitted > 0 { md.append("- … and \(failuresOmitted) more signatures in campaign.json") }
        return md.joined(separator: "\n") + "\n"
    }

    public func html() -> String {
        let c = campaign
        return HTMLRenderer.page(title: "fuzz \(c.config.protocolKind) \(c.config.strategy) — bftsim campaign report") {
            summarySection() + coverageSection() + failuresSection()
        }
    }

    func summarySection() -> String {
        let c = campaign
        var h = "<section class=\"card\" id=\"campaign\"><div class=\"title\"><h1>Fuzz campaign: \(SVG.escape(c.config.protocolKind))</h1>"
        h += "<span class=\"badge \(c.signatures.isEmpty ? "ok" : "bad")\">\(c.signatures.isEmpty ? "no failures" : "\(c.signatures.count) failure signature\(c.signatures.count == 1 ? "" : "s")")</span>"
        if let m = c.config.mutant { h += "<span class=\"badge warn\">test-only mutant \(SVG.escape(m))</span>" }
        h += "</div><p class=\"sub\">strategy \(SVG.escape(c.config.strategy)), seed \(c.config.seed), n=\(c.config.replicasText), Byzantine budget \(c.config.byzantineBudget), crash budget \(c.config.crashBudget); fault classes \(SVG.escape(c.config.faultClasses.joined(separator: ", ")))</p>"
        h += "<dl class=\"stats\">"
        func stat(_ k: String, _ v: String) { h += "<div><dt>\(k)</dt><dd>\(v)</dd></div>" }
        stat("runs", "\(c.runs)")
        stat("runs/s", c.timing.map { String(format: "%.0f", $0.runsPerSecond) } ?? "–")
        stat("failing runs", "\(c.failingRuns)")
        stat("over-threshold runs", "\(c.overThresholdRuns)")
        stat("excused violations", "\(c.excusedViolations)")
        stat("distinct states", "\(c.coverage.distinctStates)")
        h += "</dl>"
        if c.failuresByKind.isEmpty {
            h += "<p class=\"cap\">No failures by kind.</p>"
        } else {
            h += "<table><tr><th>failures by kind</th><th>runs</th></tr>"
            for k in c.failuresByKind.keys.sorted() { h += "<tr><td>\(SVG.escape(k))</td><td>\(c.failuresByKind[k]!)</td></tr>" }
            h += "</table>"
        }
        h += "</section>\n"
        return h
    }

    static let palette = ["#2f6fde", "#d9480f", "#2b8a3e", "#862e9c", "#c92a2a", "#5c940d"]

    func coverageSection() -> String {
        let w = 1100.0, ht = 260.0, left = 60.0, bottom = 30.0, top = 10.0
        let maxX = Double(curves.flatMap { $0.points.map { $0[0] } }.max() ?? 1)
        let maxY = Double(max(1, curves.flatMap { $0.points.map { $0[1] } }.max() ?? 1))
        func x(_ v: Double) -> Double { left + (w - left - 20) * v / max(1, maxX) }
        func y(_ v: Double) -> Double { ht - bottom - (ht - bottom - top) * v / maxY }
        var s = "<section class=\"card\" id=\"coverage\"><h2>Coverage growth</h2><p class=\"cap\">Distinct abstract protocol states after N runs"
        s += curves.count > 1 ? " (compared campaigns overlaid)." : "."
        s += "</p><svg class=\"chart\" viewBox=\"0 0 \(SVG.num(w)) \(SVG.num(ht))\" role=\"img\" aria-label=\"coverage growth\">"
        for t in SVG.ticks(0, maxY, count: 5) {
            s += "<line class=\"grid\" x1=\"\(SVG.num(left))\" x2=\"\(SVG.num(w - 20))\" y1=\"\(SVG.num(y(t)))\" y2=\"\(SVG.num(y(t)))\"/><text class=\"axis\" x=\"\(SVG.num(left - 6))\" y=\"\(SVG.num(y(t) + 3))\" text-anchor=\"end\">\(Int(t))</text>"
        }
        for t in SVG.ticks(0, maxX, count: 8) {
            s += "<text class=\"axis\" x=\"\(SVG.num(x(t)))\" y=\"\(SVG.num(ht - 10))\" text-anchor=\"middle\">\(Int(t))</text>"
        }
        for (i, cv) in curves.enumerated() {
            let pts = ([[0, 0]] + cv.points).map { "\(SVG.num(x(Double($0[0])))),\(SVG.num(y(Double($0[1]))))" }.joined(separator: " ")
            s += "<polyline fill=\"none\" stroke=\"\(Self.palette[i % Self.palette.count])\" stroke-width=\"2\" points=\"\(pts)\"/>"
        }
        s += "</svg><div class=\"legend\">"
        for (i, cv) in curves.enumerated() {
            s += "<span><i class=\"sw\" style=\"background:\(Self.palette[i % Self.palette.count])\"></i>\(SVG.escape(cv.label)): \(cv.points.last?[1] ?? 0) states, \(String(format: "%.1f", cv.statesPerRun)) per run</span>"
        }
        return s + "</div></section>\n"
    }

    func failuresSection() -> String {
        var s = "<section class=\"card\" id=\"failures\"><h2>Shrunk failures</h2>"
        if failures.isEmpty { s += "<p class=\"cap\">None: every run held its promises (or its violations were excused).</p>" }
        for f in failures {
            let g = f.signature
            s += "<h3>\(SVG.escape(g.kind)) ×\(g.count) <span class=\"muted\">first at run \(g.firstRun); fault events \(g.originalFaultEvents) → \(g.shrunkFaultEvents.map(String.init) ?? "not shrunk")\(g.replayVerified == true ? ", replay verified" : "")</span></h3>"
            s += "<p class=\"cap\">\(SVG.escape(g.message))</p>"
            s += miniTimeline(f)
            s += "<div class=\"replay\"><span>replay</span><code>\(SVG.escape(g.replay))</code></div><br/>"
        }
        if failuresOmitted > 0 { s += "<p class=\"fine\">… and \(failuresOmitted) more signatures in campaign.json.</p>" }
        return s + "</section>\n"
    }

    /// One lane per replica (thin lanes for large n), fault marks at their times, GST as a dashed line.
    func miniTimeline(_ f: Failure) -> String {
        let w = 1100.0, left = 44.0, right = 20.0
        let lane = max(2.0, min(14.0, 160.0 / Double(max(1, f.replicas))))
        let ht = lane * Double(f.replicas) + 24
        let end = Double(max(1, f.timeLimit))
        func x(_ t: Int64) -> Double { left + (w - left - right) * min(1, Double(t) / end) }
        var s = "<svg class=\"chart\" viewBox=\"0 0 \(SVG.num(w)) \(SVG.num(ht))\" role=\"img\" aria-label=\"failure timeline\">"
        let byz = Set(f.byzantine.map(\.replica))
        for r in 0..<f.replicas {
            let yy = Double(r) * lane
            s += "<rect x=\"\(SVG.num(left))\" y=\"\(SVG.num(yy + lane * 0.2))\" width=\"\(SVG.num(w - left - right))\" height=\"\(SVG.num(lane * 0.6))\" fill=\"\(byz.contains(r) ? "#f8e9f5" : "#f2f4f7")\"/>"
            if lane >= 8 || r % max(1, Int(10 / lane)) == 0 { s += "<text class=\"axis\" x=\"\(SVG.num(left - 6))\" y=\"\(SVG.num(yy + lane * 0.75))\" text-anchor=\"end\">r\(r)\(byz.contains(r) ? "*" : "")</text>" }
        }
        let colour = ["crash": "#c62f2f", "cut": "#d9480f", "heal": "#1f8a4c", "net": "#2f6fde"]
        for e in f.events.prefix(200) {
            let xx = x(e.at)
            if e.replicas.isEmpty {
                s += "<line x1=\"\(SVG.num(xx))\" x2=\"\(SVG.num(xx))\" y1=\"0\" y2=\"\(SVG.num(lane * Double(f.replicas)))\" stroke=\"\(colour[e.kind] ?? "#667085")\" stroke-width=\"1.5\"><title>\(SVG.escape(formatNanos(e.at) + " " + e.label))</title></line>"
            }
            for r in e.replicas where r < f.replicas {
                s += "<rect x=\"\(SVG.num(xx - 2))\" y=\"\(SVG.num(Double(r) * lane))\" width=\"4\" height=\"\(SVG.num(lane))\" fill=\"\(colour[e.kind] ?? "#667085")\"><title>\(SVG.escape(formatNanos(e.at) + " " + e.label))</title></rect>"
            }
        }
        if let gst = f.gst {
            s += "<line x1=\"\(SVG.num(x(gst)))\" x2=\"\(SVG.num(x(gst)))\" y1=\"0\" y2=\"\(SVG.num(lane * Double(f.replicas)))\" stroke=\"#101828\" stroke-dasharray=\"4 3\"/><text class=\"note\" x=\"\(SVG.num(x(gst) + 4))\" y=\"\(SVG.num(ht - 4))\">GST</text>"
        }
        s += "<text class=\"axis\" x=\"\(SVG.num(left))\" y=\"\(SVG.num(ht - 4))\">0</text><text class=\"axis\" x=\"\(SVG.num(w - right))\" y=\"\(SVG.num(ht - 4))\" text-anchor=\"end\">\(SVG.escape(formatNanos(f.timeLimit)))</text>"
        s += "</svg>"
        let labels = f.events.prefix(12).map { "\(formatNanos($0.at)) \($0.label)" } + f.byzantine.map { "r\($0.replica) \($0.behaviour)" }
        if !labels.isEmpty { s += "<p class=\"fine\">\(SVG.escape(labels.joined(separator: " · ")))\(f.events.count > 12 ? " · …" : "")</p>" }
        return s
    }

    public func json() -> String {
        var c = campaign
        c.signatures = Array(c.signatures.prefix(Self.failuresMax))
        let e = JSONEncoder()
        e.outputFormatting = [.sortedKeys, .prettyPrinted]
        e.keyEncodingStrategy = .convertToSnakeCase
        return String(decoding: (try? e.encode(c)) ?? Data(), as: UTF8.self) + "\n"
    }

    public func render(_ format: ReportFormat) -> String {
        switch format {
        case .html: return html()
        case .md: return markdown()
        case .json: return json()
        }
    }
}

/// Entry points used by the CLI and tests.
public enum Reports {
    /// Reads `directory` (a run directory with summary.json and trace.jsonl, or a fuzz campaign
    /// directory with campaign.json) and renders it in `format`. `compare` overlays other campaigns'
    /// coverage curves (random vs guided).
    public static func render(directory: String, format: ReportFormat, byzantine: [ByzantineRecord] = [], windowAt: Int64? = nil,
                              compare: [String] = []) throws(ReportError) -> String {
        if CampaignDirectory.isCampaign(directory) {
            let dir = try CampaignDirectory(path: directory)
            var others: [CampaignDirectory] = []
            for c in compare { others.append(try CampaignDirectory(path: c)) }
            return CampaignReport.analyze(dir, compare: others).render(format)
        }
        let run = try RunDirectory(path: directory)
        let report = try RunAnalysis.analyze(run, byzantine: byzantine, windowAt: windowAt)
        return format.render(report)
    }

    /// Renders and writes the report; returns the path written.
    @discardableResult
    public static func write(directory: String, format: ReportFormat, to out: String? = nil, byzantine: [ByzantineRecord] = [], windowAt: Int64? = nil,
                             compare: [String] = []) throws(ReportError) -> String {
        let text = try render(directory: directory, format: format, byzantine: byzantine, windowAt: windowAt, compare: compare)
        let path = out ?? directory + "/report." + format.fileExtension
        do {
            try text.write(toFile: path, atomically: true, encoding: .utf8)
        } catch {
            throw ReportError(file: path, "cannot write: \(error.localizedDescription)")
        }
        return path
    }
}
