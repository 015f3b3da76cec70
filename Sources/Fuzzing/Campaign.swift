import RunRecords
import BFTCore
import Checkers
import Foundation
import Runner
import ScenarioFormat

/// How a campaign runs (none of this changes which runs it makes, except `runs`, `timeBudget` and `shard`).
public struct CampaignOptions: Sendable {
    public var config: FuzzConfig
    /// Run indices `0..<runs` (this shard's share of them); nil with a time budget.
    public var runs: Int?
    /// Wall-clock seconds; runs continue in batches until it is spent.
    public var timeBudget: Double?
    public var jobs: Int
    /// Shard K of N: this process makes the runs whose index is K mod N.
    public var shard: (index: Int, count: Int)
    /// Campaign directory (nil: nothing written).
    public var out: String?
    public var coverage = true
    public var shrink = true
    /// Progress line on standard error.
    public var progress = false
    /// Failing scenario files kept per signature (every failure is counted).
    public var savedPerSignatureMax = 20
    /// Write campaign.json and campaign.md without wall-clock timing (byte-identical across machines).
    public var omitTiming = false
    /// Stop after the batch in which the first failure is found (the mutation score's time to first failure).
    public var stopAtFirstFailure = false
    /// Guided: seed schedules run first and folded into the corpus like any run (a corpus written by an
    /// earlier campaign, `OUT/corpus/`; `Scenarios/corpus/PROTOCOL/` ships one per protocol). Seeds of
    /// another protocol, or with n outside the campaign's range, are skipped.
    public var seeds: [Scenario] = []

    public init(config: FuzzConfig, runs: Int? = 100, timeBudget: Double? = nil, jobs: Int = ProcessInfo.processInfo.activeProcessorCount,
                shard: (index: Int, count: Int) = (0, 1), out: String? = nil) {
        self.config = config
        self.runs = runs
        self.timeBudget = timeBudget
        self.jobs = jobs
        self.shard = shard
        self.out = out
    }
}

/// A fuzz campaign: generate runs, simulate them on `jobs` threads, fold results in run-index order,
/// de-duplicate failures by signature, shrink the first of each, and write the campaign directory.
public final class Campaign {
    /// Runs planned and folded together. Fixed, so the guided corpus evolves the same with any `--jobs`.
    public static let batchSize = 32

    let options: CampaignOptions
    var config: FuzzConfig { options.config }
    var guided = GuidedState()
    var firstReach: [UInt64: Int] = [:]
    var stateVisits = 0
    var runs = 0, overThreshold = 0, invalid = 0, failing = 0, excused = 0
    var byKind: [String: Int] = [:]
    var signatures: [String: SignatureRecord] = [:]
    /// First failing scenario per signature (for shrinking) and every saved one.
    var firstScenario: [String: Scenario] = [:]
    var saved: [(file: String, scenario: Scenario, verdict: RunVerdict)] = []
    var savedCount: [String: Int] = [:]
    let twinsEnumerate: Bool
    /// Wall-clock seconds from the start to the end of the batch that held the first failure.
    public private(set) var secondsToFirstFailure: Double?

    public init(_ options: CampaignOptions) throws(FuzzError) {
        try options.config.validate()
        guard options.shard.count >= 1, options.shard.index >= 0, options.shard.index < options.shard.count else {
            throw .invalid("--shard K/N needs 0 ≤ K < N")
        }
        guard options.runs != nil || options.timeBudget != nil else { throw .invalid("give --runs or --time-budget") }
        self.options = options
        if options.config.strategy == .guided {
            let config = options.config
            guided.seeds = options.seeds.filter {
                $0.protocolKind == config.protocolKind && $0.replicas >= config.replicas && $0.replicas <= config.replicasUpper
            }
        }
        if let runs = options.runs, let size = TwinsGenerator.spaceSize(options.config) { twinsEnumerate = size <= UInt64(runs) } else { twinsEnumerate = false }
    }

    /// The scenario of run `index` (random and twins: a pure function of config and index).
    public static func scenario(_ config: FuzzConfig, index: Int, twinsEnumerate: Bool = false) -> Scenario {
        switch config.strategy {
        case .random, .guided: return SwarmGenerator.scenario(config, index: index)
        case .twins: return TwinsGenerator.scenario(config, index: index, enumerate: twinsEnumerate)
        }
    }

    /// Runs the campaign and writes its directory (when `out` is set).
    public func run() throws(FuzzError) -> CampaignResult {
        let start = WallClock.now()
        var next = options.shard.index
        var lastProgress = -Double.infinity
        while true {
            if let limit = options.runs, next >= limit { break }
            if let budget = options.timeBudget, WallClock.now() - start >= budget { break }
            var indices: [Int] = []
            while indices.count < Self.batchSize, options.runs.map({ next < $0 }) ?? true {
                indices.append(next)
                next += options.shard.count
            }
            let scenarios = indices.map { i in
                config.strategy == .guided ? guided.plan(config, index: i) : Self.scenario(config, index: i, twinsEnumerate: twinsEnumerate)
            }
            let mutant = config.mutant, coverage = options.coverage, batch = indices
            let verdicts = parallelMap(scenarios.count, jobs: options.jobs) { k in
                FuzzRun.run(scenarios[k], index: batch[k], mutant: mutant, coverage: coverage)
            }
            for (s, v) in zip(scenarios, verdicts) { fold(s, v) }
            if failing > 0, secondsToFirstFailure == nil { secondsToFirstFailure = WallClock.now() - start }
            if options.stopAtFirstFailure, failing > 0 { break }
            if options.progress, WallClock.now() - lastProgress >= 1 {
                lastProgress = WallClock.now()
                progressLine(elapsed: lastProgress - start, next: next)
            }
        }
        let elapsed = WallClock.now() - start
        if options.progress { progressLine(elapsed: elapsed, next: next); FileHandle.standardError.write(Data("\n".utf8)) }
        let shrinkStart = WallClock.now()
        if options.shrink { shrinkAll() }
        var result = makeResult()
        result.timing = CampaignTiming(runs: runs, elapsedSeconds: elapsed, jobs: options.jobs, shrinkSeconds: WallClock.now() - shrinkStart)
        if let out = options.out { try write(options.omitTiming ? result.withoutTiming : result, to: out) }
        return result
    }

    func progressLine(elapsed: Double, next: Int) {
        var eta = ""
        if let limit = options.runs, runs > 0 {
            let total = (limit - options.shard.index + options.shard.count - 1) / options.shard.count
            eta = String(format: "  ETA %.1fs", elapsed / Double(runs) * Double(max(0, total - runs)))
        } else if let budget = options.timeBudget {
            eta = String(format: "  ETA %.1fs", max(0, budget - elapsed))
        }
        let line = String(format: "\rruns %d  %.0f/s  failures %d (%d signatures)  states %d  elapsed %.1fs",
                          runs, elapsed > 0 ? Double(runs) / elapsed : 0, failing, signatures.count, firstReach.count, elapsed) + eta
        FileHandle.standardError.write(Data(line.utf8))
    }

    func fold(_ s: Scenario, _ v: RunVerdict) {
        runs += 1
        var novelty = 0
        for state in v.states where firstReach[state] == nil { firstReach[state] = v.index; novelty += 1 }
        stateVisits += v.states.count
        if config.strategy == .guided { guided.learn(index: v.index, scenario: s, novelty: novelty, events: v.events, states: v.states) }
        if v.invalid != nil { invalid += 1; return }
        if v.overThreshold { overThreshold += 1 }
        excused += v.excused
        guard let bug = v.bug, let sig = v.signature else { return }
        failing += 1
        byKind[bug.kind.rawValue, default: 0] += 1
        let file = "failures/run-\(padded(v.index)).yaml"
        if savedCount[sig, default: 0] < options.savedPerSignatureMax {
            savedCount[sig, default: 0] += 1
            saved.append((file, s, v))
        }
        if var r = signatures[sig] {
            r.count += 1
            signatures[sig] = r
        } else {
            signatures[sig] = SignatureRecord(signature: sig, kind: bug.kind.rawValue, firstRun: v.index, message: bug.message, file: file,
                                              faultEvents: FuzzRun.faultEventCount(s), replay: Self.replay(file, config.mutant))
            firstScenario[sig] = s
        }
    }

    var shrunk: [String: Scenario] = [:]

    func shrinkAll() {
        let keys = signatures.keys.sorted()
        let inputs = keys.map { (firstScenario[$0]!, signatures[$0]!.kind) }
        let mutant = config.mutant
        let outputs = parallelMap(inputs.count, jobs: options.jobs) { i -> (Scenario, Int, Bool)? in
            guard let kind = ViolationKindName(inputs[i].1) else { return nil }
            var shrinker = Shrinker(kind: kind, mutant: mutant)
            // Shrink what the saved file says (the text round trip), so the replay is what was shrunk.
            let s = shrinker.shrink(ScenarioFile.roundTrip(inputs[i].0) ?? inputs[i].0)
            let verified = ScenarioFile.roundTrip(s).map { FuzzRun.run($0, mutant: mutant, coverage: false).bug?.kind == kind } ?? false
            return (s, shrinker.attempts, verified)
        }
        for (key, out) in zip(keys, outputs) {
            guard let (s, attempts, verified) = out, var r = signatures[key] else { continue }
            r.replayVerified = verified
            let file = r.file.replacingOccurrences(of: ".yaml", with: ".shrunk.yaml")
            r.shrunkFile = file
            r.shrunkFaultEvents = FuzzRun.faultEventCount(s)
            r.shrinkSimulations = attempts
            r.replay = Self.replay(file, config.mutant)
            signatures[key] = r
            shrunk[key] = s
        }
    }

    static func replay(_ file: String, _ mutant: TestMutant?) -> String {
        "bftsim run \(file) --events-max \(FuzzRun.eventsMax)" + (mutant.map { " --mutant \($0.rawValue)" } ?? "")
    }

    func makeResult() -> CampaignResult {
        var result = CampaignResult(config: config, shard: options.shard.count > 1 ? "\(options.shard.index)/\(options.shard.count)" : nil)
        result.runs = runs
        result.overThresholdRuns = overThreshold
        result.invalidRuns = invalid
        result.failingRuns = failing
        result.excusedViolations = excused
        result.failuresByKind = byKind
        result.signatures = signatures.values.sorted { ($0.firstRun, $0.signature) < ($1.firstRun, $1.signature) }
        result.coverage.distinctStates = firstReach.count
        result.coverage.stateVisits = stateVisits
        result.coverage.growth = CoverageMap.growth(firstReach, runs: runs)
        return result
    }

    func write(_ result: CampaignResult, to dir: String) throws(FuzzError) {
        let fm = FileManager.default
        do {
            try fm.createDirectory(atPath: dir + "/failures", withIntermediateDirectories: true)
            for (file, s, v) in saved {
                try ScenarioFile.text(s, header: ScenarioFile.header(config: config, verdict: v, file: file, shrunk: false))
                    .write(toFile: dir + "/" + file, atomically: true, encoding: .utf8)
            }
            for r in result.signatures {
                guard let f = r.shrunkFile, let s = shrunk[r.signature] else { continue }
                let header = ScenarioFile.shrunkHeader(config: config, record: r)
                try ScenarioFile.text(s, header: header).write(toFile: dir + "/" + f, atomically: true, encoding: .utf8)
            }
            try CampaignJSON.encoder.encode(CoverageMap(firstReach)).write(to: URL(fileURLWithPath: dir + "/coverage.json"))
            if config.strategy == .guided {
                try fm.createDirectory(atPath: dir + "/corpus", withIntermediateDirectories: true)
                for (i, seed) in guided.distilled().enumerated() {
                    var s = seed
                    var header = ["bftsim fuzz --strategy guided: corpus entry \(i) of campaign seed \(config.seed) (a seed for --corpus)"]
                    // A schedule the fault model promises no liveness for (a Byzantine leader of every view,
                    // over-threshold, Twins) states what the honest protocol does on it, so `bftsim run`
                    // replays it as expected instead of reporting an excused stall as unexpected.
                    if !FuzzRun.promisesLiveness(s), config.mutant == nil,
                       let outcome = try? ScenarioRun.execute(s, trace: .off) {
                        s.expect.liveness = outcome.liveness
                        header.append("liveness is not promised for this schedule (\(FuzzRun.livenessExcuse(s))); expected as observed: \(outcome.liveness.rawValue)")
                    }
                    try ScenarioFile.text(s, header: header).write(toFile: dir + "/corpus/seed-\(padded(i)).yaml", atomically: true, encoding: .utf8)
                }
            }
            try result.json().write(toFile: dir + "/campaign.json", atomically: true, encoding: .utf8)
            try CampaignMarkdown.render(result).write(toFile: dir + "/campaign.md", atomically: true, encoding: .utf8)
        } catch {
            throw .io("\(dir): \(error)")
        }
    }
}

func ViolationKindName(_ s: String) -> ViolationKind? { ViolationKind(rawValue: s) }

/// Scenario files the fuzzer writes: canonical YAML with a comment header naming the run, the
/// violation, the test-only mutant (if any) and the replay command.
public enum ScenarioFile {
    /// `s` written and parsed back (nil if the text does not parse).
    public static func roundTrip(_ s: Scenario) -> Scenario? {
        try? ScenarioLoader.parse(ScenarioLoader.encodeYAML(s), file: "\(s.name).yaml")
    }

    public static func text(_ s: Scenario, header: [String]) -> String {
        header.map { "# " + $0 }.joined(separator: "\n") + "\n" + ScenarioLoader.encodeYAML(s)
    }

    static func header(config: FuzzConfig, verdict v: RunVerdict, file: String, shrunk: Bool) -> [String] {
        var h = ["bftsim fuzz: run \(v.index), strategy \(config.strategy.rawValue), campaign seed \(config.seed)"]
        if let bug = v.bug { h.append("violation: \(bug.kind.rawValue): \(bug.message)") }
        h += mutantLines(config.mutant)
        h.append("replay (from the campaign directory): \(Campaign.replay(file, config.mutant))")
        return h
    }

    static func shrunkHeader(config: FuzzConfig, record r: SignatureRecord) -> [String] {
        var h = ["bftsim shrink of \(r.file): \(r.originalFaultEvents) fault events -> \(r.shrunkFaultEvents ?? 0) (\(r.shrinkSimulations ?? 0) simulations)",
                 "violation kind kept: \(r.kind)"]
        h += mutantLines(config.mutant)
        h.append("replay (from the campaign directory): \(r.replay)")
        return h
    }

    static func mutantLines(_ mutant: TestMutant?) -> [String] {
        guard let mutant else { return [] }
        return ["test-only mutant: \(mutant.rawValue) (a deliberately broken protocol; replay needs --mutant \(mutant.rawValue))"]
    }
}
