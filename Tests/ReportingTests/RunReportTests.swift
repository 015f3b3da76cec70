import RunRecords
import ScenarioFormat
import Foundation
import Reporting
import Testing

/// Section ids every HTML run report carries.
let coreSections = ["header", "timeline", "spacetime", "latency", "throughput", "messages", "viewchanges"]

@Suite("Run reports")
struct RunReportTests {
    static func html(_ dir: String) throws -> String {
        try Reports.render(directory: dir, format: .html)
    }

    @Test("a normal run (PBFT primary crash): the HTML is well-formed and has every section")
    func normalRun() throws {
        // Proves the page parses as XML and each figure is drawn for a run with a crash and a view change.
        let dir = try Fixture.primaryCrash()
        let html = try Self.html(dir)
        #expect(Markup.problems(html).isEmpty, "\(Markup.problems(html).prefix(5))")
        for id in coreSections { #expect(html.contains("id=\"\(id)\""), "section \(id) missing") }
        #expect(!html.contains("id=\"diagnosis\""), "a run whose liveness held has no diagnosis")
        #expect(html.contains("bftsim run Scenarios/pbft/primary-crash.yaml --seed 11"))
        #expect(html.contains("crashed at 1.000s"))
        #expect(html.contains("marker-end=\"url(#st-PRE_PREPARE)\""), "arrows are coloured by type")
        #expect(!html.contains("<script"), "no scripts")
        #expect(!html.contains("http://") && !html.contains("https://"), "nothing from the network")
        #expect(html.contains("@media print"))
    }

    @Test("a safety-violating run: the violation is in the header and the space-time window is around it")
    func violatingRun() throws {
        // A PBFT mutant (commit without digest match) under an equivocating primary violates agreement.
        let dir = try Fixture.agreementViolation()
        let report = try RunAnalysis.analyze(try RunDirectory(path: dir), byzantine: [ByzantineRecord(ByzantineSpec(replica: 0, behaviour: "equivocate"))])
        #expect(report.violations.contains { $0.check == "agreement" })
        #expect(report.spaceTime.caption.hasPrefix("Around the first violation"))
        #expect(report.spaceTime.markers.contains { $0.kind == "violation" })
        #expect(report.timeline.lanes[0].byzantine == "equivocate")
        let html = HTMLRenderer(report: report).render()
        #expect(Markup.problems(html).isEmpty, "\(Markup.problems(html).prefix(5))")
        for id in coreSections { #expect(html.contains("id=\"\(id)\""), "section \(id) missing") }
        #expect(html.contains("class=\"violations\""))
        #expect(html.contains("r0 Byzantine: equivocate"))
        #expect(html.contains("agreement violated"))
    }

    @Test("a liveness-violating run (too many crashes) shows the liveness diagnosis")
    func livenessRun() throws {
        // The negative-control scenario stalls; its report must carry the checker's diagnosis.
        let dir = try Fixture.tooManyCrashes()
        let html = try Self.html(dir)
        #expect(Markup.problems(html).isEmpty, "\(Markup.problems(html).prefix(5))")
        for id in coreSections + ["diagnosis"] { #expect(html.contains("id=\"\(id)\""), "section \(id) missing") }
        #expect(html.contains("liveness: violated"))
        #expect(html.contains("never completed"))
    }

    @Test("Markdown and JSON carry the same figures as the HTML; JSON keys are sorted")
    func otherFormats() throws {
        let dir = try Fixture.primaryCrash()
        let report = try RunAnalysis.analyze(try RunDirectory(path: dir))
        let json = try Reports.render(directory: dir, format: .json)
        let object = try #require(try JSONSerialization.jsonObject(with: Data(json.utf8)) as? [String: Any])
        #expect(Array(object.keys).sorted() == ["diagnosis", "header", "messages", "notes", "spaceTime", "throughput", "timeline", "viewChanges", "violations", "latency"].sorted())
        let topKeys = json.split(separator: "\n").filter { $0.hasPrefix("  \"") }.map { String($0.dropFirst(3).prefix { $0 != "\"" }) }
        #expect(topKeys == topKeys.sorted(), "keys are sorted")
        let latency = try #require(object["latency"] as? [String: Any])
        #expect(latency["count"] as? Int == report.latency?.count)
        #expect(report.latency?.count == 240)
        let md = try Reports.render(directory: dir, format: .md)
        for heading in ["# primary-crash", "## Per-replica timeline", "## Space-time window", "## Request latency", "## Throughput",
                        "## Messages per committed decision", "## View changes"] {
            #expect(md.contains(heading), "\(heading) missing")
        }
        #expect(md.contains("| 240 | \(formatNanos(report.latency!.p50Ns))"))
    }

    @Test("the report is a pure function of the run directory (byte-identical twice)")
    func deterministic() throws {
        let dir = try Fixture.primaryCrash()
        #expect(try Self.html(dir) == (try Self.html(dir)))
        #expect(try Reports.render(directory: dir, format: .json) == (try Reports.render(directory: dir, format: .json)))
    }
}
