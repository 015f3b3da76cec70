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
    static let work = FileManager.default.temporaryDirectory.appendingPathComponent("bftsim-spec-tests-\(getpid())").path

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

    /// Every checked-in trail (Specs/trails/MODEL-MUTANT.trail) and the checker its Swift replay must trip.
    static let trails: [(file: String, kind: ViolationKind)] = [
        ("pbft-commit-without-digest-match", .agreement),
        ("pbft-skip-request-signature-check", .validity),
        ("pbft-no-view-change-timer", .liveness),
        ("pbft-commit-quorum-weak", .agreement),
        ("pbft-quorum-2f-plus-1", .agreement),
        ("pbft-accept-unverified-view-change", .agreement),
        ("pbft-accept-conflicting-pre-prepare", .agreement),
        ("pbft-new-view-without-quorum", .agreement),
        ("pbft-prepare-quorum-weak", .agreement),
        ("pbft-prepare-without-digest-match", .agreement),
        ("pbft-accept-new-view-without-recompute", .agreement),
        ("hotstuff-commit-on-parent-links", .agreement),
        ("hotstuff-vote-without-lock-check", .agreement),
        ("hotstuff-vote-without-lock-check-two-chain", .agreement),
        ("hotstuff-lock-never-updated", .agreement),
        ("hotstuff-commit-on-two-chain", .agreement),
        ("hotstuff-quorum-one-short", .conflictingCertificates),
        ("hotstuff-quorum-one-short-two-chain", .conflictingCertificates),
        ("hotstuff-vote-twice-in-view", .conflictingCertificates),
        ("hotstuff-vote-twice-in-view-two-chain", .conflictingCertificates),
    ]

    @Test("every checked-in SPIN trail becomes a scenario that breaks its Swift mutant with the model's violation kind and keeps honest code safe",
          arguments: SpecTests.trails.map(\.file))
    func trailReplays(file: String) throws {
        // Proves spec trail's output reproduces each model violation on the real replicas (Specs/README.md table).
        guard SpecChecker.toolsAvailable else {
            print("skipped: spin or gcc not on PATH (scripts/setup.sh installs them)")
            return
        }
        let kind = try #require(Self.trails.first { $0.file == file }?.kind)
        let model: SpecModel = file.hasPrefix("pbft-") ? .pbft : .hotstuff
        // The configuration `spec check` names this trail after (`SpecChecker.trailName`).
        let c = try #require(SpecConfiguration.all.first { $0.expectViolation && SpecChecker.trailName($0) == file + ".trail" })
        #expect(c.model == model)
        let mutant = try #require(c.mutant)
        let events = try SpecChecker.events(trail: Self.root + "/Specs/trails/\(file).trail", configuration: c, root: Self.root, work: Self.work)
        #expect(!events.isEmpty)
        let path = Self.work + "/\(file).yaml"
        try SpecTrail.scenario(events: events, configuration: c).write(toFile: path, atomically: true, encoding: .utf8)
        let s = try ScenarioLoader.load(path: path)
        let mutated = try ScenarioRun.execute(s, trace: .off, driver: try TestMutant.driver(mutant, for: s.protocolKind))
        #expect(mutated.checks.violations.contains { $0.kind == kind }, "\(file): \(mutated.checks.violations.map(\.message))")
        let honest = try ScenarioRun.execute(s, trace: .off)
        #expect(honest.safety == .holds, "\(file): \(honest.checks.violations.map(\.message))")
        if kind == .liveness { #expect(honest.checks.violations.isEmpty) }
    }
}
