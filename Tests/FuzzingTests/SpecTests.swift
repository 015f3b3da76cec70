import Foundation
import Checkers
import Fuzzing
import Runner
import ScenarioFormat
import Testing

/// The SPIN models of Specs/ (Specs/README.md): honest models verify, mutant switches are caught, and a
/// checked-in counterexample becomes a scenario that breaks the Swift mutant and not the honest code.
@Suite("Formal specs (SPIN)", .serialized)
struct SpecTests {
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent().path
    static let work = FileManager.default.temporaryDirectory.appendingPathComponent("bftsim-spec-tests").path

    @Test("honest PBFT and HotStuff models verify exhaustively; three mutant switches are caught",
          arguments: SpecConfiguration.all.filter { $0.name == "honest" }
              + SpecConfiguration.all.filter { ["commit-without-digest-match", "new-view-without-quorum", "quorum-one-short"].contains($0.name) })
    func modelVerdicts(configuration: SpecConfiguration) throws {
        // Proves the models and the switches say what Specs/README.md claims; skips without spin.
        guard SpecChecker.toolsAvailable else {
            print("skipped: spin or gcc not on PATH (scripts/setup.sh installs them)")
            return
        }
        let r = try SpecChecker.check(configuration, root: Self.root, work: Self.work)
        #expect(r.asExpected, "\(configuration.model.rawValue) \(configuration.switchLabel): \(r.violation ?? "verified")")
        if !configuration.expectViolation { #expect(r.statesStored > 0) }
    }

    @Test("a checked-in PBFT trail becomes a scenario that breaks commit-without-digest-match and not honest PBFT")
    func trailReplays() throws {
        // Proves spec trail's output reproduces the model's violation kind on the real replicas.
        guard SpecChecker.toolsAvailable else {
            print("skipped: spin or gcc not on PATH (scripts/setup.sh installs them)")
            return
        }
        let c = try #require(SpecConfiguration.find(model: .pbft, mutant: "commit-without-digest-match"))
        let events = try SpecChecker.events(trail: Self.root + "/Specs/trails/pbft-commit-without-digest-match.trail",
                                            configuration: c, root: Self.root, work: Self.work)
        #expect(events.contains { $0.hasPrefix("EV COMMITTED") })
        let yaml = SpecTrail.scenario(events: events, configuration: c)
        let path = Self.work + "/pbft-commit-without-digest-match.yaml"
        try yaml.write(toFile: path, atomically: true, encoding: .utf8)
        let s = try ScenarioLoader.load(path: path)
        let mutated = try ScenarioRun.execute(s, trace: .off, driver: try TestMutant.driver(.commitWithoutDigestMatch, for: .pbft))
        #expect(mutated.checks.violations.contains { $0.kind == .agreement })
        let honest = try ScenarioRun.execute(s, trace: .off)
        #expect(honest.safety == .holds, "\(honest.checks.violations.map(\.message))")
    }
}
