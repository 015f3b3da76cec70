import ArgumentParser
import BFTCore
import Foundation
import Fuzzing
import Runner
import ScenarioFormat

extension TestMutant: ExpressibleByArgument {}
extension FuzzStrategy: ExpressibleByArgument {}

/// `--replicas 4` or `--replicas 4..7` (each run draws its n from the range).
struct ReplicaRange: ExpressibleByArgument, CustomStringConvertible {
    var lower: Int
    var upper: Int
    init(lower: Int, upper: Int) { (self.lower, self.upper) = (lower, upper) }
    init?(argument: String) {
        let parts = argument.components(separatedBy: "..")
        guard (1...2).contains(parts.count), let lo = Int(parts[0]), let hi = Int(parts.last!), lo >= 4, hi >= lo, hi <= 64 else { return nil }
        (lower, upper) = (lo, hi)
    }
    var description: String { lower == upper ? "\(lower)" : "\(lower)..\(upper)" }
    static var defaultCompletionKind: CompletionKind { .default }
}

/// A fault budget: a number of replicas, or `f` (at most f of the run's n, and at most f faulty in all).
enum FaultBudgetArgument: ExpressibleByArgument, CustomStringConvertible {
    case f
    case count(Int)
    init?(argument: String) {
        if argument == "f" { self = .f; return }
        guard let n = Int(argument), n >= 0 else { return nil }
        self = .count(n)
    }
    var description: String { if case .count(let n) = self { return "\(n)" } else { return "f" } }
}

/// `--shard K/N`: this process makes the runs whose index is K mod N.
struct ShardArgument: ExpressibleByArgument, CustomStringConvertible {
    var index: Int
    var count: Int
    init?(argument: String) {
        let parts = argument.split(separator: "/", omittingEmptySubsequences: false)
        guard parts.count == 2, let k = Int(parts[0]), let n = Int(parts[1]), n >= 1, k >= 0, k < n else { return nil }
        (index, count) = (k, n)
    }
    var description: String { "\(index)/\(count)" }
}

/// `--faults a,b,c`: fault class names, each one `FaultClasses` knows.
struct FaultClassList: ExpressibleByArgument, CustomStringConvertible {
    var names: [String]
    init(_ names: [String]) { self.names = names }
    init?(argument: String) {
        let names = argument.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }
        guard !names.isEmpty, names.allSatisfy(FaultClasses.names.contains) else { return nil }
        self.names = names
    }
    var description: String { names.joined(separator: ",") }
}

/// A simulated duration: `10s`, `800ms`, `1.5s` (the scenario files' syntax).
struct DurationArgument: ExpressibleByArgument, CustomStringConvertible {
    var nanoseconds: Nanoseconds
    init(_ text: String) { nanoseconds = ScenarioLoader.parseDuration(text) ?? 0 }
    init?(argument: String) {
        guard let d = ScenarioLoader.parseDuration(argument), d > 0 else { return nil }
        nanoseconds = d
    }
    var description: String { ScenarioLoader.formatDuration(nanoseconds) }
}

/// `bftsim fuzz`: campaigns (default), and `merge` of shard outputs.
struct Fuzz: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Fuzz fault schedules; save, de-duplicate and shrink every failure.",
        discussion: """
        Each run is an ordinary scenario: a chaos phase with faults inside the budgets, then the timeline heals \
        and GST starts, after which liveness must hold. Failures land in OUT/failures with shrunk copies and \
        replay commands; OUT/campaign.json and campaign.md summarise. Exit codes: 0 no failure, 1 a safety \
        failure, 2 only liveness failures, 3 invalid input.
        """,
        subcommands: [FuzzCampaign.self, FuzzMerge.self],
        defaultSubcommand: FuzzCampaign.self)
}

/// `bftsim fuzz --bench`: scenarios/s for Twins-sized runs (`FuzzBench`).
struct FuzzBenchOptions: ParsableArguments {
    @Flag(help: "Measure scenarios/s for Twins-sized runs (n=4, PBFT and HotStuff, fast and Ed25519) and exit.") var bench = false
    @Option(help: "--bench: seconds per configuration.") var benchSeconds = 3.0
    @Option(help: "--bench: only this protocol (pbft or hotstuff; default both).") var benchProtocol: ProtocolKind?
    @Option(help: "--bench: only this crypto (fast or ed25519; default both).") var benchCrypto: SignatureScheme?
    @Option(help: "--bench: run exactly this many scenarios per configuration instead of for --bench-seconds.") var benchRuns: Int?

    func run(jobs: Int) throws -> String {
        if let benchRuns, benchRuns < 1 { throw fail("--bench-runs must be at least 1 (got \(benchRuns))", code: .invalidInput) }
        return FuzzBench.run(jobs: jobs, seconds: benchSeconds, protocols: benchProtocol.map { [$0] } ?? [.pbft, .hotstuff],
                             cryptos: benchCrypto.map { [$0] } ?? [.fast, .ed25519], runs: benchRuns)
    }
}

struct FuzzCampaign: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "campaign", abstract: "Run a fuzz campaign (the default).")

    @Option(name: .customLong("protocol"), help: "pbft, hotstuff or hotstuff-two-chain.") var protocolKind: ProtocolKind = .pbft
    @Option(help: "Test-only protocol mutant, to test the fuzzer (\(TestMutant.allCases.map(\.rawValue).joined(separator: ", "))).") var mutant: TestMutant?
    @Option(help: "Replica count n, or a range each run draws from (4..7: n ≠ 3f+1 is exercised too).") var replicas = ReplicaRange(lower: 4, upper: 7)
    @Option(help: "Byzantine replicas a run may have: a number, or f (default; with both budgets f, at most f faulty in all).") var byzantineBudget = FaultBudgetArgument.f
    @Option(help: "Crashed or crash-restarted replicas a run may have: a number or f (default). Numbered budgets beyond f make over-threshold runs, labelled as such.") var crashBudget = FaultBudgetArgument.f
    @Option(help: "Fault classes that may appear, comma-separated (\(FaultClasses.names.joined(separator: ","))).") var faults = FaultClassList(FaultClasses.names)
    @Option(help: "Simulated run length (the chaos phase ends within its first quarter).") var duration = DurationArgument("10s")
    @Option(help: "Number of runs (of the whole campaign; a shard makes its share).") var runs: Int?
    @Option(help: "Wall-clock seconds to fuzz for (instead of --runs).") var timeBudget: Double?
    @Option(help: "Threads (default: all cores). Results do not depend on it.") var jobs = ProcessInfo.processInfo.activeProcessorCount
    @Option(help: "Campaign seed.") var seed: UInt64 = 1
    @Option(help: "Campaign directory (default: out/fuzz-PROTOCOL-STRATEGY-SEED).") var out: String?
    @Option(help: "random (swarm), guided (coverage + bandit) or twins.") var strategy: FuzzStrategy = .random
    @Option(help: "Run shard K of N (runs whose index is K mod N), e.g. 0/4.") var shard: ShardArgument?
    @Option(help: "fast or ed25519.") var crypto: SignatureScheme = .fast
    @Option(help: "Twins: rounds with a scripted leader and partition.") var rounds = 8
    @OptionGroup(title: "Benchmark") var benchmark: FuzzBenchOptions
    @Flag(help: "Turn the adaptive controller (parameters.adaptive, issue 18) on in every run (PBFT).") var adaptive = false
    @Flag(help: "Do not shrink failures.") var noShrink = false
    @Flag(help: "No progress line.") var quiet = false
    @Flag(help: "Leave wall-clock timing out of campaign.json (byte-identical output, for shipped samples).") var omitTiming = false
    @Option(help: "Guided: seed corpus directory (scenario files run first and kept in the corpus), e.g. \(SeedCorpus.shippedRoot)/pbft or an earlier campaign's OUT/corpus.")
    var corpus: String?

    func run() throws {
        if benchmark.bench {
            print(try benchmark.run(jobs: jobs))
            return
        }
        let shardPair = shard.map { (index: $0.index, count: $0.count) } ?? (index: 0, count: 1)
        var config = try fuzzConfig(protocolKind: protocolKind, mutant: mutant, replicas: replicas, byzantineBudget: byzantineBudget,
                                    crashBudget: crashBudget, faults: faults, duration: duration, seed: seed, strategy: strategy,
                                    crypto: crypto, rounds: rounds)
        if adaptive { config.adaptive = true }
        let dir = out ?? "out/fuzz-\(protocolKind.rawValue)-\(strategy.rawValue)-\(seed)" + (shard.map { "-shard\($0.index)of\($0.count)" } ?? "")
        var options = CampaignOptions(config: config, runs: runs ?? (timeBudget == nil ? 1000 : nil), timeBudget: timeBudget, jobs: max(1, jobs),
                                      shard: shardPair, out: dir)
        options.progress = !quiet
        options.shrink = !noShrink
        options.omitTiming = omitTiming
        if let corpus {
            guard strategy == .guided else { throw fail("--corpus seeds the guided strategy; add --strategy guided", code: .invalidInput) }
            options.seeds = try invalidInput { try SeedCorpus.load(directory: corpus) }
        }
        let result = try invalidInput { try Campaign(options).run() }
        printCampaign(result, dir: dir)
        if result.signatures.contains(where: { $0.kind != "liveness" }) { throw ExitCode(RunStatus.safetyViolation.rawValue) }
        if !result.signatures.isEmpty { throw ExitCode(RunStatus.livenessViolation.rawValue) }
    }
}

/// A campaign config from the command line's typed options. Budgets of `f` become the f of the largest
/// n with `withinF` set (each run then has at most f of its own n faulty); a Twins campaign keeps one n.
func fuzzConfig(protocolKind: ProtocolKind, mutant: TestMutant?, replicas: ReplicaRange, byzantineBudget: FaultBudgetArgument,
                crashBudget: FaultBudgetArgument, faults: FaultClassList, duration: DurationArgument, seed: UInt64, strategy: FuzzStrategy,
                crypto: SignatureScheme, rounds: Int) throws -> FuzzConfig {
    let fMax = QuorumMath.maxFaulty(n: replicas.upper)
    func resolve(_ b: FaultBudgetArgument) -> Int { if case .count(let n) = b { return n } else { return fMax } }
    let withinF: Bool
    switch (byzantineBudget, crashBudget) {
    case (.f, .f): withinF = true
    case (.count, .count): withinF = false
    default:
        throw fail("--byzantine-budget and --crash-budget: give both as f or both as numbers", code: .invalidInput)
    }
    let upper = strategy == .twins ? nil : (replicas.upper > replicas.lower ? replicas.upper : nil)
    return FuzzConfig(protocolKind: protocolKind, mutant: mutant, replicas: replicas.lower, replicasMax: upper,
                      byzantineBudget: resolve(byzantineBudget), crashBudget: resolve(crashBudget), withinF: withinF,
                      faultClasses: faults.names, duration: duration.nanoseconds, seed: seed, strategy: strategy, crypto: crypto, rounds: rounds)
}

func printCampaign(_ r: CampaignResult, dir: String) {
    let rate = r.timing.map { String(format: "%.0f runs/s", $0.runsPerSecond) } ?? ""
    print("campaign  \(r.runs) runs, \(rate), \(r.failingRuns) failing runs, \(r.signatures.count) signatures, \(r.overThresholdRuns) over-threshold runs, \(r.coverage.distinctStates) states")
    for s in r.signatures {
        print("failure   \(s.kind) ×\(s.count), first at run \(s.firstRun); fault events \(s.originalFaultEvents) → \(s.shrunkFaultEvents.map(String.init) ?? "-")")
        print("  replay: (cd \(dir) && \(s.replay))")
    }
    print("output    \(dir)/campaign.json, campaign.md, failures/")
}

struct FuzzMerge: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "merge", abstract: "Merge shard outputs into one campaign directory.")
    @Argument(help: "Shard campaign directories.") var directories: [String]
    @Option(help: "Merged campaign directory.") var out = "out/fuzz-merged"
    func run() throws {
        printCampaign(try invalidInput { try CampaignMerge.merge(directories, out: out) }, dir: out)
    }
}

struct Shrink: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Shrink a failing scenario by delta debugging, keeping its violation kind; writes FILE.shrunk.yaml.")
    @Argument(help: "Failing scenario file.") var file: String
    @Option(help: "Test-only mutant the failure needs.") var mutant: TestMutant?
    @Option(help: "Output file (default: beside FILE, .shrunk.yaml).") var out: String?
    @Option(help: "Simulations allowed.") var attempts = 400

    func run() throws {
        let scenario = try loadScenario(file, seed: nil)
        let outcome = try invalidInput { try ScenarioRun.execute(scenario, trace: .off, driver: TestMutant.driver(mutant, for: scenario.protocolKind)) }
        guard outcome.status == .safetyViolation || outcome.status == .livenessViolation,
              let target = outcome.checks.violations.first(where: { outcome.status == .safetyViolation ? $0.kind != .liveness : $0.kind == .liveness }) else {
            throw fail("\(file): the scenario does not fail (status: \(outcome.status.label)); nothing to shrink", code: .invalidInput)
        }
        var shrinker = Shrinker(kind: target.kind, mutant: mutant, attemptsMax: attempts)
        let small = shrinker.shrink(scenario)
        let path = out ?? (file.hasSuffix(".yaml") ? String(file.dropLast(5)) : file) + ".shrunk.yaml"
        let replay = "bftsim run \(path)" + (mutant.map { " --mutant \($0.rawValue)" } ?? "")
        var header = ["bftsim shrink of \(file): \(FuzzRun.faultEventCount(scenario)) fault events -> \(FuzzRun.faultEventCount(small)) (\(shrinker.attempts) simulations)",
                      "violation kind kept: \(target.kind.rawValue)"]
        if let mutant { header.append("test-only mutant: \(mutant.rawValue) (replay needs --mutant \(mutant.rawValue))") }
        header.append("replay: \(replay)")
        do { try ScenarioFile.text(small, header: header).write(toFile: path, atomically: true, encoding: .utf8) } catch {
            throw fail("cannot write \(path): \(error)", code: .internalError)
        }
        print("shrunk    \(target.kind.rawValue): fault events \(FuzzRun.faultEventCount(scenario)) → \(FuzzRun.faultEventCount(small)), run length \(ScenarioLoader.formatDuration(scenario.stop.timeLimit)) → \(ScenarioLoader.formatDuration(small.stop.timeLimit)), n \(scenario.replicas) → \(small.replicas) (\(shrinker.attempts) simulations)")
        print("output    \(path)")
        print("replay: \(replay)")
    }
}
