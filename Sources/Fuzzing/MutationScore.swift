import BFTCore
import Foundation
import ScenarioFormat

/// One strategy's attempt at killing a mutant.
public struct MutantAttempt: Codable, Sendable, Equatable {
    public var strategy: FuzzStrategy
    /// Wall-clock seconds this strategy was given.
    public var budgetSeconds: Double
    public var runs: Int
    /// Runs up to and including the first failing one (nil: none failed).
    public var runsToFirstFailure: Int?
    /// Wall-clock seconds to the end of the batch holding the first failure.
    public var secondsToFirstFailure: Double?
    /// Violation kind of the first failure.
    public var kind: String?
    /// Fault events of the first failure before and after shrinking.
    public var faultEvents: Int?
    public var shrunkFaultEvents: Int?
    /// The shrunk scenario re-ran, parsed back from its text, with the same violation kind.
    public var replayVerified: Bool?
    /// Shrunk file, relative to the score directory.
    public var shrunkFile: String?
    /// The honest protocol passes the shrunk scenario (nil: not checked). A failure the honest protocol
    /// shares is a protocol bug, not a kill, and is reported as such.
    public var honestPasses: Bool?
    /// The failure counts as killing the mutant.
    public var kills: Bool { runsToFirstFailure != nil && honestPasses != false }
}

/// One row of the mutation score: a mutant on one protocol, and whether the fuzzer killed it.
public struct MutantScoreRow: Codable, Sendable, Equatable {
    public var mutant: TestMutant
    public var protocolKind: ProtocolKind
    public var rule: String
    public var summary: String
    public var attempts: [MutantAttempt]
    /// Argued as unkillable under the fault model (not counted as a miss).
    public var argument: String?
    public var killed: Bool { attempts.contains(where: \.kills) }
}

/// The mutation-testing harness: fuzzes every test-only mutant with each strategy until the first
/// failure or the time budget, shrinks the failure to a replayable scenario, and tabulates the score
/// (after mutation analysis: a mutant is killed when some run of the tester fails on it).
public enum MutationScore {
    /// Every (mutant, protocol) pair, in registry order, optionally for one protocol.
    public static func pairs(protocolKind: ProtocolKind? = nil, mutants: [TestMutant] = TestMutant.allCases) -> [(TestMutant, ProtocolKind)] {
        mutants.flatMap { m in m.protocols.filter { protocolKind == nil || $0 == protocolKind }.map { (m, $0) } }
    }

    /// The campaign a mutant is fuzzed with: the default swarm (every fault class, n from 4 to 7,
    /// budgets of f so no run is over-threshold).
    public static func config(_ mutant: TestMutant, _ kind: ProtocolKind, strategy: FuzzStrategy, seed: UInt64) -> FuzzConfig {
        FuzzConfig(protocolKind: kind, mutant: mutant, replicas: 4, replicasMax: 7, byzantineBudget: 2, crashBudget: 2, withinF: true,
                   seed: seed, strategy: strategy)
    }

    /// Fuzzes one pair with each strategy for `seconds / strategies.count`, writing campaigns under `out`.
    public static func score(_ mutant: TestMutant, _ kind: ProtocolKind, seconds: Double, jobs: Int, seed: UInt64,
                             strategies: [FuzzStrategy] = [.guided, .random], seeds: [Scenario] = [], out: String?) -> MutantScoreRow {
        var attempts: [MutantAttempt] = []
        for strategy in strategies {
            var options = CampaignOptions(config: config(mutant, kind, strategy: strategy, seed: seed), runs: nil,
                                          timeBudget: seconds / Double(strategies.count), jobs: jobs)
            let dir = out.map { "\($0)/\(mutant.rawValue)-\(kind.rawValue)/\(strategy.rawValue)" }
            options.out = dir
            options.stopAtFirstFailure = true
            options.coverage = strategy == .guided
            options.seeds = seeds
            var attempt = MutantAttempt(strategy: strategy, budgetSeconds: options.timeBudget ?? 0, runs: 0)
            do {
                let campaign = try Campaign(options)
                let result = try campaign.run()
                attempt.runs = result.runs
                if let first = result.signatures.min(by: { $0.firstRun < $1.firstRun }) {
                    attempt.runsToFirstFailure = first.firstRun + 1
                    attempt.secondsToFirstFailure = campaign.secondsToFirstFailure
                    attempt.kind = first.kind
                    attempt.faultEvents = first.originalFaultEvents
                    attempt.shrunkFaultEvents = first.shrunkFaultEvents
                    attempt.replayVerified = first.replayVerified
                    attempt.shrunkFile = first.shrunkFile.map { "\(mutant.rawValue)-\(kind.rawValue)/\(strategy.rawValue)/\($0)" }
                    // Test the tester: the schedule must fail because of the mutant, not pass it on
                    // a bug the honest protocol has too.
                    if let dir, let file = first.shrunkFile, let s = try? ScenarioLoader.load(path: dir + "/" + file) {
                        attempt.honestPasses = FuzzRun.run(s, mutant: nil, coverage: false).bug == nil
                    }
                }
            } catch {
                attempt.kind = "error: \(error)"
            }
            attempts.append(attempt)
        }
        return MutantScoreRow(mutant: mutant, protocolKind: kind, rule: mutant.rule, summary: mutant.summary, attempts: attempts,
                              argument: mutant.survivalArgument)
    }

    /// The table as Markdown: one row per pair, then the score and the strategies' medians.
    public static func markdown(_ rows: [MutantScoreRow], seconds: Double) -> String {
        var md = "| mutant | protocol | rule | killed | guided: runs / s to first failure | random: runs / s to first failure | kind | fault events (shrunk) | replay verified |\n"
        md += "|---|---|---|---|---|---|---|---|---|\n"
        func cell(_ a: MutantAttempt?) -> String {
            guard let a else { return "–" }
            guard let r = a.runsToFirstFailure else { return "not in \(a.runs) runs" }
            if a.honestPasses == false { return "\(r) (honest fails too)" }
            return "\(r) / " + String(format: "%.1f", a.secondsToFirstFailure ?? 0)
        }
        for row in rows {
            let g = row.attempts.first { $0.strategy == .guided }, r = row.attempts.first { $0.strategy == .random }
            let first = row.attempts.first(where: \.kills) ?? row.attempts.first { $0.runsToFirstFailure != nil }
            let verdict = row.killed ? "**killed**" : (row.argument != nil ? "equivalent (argued)" : "survived")
            let events = first.map { "\($0.faultEvents ?? 0) → \($0.shrunkFaultEvents.map(String.init) ?? "–")" } ?? "–"
            let verified = first?.replayVerified.map { $0 ? "yes" : "no" } ?? "–"
            md += "| \(row.mutant.rawValue) | \(row.protocolKind.rawValue) | \(row.rule) | \(verdict) | \(cell(g)) | \(cell(r)) | \(first?.kind ?? "–") | \(events) | \(verified) |\n"
        }
        let s = summary(rows)
        md += "\n**Score: \(s.killed) of \(s.killable) killable mutants killed (\(String(format: "%.0f", s.percent))%)**"
        md += "; \(rows.count - s.killable) argued equivalent; \(String(format: "%.0f", seconds)) s per mutant and protocol.\n"
        if let g = s.guidedMedian, let r = s.randomMedian {
            md += "Median seconds to first failure over the killed mutants (a strategy that missed counts as its whole budget): guided \(String(format: "%.2f", g)), random \(String(format: "%.2f", r))"
            md += g > 0 ? String(format: " (random / guided = %.1f×)", r / g) : ""
            md += ".\n"
        }
        for row in rows where row.argument != nil { md += "\n- `\(row.mutant.rawValue)` (\(row.protocolKind.rawValue)): \(row.argument!)" }
        return md + "\n"
    }

    public struct Summary: Sendable {
        public var killed: Int
        public var killable: Int
        public var percent: Double
        public var guidedMedian: Double?
        public var randomMedian: Double?
    }

    public static func summary(_ rows: [MutantScoreRow]) -> Summary {
        let killable = rows.filter { $0.argument == nil || $0.killed }
        let killed = killable.filter(\.killed)
        func median(_ strategy: FuzzStrategy) -> Double? {
            let times = killed.compactMap { row -> Double? in
                guard let a = row.attempts.first(where: { $0.strategy == strategy }) else { return nil }
                return a.kills ? (a.secondsToFirstFailure ?? a.budgetSeconds) : a.budgetSeconds
            }.sorted()
            return times.isEmpty ? nil : times[times.count / 2]
        }
        return Summary(killed: killed.count, killable: killable.count,
                       percent: killable.isEmpty ? 100 : 100 * Double(killed.count) / Double(killable.count),
                       guidedMedian: median(.guided), randomMedian: median(.random))
    }
}
