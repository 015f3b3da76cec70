import BFTCore
import Foundation
import Runner
import ScenarioFormat
import Simulation
import Testing

@Suite("Shipped scenarios")
struct ShippedScenarioTests {
    @Test("every shipped scenario gives its expected verdict and replays identically in a fresh process",
          arguments: Paths.scenarios("pbft") + Paths.scenarios("hotstuff") + Paths.scenarios("byzantine"))
    func expectedVerdictAndDeterminism(path: String) throws {
        // Proves each scenario's comment is true (its expectations hold) and that the trace hash of a
        // second run, in another process, is byte-identical.
        let scenario = try ScenarioLoader.load(path: path)
        let outcome = try ScenarioRun.execute(scenario, trace: .hashOnly)
        let name = scenario.name
        #expect(outcome.safety == scenario.expect.safety, "\(name): safety \(outcome.safety) but expected \(scenario.expect.safety): \(outcome.checks.violations.map(\.message))")
        #expect(outcome.liveness == scenario.expect.liveness, "\(name): liveness \(outcome.liveness) but expected \(scenario.expect.liveness): \(outcome.checks.violations.map(\.message))")
        #expect(outcome.status == .asExpected)
        if scenario.expect.liveness == .holds {
            #expect(outcome.checks.completedRequests > 0, "\(name): no request completed")
        }
        let child = try Paths.runCLI(["run", path, "--print-trace-hash"])
        #expect(child.status == 0, "\(child.err)")
        #expect(child.out.contains("trace-hash \(outcome.simulation.traceHash.hex)"), "\(name): trace hash differs across processes")
    }

    @Test("a different seed gives a different trace")
    func seedMatters() throws {
        var s = try ScenarioLoader.load(path: Paths.root.appendingPathComponent("Scenarios/pbft/normal-case.yaml").path)
        s.workload.requestsPerClient = 5
        let a = try ScenarioRun.execute(s, trace: .hashOnly)
        s.seed += 1
        let b = try ScenarioRun.execute(s, trace: .hashOnly)
        #expect(a.simulation.traceHash != b.simulation.traceHash)
    }
}

@Suite("CLI")
struct CLITests {
    @Test("run writes summary.json, summary.md and a JSONL trace, and exits 0 when as expected")
    func runWritesOutputs() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("bftsim-cli-\(getpid())").path
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let file = Paths.root.appendingPathComponent("Scenarios/pbft/normal-case.yaml").path
        let r = try Paths.runCLI(["run", file, "--out", dir])
        #expect(r.status == 0, "\(r.err)")
        #expect(r.out.contains("agreement"))
        #expect(r.out.contains("p99"))
        let summary = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: dir + "/summary.json"))) as? [String: Any]
        #expect(summary?["safety"] as? String == "holds")
        #expect((summary?["requestsCompleted"] as? Int ?? 0) == 200)
        let trace = try String(contentsOfFile: dir + "/trace.jsonl", encoding: .utf8)
        let lines = trace.split(separator: "\n")
        #expect(lines.count > 1000)
        for line in lines.prefix(200) {
            let obj = try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any]
            #expect(obj?["t"] != nil && obj?["kind"] != nil)
        }
        #expect(FileManager.default.fileExists(atPath: dir + "/summary.md"))
    }

    @Test("a negative control that gets its violation exits 0; a violation not expected exits 2 and prints the replay command")
    func exitCodes() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("bftsim-exit-\(getpid())")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let negative = Paths.root.appendingPathComponent("Scenarios/pbft/too-many-crashes.yaml").path
        let ok = try Paths.runCLI(["run", negative, "--no-trace", "--out", dir.path + "/a"])
        #expect(ok.status == 0, "\(ok.out)\(ok.err)")
        // The same scenario claiming liveness holds: now the violation is unexpected.
        let text = try String(contentsOfFile: negative, encoding: .utf8).replacingOccurrences(of: "liveness: violated}", with: "liveness: holds}")
        let wrong = dir.appendingPathComponent("wrong.yaml").path
        try text.write(toFile: wrong, atomically: true, encoding: .utf8)
        let bad = try Paths.runCLI(["run", wrong, "--no-trace", "--out", dir.path + "/b"])
        #expect(bad.status == 2)
        #expect(bad.out.contains("bftsim run \(wrong) --seed 2"))
    }

    @Test("invalid scenario files and arguments exit 3 with file:line:column errors")
    func invalidInput() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("bftsim-bad-\(getpid())")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let bad = dir.appendingPathComponent("bad.yaml").path
        try "name: x\nreplicsa: 4\n".write(toFile: bad, atomically: true, encoding: .utf8)
        let v = try Paths.runCLI(["validate", bad])
        #expect(v.status == 3)
        #expect(v.out.contains("bad.yaml:2:1"))
        #expect(v.out.contains("replicas"))
        let r = try Paths.runCLI(["run", bad])
        #expect(r.status == 3)
        let missing = try Paths.runCLI(["run", dir.appendingPathComponent("nope.yaml").path])
        #expect(missing.status == 3)
        let args = try Paths.runCLI(["run", "--seed", "notanumber", bad])
        #expect(args.status == 3)
    }
}
