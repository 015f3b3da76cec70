import ArgumentParser
import BFTCore
import Foundation
import Fuzzing
import ScenarioFormat

/// `bftsim mutants`: the test-only protocol mutants, and the fuzzer's mutation score over them.
struct Mutants: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "List the test-only protocol mutants, or fuzz each and print the mutation score.",
        discussion: """
        Each mutant breaks one numbered rule of Specs/PBFT.md or Specs/HotStuff.md. With --score every \
        (mutant, protocol) pair is fuzzed by each strategy (guided, then random) until the first failure or \
        its share of --time-budget; the first failure is shrunk into a replayable scenario. Writes \
        OUT/score.json, OUT/score.md and one campaign directory per pair and strategy. Exit code 1 if fewer \
        than --min-score percent of the killable mutants were killed.
        """)

    @Flag(help: "Fuzz every mutant and print the score table.") var score = false
    @Option(name: .customLong("protocol"), help: "Only mutants of this protocol.") var protocolKind: ProtocolKind?
    @Option(help: "Only these mutants (repeatable).") var mutant: [TestMutant] = []
    @Option(help: "Wall-clock seconds per mutant and protocol, shared by the strategies.") var timeBudget: Double = 60
    @Option(help: "Threads per campaign (results do not depend on it).") var jobs = ProcessInfo.processInfo.activeProcessorCount
    @Option(help: "Campaign seed.") var seed: UInt64 = 1
    @Option(help: "Score directory.") var out = "out/mutants"
    @Option(help: "Strategies, in order.") var strategy: [FuzzStrategy] = [.guided, .random]
    @Option(help: "Exit 1 below this percentage of killable mutants killed.") var minScore: Double = 0
    @Flag(help: "No progress lines.") var quiet = false
    @Option(help: "Guided: seed corpus root holding one directory per protocol (default: the shipped \(SeedCorpus.shippedRoot), when present).")
    var corpus: String = SeedCorpus.shippedRoot
    @Flag(help: "Guided: start from an empty corpus.") var noCorpus = false

    func run() throws {
        let pairs = MutationScore.pairs(protocolKind: protocolKind, mutants: mutant.isEmpty ? TestMutant.allCases : mutant)
        guard score else {
            print("mutant                               protocols                            rule           what is broken")
            for m in TestMutant.allCases where mutant.isEmpty || mutant.contains(m) {
                let protocols = m.protocols.filter { protocolKind == nil || $0 == protocolKind }
                guard !protocols.isEmpty else { continue }
                print(pad(m.rawValue, 37) + pad(protocols.map(\.rawValue).joined(separator: ","), 37) + pad(m.rule, 15) + m.summary)
            }
            print("\n\(TestMutant.allCases.count) mutants, \(pairs.count) (mutant, protocol) pairs. Use one with `bftsim fuzz|run|shrink --mutant NAME`.")
            return
        }
        guard timeBudget > 0 else { throw fail("--time-budget must be positive", code: .invalidInput) }
        guard !strategy.isEmpty, !strategy.contains(.twins) else { throw fail("--strategy: guided and/or random", code: .invalidInput) }
        var rows: [MutantScoreRow] = []
        for (i, (m, kind)) in pairs.enumerated() {
            let seeds = try invalidInput { noCorpus ? [] : try SeedCorpus.shipped(kind, root: corpus) }
            let row = MutationScore.score(m, kind, seconds: timeBudget, jobs: max(1, jobs), seed: seed, strategies: strategy, seeds: seeds, out: out)
            rows.append(row)
            if !quiet {
                let how = row.attempts.map { a in
                    a.runsToFirstFailure.map { "\(a.strategy.rawValue) \($0) runs/" + String(format: "%.1fs", a.secondsToFirstFailure ?? 0) }
                        ?? "\(a.strategy.rawValue) missed (\(a.runs) runs)"
                }.joined(separator: ", ")
                FileHandle.standardError.write(Data("[\(i + 1)/\(pairs.count)] \(m.rawValue) on \(kind.rawValue): \(row.killed ? "killed" : "survived") — \(how)\n".utf8))
            }
        }
        let md = MutationScore.markdown(rows, seconds: timeBudget)
        print(md)
        do {
            try FileManager.default.createDirectory(atPath: out, withIntermediateDirectories: true)
            let e = JSONEncoder()
            e.outputFormatting = [.sortedKeys, .prettyPrinted]
            try e.encode(rows).write(to: URL(fileURLWithPath: out + "/score.json"))
            try md.write(toFile: out + "/score.md", atomically: true, encoding: .utf8)
        } catch {
            throw fail("\(out): \(error)", code: .internalError)
        }
        if MutationScore.summary(rows).percent < minScore { throw ExitCode(1) }
    }

    private func pad(_ s: String, _ width: Int) -> String { s.count >= width ? s + " " : s + String(repeating: " ", count: width - s.count) }
}
