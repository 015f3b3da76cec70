import Foundation
import Reporting
import Testing

@Suite("bftsim report (CLI)")
struct ReportCLITests {
    @Test("run --report writes report.html next to the summary, with every section")
    func runWithReport() throws {
        // What a new user does first: run a shipped scenario with --report and open the file.
        let dir = Fixture.temporaryDirectory("cli-run")
        let r = try Fixture.run(Fixture.bftsim, ["run", "Scenarios/hotstuff/crashed-leader.yaml", "--out", dir, "--report", "--quiet"])
        #expect(r.status == 0, "\(r.err)")
        #expect(r.out.contains("\(dir)/report.html"))
        let html = try String(contentsOfFile: dir + "/report.html", encoding: .utf8)
        for id in coreSections { #expect(html.contains("id=\"\(id)\""), "section \(id) missing") }
    }

    @Test("report --format md/json --out writes the requested file")
    func formats() throws {
        let dir = try Fixture.primaryCrash()
        let out = Fixture.temporaryDirectory("cli-formats") + "/r.json"
        let r = try Fixture.run(Fixture.bftsim, ["report", dir, "--format", "json", "--out", out])
        #expect(r.status == 0, "\(r.err)")
        let object = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: out))) as? [String: Any]
        #expect(object?["header"] != nil)
        let md = try Fixture.run(Fixture.bftsim, ["report", dir, "--format", "md", "--out", "-"])
        #expect(md.status == 0)
        #expect(md.out.hasPrefix("# primary-crash"))
    }

    @Test("run --report with --no-trace is refused with a clear message (exit 3)")
    func reportNeedsTrace() throws {
        let dir = Fixture.temporaryDirectory("cli-notrace")
        let r = try Fixture.run(Fixture.bftsim, ["run", "Scenarios/pbft/normal-case.yaml", "--out", dir, "--report", "--no-trace"])
        #expect(r.status == 3)
        #expect(r.err.contains("--report needs trace.jsonl"))
    }

    @Test("typed arguments: a bad --shard, --faults, --duration or --byzantine is refused by the parser (exit 3, naming it)",
          arguments: [(["fuzz", "--shard", "3/2", "--runs", "1"], "--shard"), (["fuzz", "--faults", "byzantine,bogus", "--runs", "1"], "--faults"),
                      (["fuzz", "--duration", "ten", "--runs", "1"], "--duration"),
                      (["cluster", "up", "/nonexistent", "--byzantine", "0:nonsense"], "nonsense"),
                      (["cluster", "up", "/nonexistent", "--byzantine", "equivocate"], "ID:behaviour")])
    func typedArguments(args: [String], named: String) throws {
        let r = try Fixture.run(Fixture.bftsim, args)
        #expect(r.status == 3, "\(r.err)")
        #expect(r.err.contains(named), "\(r.err)")
    }

    @Test("a missing run directory: exit 3 naming it")
    func missingDirectory() throws {
        let r = try Fixture.run(Fixture.bftsim, ["report", "/nonexistent/run-dir"])
        #expect(r.status == 3)
        #expect(r.err.contains("/nonexistent/run-dir: no such run directory"), "\(r.err)")
    }

    @Test("a missing or garbled summary.json: exit 3 naming the file (and the line when it is not JSON)")
    func badSummary() throws {
        let dir = Fixture.temporaryDirectory("cli-bad-summary")
        var r = try Fixture.run(Fixture.bftsim, ["report", dir])
        #expect(r.status == 3)
        #expect(r.err.contains("\(dir)/summary.json: missing"), "\(r.err)")

        try "{\n  \"scenario\": \"x\",\n  oops\n}\n".write(toFile: dir + "/summary.json", atomically: true, encoding: .utf8)
        r = try Fixture.run(Fixture.bftsim, ["report", dir])
        #expect(r.status == 3)
        #expect(r.err.contains("\(dir)/summary.json:3: not valid JSON"), "\(r.err)")

        try "{\"scenario\": \"x\"}".write(toFile: dir + "/summary.json", atomically: true, encoding: .utf8)
        r = try Fixture.run(Fixture.bftsim, ["report", dir])
        #expect(r.status == 3)
        #expect(r.err.contains("\(dir)/summary.json: missing field"), "\(r.err)")
    }

    @Test("a truncated trace line: exit 3 with trace.jsonl:LINE")
    func truncatedTrace() throws {
        // Copies a good run and cuts its trace in the middle of line 101.
        let good = try Fixture.primaryCrash()
        let dir = Fixture.temporaryDirectory("cli-truncated")
        try FileManager.default.copyItem(atPath: good + "/summary.json", toPath: dir + "/summary.json")
        let lines = try String(contentsOfFile: good + "/trace.jsonl", encoding: .utf8).split(separator: "\n")
        let cut = lines.prefix(100).joined(separator: "\n") + "\n" + lines[100].prefix(25)
        try cut.write(toFile: dir + "/trace.jsonl", atomically: true, encoding: .utf8)
        let r = try Fixture.run(Fixture.bftsim, ["report", dir])
        #expect(r.status == 3)
        #expect(r.err.contains("\(dir)/trace.jsonl:101: not a JSON object"), "\(r.err)")
        #expect(!FileManager.default.fileExists(atPath: dir + "/report.html"))

        try FileManager.default.removeItem(atPath: dir + "/trace.jsonl")
        let missing = try Fixture.run(Fixture.bftsim, ["report", dir])
        #expect(missing.status == 3)
        #expect(missing.err.contains("trace.jsonl: missing"), "\(missing.err)")
    }

    @Test("--window-at centres the space-time diagram at a chosen time; a bad duration exits 3")
    func windowAt() throws {
        // The primary crashes at 1s and the backups change view at about 1.8s: the window must hold it.
        let dir = try Fixture.primaryCrash()
        let r = try Fixture.run(Fixture.bftsim, ["report", dir, "--format", "json", "--out", "-", "--window-at", "1.79s"])
        #expect(r.status == 0, "\(r.err)")
        let object = try JSONSerialization.jsonObject(with: Data(r.out.utf8)) as? [String: Any]
        let st = try #require(object?["spaceTime"] as? [String: Any])
        let arrows = try #require(st["arrows"] as? [[String: Any]])
        #expect(arrows.contains { $0["type"] as? String == "VIEW-CHANGE" })
        #expect((st["caption"] as? String ?? "").contains("--window-at"))
        let bad = try Fixture.run(Fixture.bftsim, ["report", dir, "--window-at", "soon"])
        #expect(bad.status == 3)
        #expect(bad.err.contains("--window-at"))
    }

    @Test("a malformed campaign.json is refused with its path")
    func campaignMalformed() throws {
        // A campaign directory is recognised by campaign.json; one that is not bftsim's says so, exit 3.
        let dir = Fixture.temporaryDirectory("cli-campaign")
        try "{}".write(toFile: dir + "/campaign.json", atomically: true, encoding: .utf8)
        let r = try Fixture.run(Fixture.bftsim, ["report", dir])
        #expect(r.status == 3)
        #expect(r.err.contains("campaign.json: not a bftsim campaign.json"), "\(r.err)")
    }

    @Test("a fuzz campaign renders as HTML with the campaign, coverage and failures sections")
    func campaignReport() throws {
        // bftsim fuzz on a mutant, then bftsim report on its directory: every section, the replay command.
        let dir = Fixture.temporaryDirectory("cli-campaign-report")
        let fuzz = try Fixture.run(Fixture.bftsim, ["fuzz", "--protocol", "pbft", "--mutant", "commit-without-digest-match",
                                                   "--replicas", "4", "--faults", "byzantine,partition,loss,latency", "--runs", "48", "--seed", "3", "--out", dir, "--quiet", "--jobs", "2"])
        #expect(fuzz.status == 1, "\(fuzz.err)")
        let r = try Fixture.run(Fixture.bftsim, ["report", dir, "--compare", dir])
        #expect(r.status == 0, "\(r.err)")
        let html = try String(contentsOfFile: dir + "/report.html", encoding: .utf8)
        for id in ["campaign", "coverage", "failures"] { #expect(html.contains("id=\"\(id)\""), "section \(id)") }
        #expect(html.contains("--mutant commit-without-digest-match"))
        #expect(html.hasSuffix("</html>\n"))
        let md = try Fixture.run(Fixture.bftsim, ["report", dir, "--format", "md", "--out", "-"])
        #expect(md.out.contains("## Shrunk failures"))
    }
}

@Suite("Durations for --window-at")
struct DurationParseTests {
    @Test("units s, ms, us/µs, ns and bare nanoseconds parse; junk does not")
    func parses() {
        #expect(parseDuration("1.8s") == 1_800_000_000)
        #expect(parseDuration("250ms") == 250_000_000)
        #expect(parseDuration("40us") == 40_000)
        #expect(parseDuration("40µs") == 40_000)
        #expect(parseDuration("1500ns") == 1_500)
        #expect(parseDuration("1500") == 1_500)
        #expect(parseDuration("soon") == nil)
        #expect(parseDuration("-1s") == nil)
    }
}
