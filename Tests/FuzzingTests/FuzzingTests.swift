import BFTCore
import Checkers
import Foundation
@testable import Fuzzing
import Runner
import ScenarioFormat
import Testing

/// A fresh temporary directory per campaign.
func temporaryDirectory(_ name: String) -> String {
    let dir = NSTemporaryDirectory() + "bftsim-fuzz-\(name)-\(UUID().uuidString)"
    try? FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
    return dir
}

/// The fixed, modest budget every mutant must be found within (and the honest protocols pass).
let budget = 128
/// The machinery tests (shrinking, sharding, determinism) use a focused fault space so the mutants show up
/// within the budget; `FaultSpaceTests` covers the whole library.
let machineryFaults = ["byzantine", "partition", "loss", "latency"]

/// Campaign seed of the machinery tests (any seed finds the mutants eventually; this one within `budget`).
let machinerySeed: UInt64 = 3

func campaign(_ kind: ProtocolKind, mutant: TestMutant? = nil, strategy: FuzzStrategy = .random, runs: Int = budget, seed: UInt64 = machinerySeed,
              jobs: Int = 2, shard: (Int, Int) = (0, 1), out: String? = nil, shrink: Bool = true) throws -> CampaignResult {
    let config = FuzzConfig(protocolKind: kind, mutant: mutant, replicas: 4, byzantineBudget: 1, crashBudget: 0, faultClasses: machineryFaults,
                            seed: seed, strategy: strategy)
    var options = CampaignOptions(config: config, runs: runs, jobs: jobs, shard: (shard.0, shard.1), out: out)
    options.shrink = shrink
    return try Campaign(options).run()
}

@Suite("Fuzzing: mutants are found and shrunk")
struct MutantTests {
    @Test("each test-only mutant is found within the budget and shrinks to a replayable scenario with the same violation kind",
          arguments: [(ProtocolKind.pbft, TestMutant.commitWithoutDigestMatch), (.hotstuff, .commitOnParentLinks),
                      (.hotstuff, .voteWithoutLockCheck), (.hotstuffTwoChain, .voteWithoutLockCheck)])
    func mutantFoundAndShrunk(kind: ProtocolKind, mutant: TestMutant) throws {
        // The fuzzer must catch a broken protocol rule, and its shrunk file must replay the failure.
        let dir = temporaryDirectory(mutant.rawValue)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let result = try campaign(kind, mutant: mutant, out: dir)
        let safety = result.signatures.filter { $0.kind != ViolationKind.liveness.rawValue }
        #expect(!safety.isEmpty, "\(mutant.rawValue) not found in \(budget) runs")
        var original = 0, shrunk = 0
        for s in safety {
            let file = try #require(s.shrunkFile)
            let scenario = try ScenarioLoader.load(path: dir + "/" + file)
            let outcome = try ScenarioRun.execute(scenario, trace: .off, driver: mutant.driver(for: kind))
            #expect(outcome.checks.violations.contains { $0.kind.rawValue == s.kind }, "\(file) does not replay \(s.kind)")
            #expect(outcome.status == .safetyViolation)
            #expect(s.replayVerified == true)
            #expect(s.replay.contains("--mutant \(mutant.rawValue)"))
            let events = try #require(s.shrunkFaultEvents)
            #expect(events <= s.originalFaultEvents)
            original += s.originalFaultEvents
            shrunk += events
        }
        // Shrinking is expected to remove most of a schedule, not just some of it (a lone Byzantine
        // replica, as the fork scripts often find it, has nothing to remove).
        #expect(original <= 2 || shrunk * 2 <= original, "shrunk \(shrunk) of \(original) fault events")
    }

    @Test("the honest protocols give no failures over the same budget",
          arguments: [ProtocolKind.pbft, .hotstuff, .hotstuffTwoChain])
    func honestClean(kind: ProtocolKind) throws {
        // Same campaign as the mutant test, without the mutant: nothing may be reported.
        let result = try campaign(kind, shrink: false)
        #expect(result.signatures.isEmpty, "\(result.signatures.map(\.message))")
        #expect(result.invalidRuns == 0)
    }

    @Test("the guided strategy finds the PBFT mutant too")
    func guidedFindsMutant() throws {
        // The guided corpus starts from swarm runs and mutates them; it must still reach the bug.
        let result = try campaign(.pbft, mutant: .commitWithoutDigestMatch, strategy: .guided, shrink: false)
        #expect(result.failuresByKind["agreement"] ?? 0 > 0)
    }
}

@Suite("Fuzzing: determinism, sharding, round trips")
struct DeterminismTests {
    @Test("same seed gives the same campaign.json with 1 and 2 jobs", arguments: [FuzzStrategy.random, .guided, .twins])
    func jobsDoNotMatter(strategy: FuzzStrategy) throws {
        // Runs are folded in run-index order and guided batches are fixed-size, so threads change nothing.
        let a = temporaryDirectory("j1"), b = temporaryDirectory("j2")
        defer { try? FileManager.default.removeItem(atPath: a); try? FileManager.default.removeItem(atPath: b) }
        let one = try campaign(.pbft, mutant: .commitWithoutDigestMatch, strategy: strategy, runs: 64, jobs: 1, out: a)
        let two = try campaign(.pbft, mutant: .commitWithoutDigestMatch, strategy: strategy, runs: 64, jobs: 2, out: b)
        #expect(one.withoutTiming.json() == two.withoutTiming.json())
        for s in one.signatures {
            let fa = try String(contentsOfFile: a + "/" + (s.shrunkFile ?? s.file), encoding: .utf8)
            let fb = try String(contentsOfFile: b + "/" + (s.shrunkFile ?? s.file), encoding: .utf8)
            #expect(fa == fb)
        }
    }

    @Test("three shards merged equal the unsharded campaign")
    func shardsMerge() throws {
        // --shard K/N takes the run indices ≡ K mod N; merge adds counts and keeps earliest runs and states.
        let whole = temporaryDirectory("whole"), merged = temporaryDirectory("merged")
        let shards = (0..<3).map { temporaryDirectory("shard\($0)") }
        defer { for d in [whole, merged] + shards { try? FileManager.default.removeItem(atPath: d) } }
        let full = try campaign(.pbft, mutant: .commitWithoutDigestMatch, runs: 72, out: whole)
        for (k, d) in shards.enumerated() {
            _ = try campaign(.pbft, mutant: .commitWithoutDigestMatch, runs: 72, shard: (k, 3), out: d)
        }
        var m = try CampaignMerge.merge(shards, out: merged)
        #expect(m.mergedShards == ["0/3", "1/3", "2/3"])
        m.mergedShards = []
        #expect(m.withoutTiming.json() == full.withoutTiming.json())
        #expect(full.failingRuns > 0)
        let reloaded = try CampaignResult.load(directory: merged)
        #expect(reloaded.withoutTiming.runs == 72)
    }

    @Test("generated scenarios survive the scenario-file round trip", arguments: [FuzzStrategy.random, .twins])
    func roundTrip(strategy: FuzzStrategy) throws {
        // A saved failure must be the run that failed: encode, parse and compare.
        for kind in ProtocolKind.allCases {
            let config = FuzzConfig(protocolKind: kind, byzantineBudget: 1, crashBudget: 1, seed: 7, strategy: strategy)
            for i in 0..<40 {
                let s = Campaign.scenario(config, index: i)
                let text = ScenarioLoader.encodeYAML(s)
                let back = try ScenarioLoader.parse(text, file: "gen.yaml")
                #expect(back == s, "\(kind) run \(i)")
            }
        }
    }

    @Test("twins enumerates its space in index order when a campaign covers it")
    func twinsEnumerates() throws {
        // n=4 with one round: 8 partitions (at most two groups) × 4 leaders = 32 distinct runs.
        let config = FuzzConfig(protocolKind: .hotstuff, byzantineBudget: 0, crashBudget: 0, faultClasses: ["partition"], strategy: .twins, rounds: 1)
        #expect(TwinsGenerator.spaceSize(config) == 32)
        var seen = Set<String>()
        for i in 0..<32 {
            let s = TwinsGenerator.scenario(config, index: i, enumerate: true)
            seen.insert("\(s.parameters.leaderSchedule ?? [])|\(s.timeline.map(\.action))")
        }
        #expect(seen.count == 32)
    }
}

@Suite("Fuzzing: shrinking")
struct ShrinkTests {
    @Test("shrinking a failing scenario removes fault events and keeps the violation kind")
    func shrinkReduces() throws {
        // Pad a known failure with irrelevant faults; the shrinker must strip them and keep the agreement violation.
        let config = FuzzConfig(protocolKind: .pbft, mutant: .commitWithoutDigestMatch, byzantineBudget: 1, crashBudget: 0,
                                faultClasses: machineryFaults, seed: machinerySeed)
        var failing: Scenario?
        for i in 0..<budget {
            let s = Campaign.scenario(config, index: i)
            if FuzzRun.run(s, mutant: .commitWithoutDigestMatch, coverage: false).bug?.kind == .agreement { failing = s; break }
        }
        var s = try #require(failing)
        let before = FuzzRun.faultEventCount(s)
        var shrinker = Shrinker(kind: .agreement, mutant: .commitWithoutDigestMatch)
        let small = shrinker.shrink(s)
        #expect(FuzzRun.faultEventCount(small) <= before)
        #expect(FuzzRun.faultEventCount(small) <= 2, "\(small.timeline) \(small.byzantine)")
        #expect(FuzzRun.run(small, mutant: .commitWithoutDigestMatch, coverage: false).bug?.kind == .agreement)
        s.stop.timeLimit = small.stop.timeLimit
        #expect(small.stop.timeLimit <= config.duration)
    }
}

@Suite("Fuzzing: guided seed corpus")
struct SeedCorpusTests {
    @Test("a guided campaign writes a distilled corpus that parses, and a campaign seeded with it runs the seeds first")
    func corpusRoundTrip() throws {
        let first = temporaryDirectory("corpus-a")
        defer { try? FileManager.default.removeItem(atPath: first) }
        _ = try campaign(.pbft, strategy: .guided, runs: 128, out: first, shrink: false)
        let seeds = try SeedCorpus.load(directory: first + "/corpus")
        #expect(!seeds.isEmpty && seeds.count <= 64)
        // Distilled: every seed reaches some state no earlier seed does, so no two are the same schedule.
        #expect(Set(seeds.map { ScenarioLoader.encodeYAML($0) }).count == seeds.count)

        // Seeded: a distilled corpus runs first (seed i is run i), then the fresh runs follow the random
        // strategy's order (run count + i is random's run i).
        let config = FuzzConfig(protocolKind: .pbft, replicas: 4, byzantineBudget: 1, crashBudget: 0, faultClasses: machineryFaults,
                                seed: 1, strategy: .guided)
        func body(_ s: Scenario) -> String {
            var s = s
            s.name = "x"
            s.description = ""
            return ScenarioLoader.encodeYAML(s)
        }
        var plan = GuidedState()
        plan.seeds = seeds
        for i in 0..<seeds.count {
            #expect(body(plan.plan(config, index: i)) == body(seeds[i]), "run \(i) is not seed \(i)")
        }
        for i in 0..<4 {
            #expect(body(plan.plan(config, index: seeds.count + i)) == body(SwarmGenerator.scenario(config, index: i)),
                    "run \(seeds.count + i) is not random's run \(i)")
        }
        var options = CampaignOptions(config: config, runs: 64, jobs: 2, out: nil)
        options.seeds = seeds
        options.shrink = false
        let seeded = try Campaign(options)
        let result = try seeded.run()
        #expect(result.runs == 64)
        #expect(result.invalidRuns == 0)
        // A seed of the other protocol is skipped, not run.
        var foreign = options
        foreign.seeds = try SeedCorpus.shipped(.hotstuff, root: Paths.shippedCorpus)
        #expect(try Campaign(foreign).run().invalidRuns == 0)
    }

    @Test("a corpus entry that alone carries a schedule feature is never evicted, whatever its energy")
    func rareFeatureSurvivesEviction() throws {
        // Proves the favoured-entry rule: the HotStuff corpus lost every fork-below-lock run to cheaper
        // runs before it, so no seed exercised the lock rules.
        let config = FuzzConfig(protocolKind: .hotstuff, replicas: 4, byzantineBudget: 1, crashBudget: 0, faultClasses: machineryFaults,
                                seed: 1, strategy: .guided)
        var common = SwarmGenerator.scenario(config, index: 0)
        common.byzantine = []
        var rare = common
        rare.byzantine = [ByzantineSpec(replica: 0, behaviour: "fork-below-lock")]
        #expect(Set(ScheduleFeatures.of(rare)).subtracting(ScheduleFeatures.of(common)).count >= 1)
        var g = GuidedState()
        // The rare entry is the costliest and least novel: the first to go by energy alone.
        g.learn(index: 0, scenario: rare, novelty: 1, events: 1_000_000)
        for i in 1...(GuidedState.corpusMax + 50) { g.learn(index: i, scenario: common, novelty: 50, events: 100) }
        #expect(g.corpus.count == GuidedState.corpusMax)
        #expect(g.corpus.contains { $0.scenario.byzantine.first?.behaviour == "fork-below-lock" }, "the only fork-below-lock entry was evicted")
    }

    @Test("a Byzantine behaviour is a different schedule feature as first leader, next leader and backup")
    func behaviourFeaturesPerRole() throws {
        let config = FuzzConfig(protocolKind: .pbft, replicas: 4, byzantineBudget: 1, crashBudget: 0, faultClasses: machineryFaults,
                                seed: 1, strategy: .guided)
        var s = SwarmGenerator.scenario(config, index: 0)
        func features(_ replica: Int) -> Set<UInt64> {
            s.byzantine = [ByzantineSpec(replica: replica, behaviour: "silent")]
            return Set(ScheduleFeatures.of(s))
        }
        #expect(ScheduleFeatures.role(of: 0, in: s) == "first-leader")
        #expect(ScheduleFeatures.role(of: 1, in: s) == "next-leader")
        #expect(ScheduleFeatures.role(of: 3, in: s) == "backup")
        let leader = features(0), next = features(1), backup = features(3), otherBackup = features(2)
        #expect(leader != next && next != backup && leader != backup)
        #expect(backup == otherBackup, "two backups are the same role")
        // HotStuff follows the scenario's leader schedule.
        var h = SwarmGenerator.scenario(FuzzConfig(protocolKind: .hotstuff, replicas: 4, byzantineBudget: 1, crashBudget: 0,
                                                   faultClasses: machineryFaults, seed: 1, strategy: .guided), index: 0)
        h.parameters.leaderSchedule = [2, 3]
        #expect(ScheduleFeatures.role(of: 2, in: h) == "first-leader")
        #expect(ScheduleFeatures.role(of: 3, in: h) == "next-leader")
        #expect(ScheduleFeatures.role(of: 0, in: h) == "backup")
    }

    @Test("guided search learns the share of fresh runs from the reward each source earns, within bounds")
    func freshShareIsLearned() throws {
        var g = GuidedState()
        #expect(g.childProbability == 0.5, "no evidence: half and half")
        let config = FuzzConfig(protocolKind: .pbft, replicas: 4, byzantineBudget: 1, crashBudget: 0, faultClasses: machineryFaults,
                                seed: 1, strategy: .guided)
        let s = SwarmGenerator.scenario(config, index: 0)
        // Fresh runs keep finding states, children (planned with an operator) never do.
        for i in 0..<40 {
            if i % 2 == 0 { g.plannedFresh.insert(i) } else { g.planned[i] = 0 }
            g.learn(index: i, scenario: s, novelty: i % 2 == 0 ? 5 : 0, events: 100)
        }
        #expect(g.freshPayoff.runs == 20 && g.childPayoff.runs == 20)
        #expect(g.childProbability == GuidedState.childShare.lowerBound, "children that never pay get the floor")
        // And the other way round.
        var h = GuidedState()
        for i in 0..<40 {
            if i % 2 == 0 { h.plannedFresh.insert(i) } else { h.planned[i] = 0 }
            h.learn(index: i, scenario: s, novelty: i % 2 == 0 ? 0 : 5, events: 100)
        }
        #expect(h.childProbability == GuidedState.childShare.upperBound)
        // Seeds are neither: their reward moves no share.
        var k = GuidedState()
        k.learn(index: 0, scenario: s, novelty: 5, events: 100)
        #expect(k.freshPayoff.runs == 0 && k.childPayoff.runs == 0)
    }

    @Test("every committed mutation-score kill replays: the mutant fails with the kind kept, the honest protocol passes")
    func committedKillsReplay() throws {
        let dir = Paths.repository + "/Reports/fuzzing/kills"
        let files = try FileManager.default.contentsOfDirectory(atPath: dir).filter { $0.hasSuffix(".shrunk.yaml") }.sorted()
        #expect(files.count >= 30)
        for name in files {
            let text = try String(contentsOfFile: dir + "/" + name, encoding: .utf8)
            func comment(_ prefix: String) -> String? {
                text.split(separator: "\n").first { $0.hasPrefix(prefix) }.map { String($0.dropFirst(prefix.count)) }
            }
            let mutantName = try #require(comment("# test-only mutant: ")?.split(separator: " ").first.map(String.init))
            let mutant = try #require(TestMutant(rawValue: mutantName), "\(name): unknown mutant \(mutantName)")
            let kind = try #require(comment("# violation kind kept: "))
            let scenario = try ScenarioLoader.load(path: dir + "/" + name)
            // Judged as the harness judges (`FuzzRun`: liveness only where the fault model promises it).
            let broken = FuzzRun.run(scenario, mutant: mutant, coverage: false)
            #expect(broken.invalid == nil && broken.bug?.kind.rawValue == kind, "\(name) does not replay \(kind)")
            let honest = FuzzRun.run(scenario, mutant: nil, coverage: false)
            #expect(honest.invalid == nil && honest.bug == nil, "\(name): the honest protocol fails too")
        }
    }

    @Test("the shipped corpora parse and belong to their protocol", arguments: [ProtocolKind.pbft, .hotstuff, .hotstuffTwoChain])
    func shippedCorpus(kind: ProtocolKind) throws {
        let seeds = try SeedCorpus.shipped(kind, root: Paths.shippedCorpus)
        #expect(seeds.count >= 16)
        #expect(seeds.allSatisfy { $0.protocolKind == kind })
        // Every seed replays as its file says on the honest protocol (`bftsim run` exits 0): a schedule
        // the fault model promises no liveness for states the liveness it showed.
        for s in seeds {
            let o = try ScenarioRun.execute(s, trace: .off)
            #expect(o.safety == s.expect.safety && o.liveness == s.expect.liveness,
                    "\(s.name): safety \(o.safety), liveness \(o.liveness), expected \(s.expect)")
        }
        // The corpus covers the behaviours the generator draws, the HotStuff fork scripts included.
        let behaviours = Set(seeds.flatMap { $0.byzantine.map(\.behaviour) })
        if kind == .hotstuff { #expect(behaviours.contains("fork-below-lock"), "\(behaviours.sorted())") }
    }
}

enum Paths {
    static let repository = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().path
    static let shippedCorpus = repository + "/" + SeedCorpus.shippedRoot
}

@Suite("Fuzzing: shrinking keeps files replayable")
struct ShrinkReferencesTests {
    @Test("every field naming a replica blocks shrinking n below it: Byzantine targets, restarts, storage and message faults")
    func referencedReplicas() {
        // Proves the fix for a shrunk mutant kill that did not parse (`targets: [1, 3, 4, 6]` left in a
        // file shrunk from n=7 to n=4): the score reported it as not replayable.
        var s = Scenario(name: "refs", replicas: 7, f: 2)
        s.byzantine = [ByzantineSpec(replica: 0, behaviour: "mutate", targets: [1, 6], mutation: "digest")]
        s.timeline = [TimelineEvent(at: 1, action: .restart(replica: 5, delay: 10)),
                      TimelineEvent(at: 2, action: .storageFault(replica: 4, writesLost: nil)),
                      TimelineEvent(at: 3, action: .messageFault(MessageFaultSpec(action: .drop, from: 2, to: 3)))]
        #expect(Set(Shrinker.referencedReplicas(s)) == [0, 1, 2, 3, 4, 5, 6])
    }
}

@Suite("Fuzzing: the resize mutation")
struct ResizeMutationTests {
    @Test("resize moves a run across n = 4…7: smaller runs drop what names a removed replica, stay in budget and parse")
    func resizedSchedulesStayValid() throws {
        // Proves guided children can change n (before, every child kept its parent's n, so a corpus at
        // n = 4 never reached quorum arithmetic that is wrong only at n ≠ 3f+1), and that a shrunk
        // schedule is a valid scenario file: no field names a replica ≥ n, the fault budget of the new
        // n holds, and the YAML parses.
        let config = FuzzConfig(protocolKind: .pbft, replicas: 4, replicasMax: 7, byzantineBudget: 2, crashBudget: 2, withinF: true)
        var changed = 0
        for index in 0..<200 {
            let parent = SwarmGenerator.scenario(config, index: index)
            var rng = DeterministicRNG(seed: 9, stream: "resize/\(index)")
            let child = Mutator.apply(.resize, to: parent, config: config, index: index, rng: &rng)
            #expect(child.replicas != parent.replicas, "run \(index) kept n = \(parent.replicas)")
            #expect((4...7).contains(child.replicas))
            #expect(child.f == QuorumMath.maxFaulty(n: child.replicas))
            #expect(Shrinker.referencedReplicas(child).allSatisfy { $0 < child.replicas }, "run \(index): \(Shrinker.referencedReplicas(child))")
            let budget = config.budget(n: child.replicas)
            #expect(Set(child.crashedReplicas).union(child.byzantineReplicas).count <= budget.faultyMax)
            _ = try ScenarioLoader.parse(ScenarioLoader.encodeYAML(child), file: "resize-\(index).yaml")
            if FuzzRun.faultEventCount(child) != FuzzRun.faultEventCount(parent) || child.byzantine != parent.byzantine { changed += 1 }
        }
        // Shrinking runs from n = 7 must have dropped faults somewhere in 200 runs (the code path is used).
        #expect(changed > 0)
    }
}
