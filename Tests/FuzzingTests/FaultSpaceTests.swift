import BFTCore
import Checkers
import Foundation
import Fuzzing
import HotStuff
import PBFT
import Runner
import ScenarioFormat
import Testing

/// The default campaign of `bftsim fuzz`: n from 4 to 7, budgets of f, every fault class.
func defaultConfig(_ kind: ProtocolKind, mutant: TestMutant? = nil, seed: UInt64 = 1, strategy: FuzzStrategy = .random) -> FuzzConfig {
    FuzzConfig(protocolKind: kind, mutant: mutant, replicas: 4, replicasMax: 7, byzantineBudget: 2, crashBudget: 2, withinF: true,
               seed: seed, strategy: strategy)
}

@Suite("Fuzzing: the whole fault library in every campaign")
struct FaultSpaceTests {
    @Test("a default campaign draws every Byzantine behaviour the protocol implements, crash-restarts, message faults and n from 4 to 7",
          arguments: ProtocolKind.allCases)
    func everyFaultIsReached(kind: ProtocolKind) throws {
        // The generator must reach the whole registry, not a sliver of it: 1,500 generated runs (no simulation).
        let config = defaultConfig(kind)
        var behaviours = Set<String>(), mutations = Set<String>(), actions = Set<String>(), sizes = Set<Int>()
        var targeted = false, windowed = false, layered = false
        for i in 0..<1500 {
            let s = Campaign.scenario(config, index: i)
            sizes.insert(s.replicas)
            for b in s.byzantine {
                behaviours.insert(b.behaviour)
                if let m = b.mutation { mutations.insert(m) }
                if b.behaviour == "mutate", b.targets != nil { targeted = true }
                if b.from != nil { windowed = true }
            }
            if Set(s.byzantine.map(\.replica)).count < s.byzantine.count { layered = true }
            for e in s.timeline {
                switch e.action {
                case .restart: actions.insert("restart")
                case .messageFault(let m): actions.insert("message-\(m.action.rawValue)")
                case .crash: actions.insert("crash")
                default: break
                }
            }
            // Budgets of f: never more than f faulty replicas, so no run is over-threshold.
            #expect(!FuzzRun.isOverThreshold(s), "run \(i): \(s.byzantineReplicas) \(s.crashedReplicas) at n=\(s.replicas)")
        }
        #expect(behaviours == Set(Runner.driver(for: kind).byzantineBehaviours), "missing \(Set(Runner.driver(for: kind).byzantineBehaviours).subtracting(behaviours))")
        #expect(mutations.isSuperset(of: ByzantineFault.mutations(for: kind)))
        #expect(actions.isSuperset(of: ["restart", "crash", "message-drop", "message-delay", "message-duplicate", "message-hold"]))
        #expect(sizes == [4, 5, 6, 7])
        #expect(targeted && windowed && layered)
    }

    @Test("numbered budgets keep their old meaning: over-threshold runs are possible and labelled")
    func numberedBudgetsMayExceedF() {
        let config = FuzzConfig(protocolKind: .pbft, byzantineBudget: 1, crashBudget: 1, seed: 3)
        #expect(config.budgetExceedsThreshold)
        let over = (0..<200).filter { FuzzRun.isOverThreshold(Campaign.scenario(config, index: $0)) }
        #expect(!over.isEmpty)
    }

    @Test("a run's n is a pure function of the campaign seed and run index")
    func runSizeIsDeterministic() {
        let config = defaultConfig(.hotstuff)
        let a = (0..<50).map { config.replicas(forRun: $0) }, b = (0..<50).map { config.replicas(forRun: $0) }
        #expect(a == b)
        #expect(Set(a).isSubset(of: [4, 5, 6, 7]))
        #expect(FuzzConfig(replicas: 5).replicas(forRun: 9) == 5)
    }

    @Test("the honest protocols stay clean over a default campaign (every fault class, n from 4 to 7)",
          arguments: ProtocolKind.allCases)
    func honestProtocolsStayClean(kind: ProtocolKind) throws {
        // The wide fault space is within f by construction, so any failure here is a protocol bug.
        var options = CampaignOptions(config: defaultConfig(kind, seed: 11), runs: 160, jobs: 2)
        options.shrink = false
        let result = try Campaign(options).run()
        #expect(result.signatures.isEmpty, "\(result.signatures.map { "run \($0.firstRun): \($0.message)" })")
        #expect(result.invalidRuns == 0)
        #expect(result.overThresholdRuns == 0)
    }
}

@Suite("Byzantine behaviours: small-scope mutation and conflicts in both orders")
struct SmallScopeBehaviourTests {
    static func scenario(_ kind: ProtocolKind, _ byzantine: [ByzantineSpec], seed: UInt64 = 3) -> Scenario {
        Scenario(name: "small-scope", protocolKind: kind, replicas: 4, seed: seed, crypto: .fast,
                 stop: StopCondition(timeLimit: 10 * nanosPerSecond),
                 network: NetworkSpec(latency: .uniform(min: nanosPerMillisecond, max: 3 * nanosPerMillisecond)),
                 workload: WorkloadSpec(clients: 2, requestsPerClient: 12, keySpace: 8),
                 parameters: ProtocolParameters(batchSizeMax: 4, checkpointInterval: 8, watermarkWindow: 16,
                                                viewChangeTimeout: 100 * nanosPerMillisecond),
                 byzantine: byzantine)
    }

    @Test("PBFT primary: each PRE-PREPARE lie is rejected by the honest rule it targets, and safety and liveness hold",
          arguments: [("requests", RejectReason.digestMismatch), ("forged-request", .badSignature), ("conflicting-batch", .conflicting)])
    func pbftPrimaryLies(mutation: String, reason: RejectReason) throws {
        // Replica 0 is the first primary; `conflict` sends both versions to every backup in both orders.
        let behaviour = mutation == "conflicting-batch" ? "conflict" : "mutate"
        let o = try ScenarioRun.execute(Self.scenario(.pbft, [ByzantineSpec(replica: 0, behaviour: behaviour, mutation: mutation)]), trace: .off)
        #expect(o.safety == .holds)
        #expect(o.liveness == .holds)
        #expect((o.rejected[reason] ?? 0) > 0, "\(o.rejected)")
    }

    @Test("the mutants the lies target are killed by them: the same schedules break the mutated replicas",
          arguments: [("requests", [1] as [Int]?, TestMutant.skipBatchDigestCheck), ("forged-request", nil, .skipRequestSignatureCheck)])
    func pbftLiesKillTheirMutants(mutation: String, targets: [Int]?, mutant: TestMutant) throws {
        // Test the tester: a lie the honest rule rejects must break the replica that lacks the rule.
        // A batch whose requests no longer match its digest goes to replica 1 only (ByzzFuzz's small
        // scope), so it executes other requests than the others under the same digest; a forged request
        // goes to every backup, which then execute a request its client never issued.
        let s = Self.scenario(.pbft, [ByzantineSpec(replica: 0, behaviour: "mutate", targets: targets, mutation: mutation)])
        let o = try ScenarioRun.execute(s, trace: .off, driver: mutant.driver(for: .pbft))
        #expect(o.safety == .violated, "\(o.checks.violations.map(\.message))")
    }

    @Test("conflicting messages in both orders: even-id targets get the original first, odd ids the altered one first")
    func bothOrders() {
        // The rewrite helper on its own: one broadcast, targets 1 and 2 of n = 4, sent by replica 0.
        struct Probe: Misbehaviour {
            mutating func rewrite(_ input: ReplicaInput, _ inner: [ReplicaAction], into actions: inout [ReplicaAction]) {
                rewriteSends(inner, into: &actions, context: ByzantineContext(id: 0, n: 4), scope: RewriteScope(targets: [1, 2], both: true)) { $0 == [1] ? [2] : nil }
            }
        }
        var probe = Probe()
        var out: [ReplicaAction] = []
        probe.rewrite(.start, [.broadcast([1])], into: &out)
        let sends = out.compactMap { a -> String? in
            if case .send(let b, let to) = a, let r = to.replicaID { return "\(r):\(b[0])" } else { return nil }
        }
        #expect(sends == ["1:2", "1:1", "2:1", "2:2", "3:1"])
    }

    @Test("HotStuff leader: conflicting blocks of one view to the same replica in both orders; safety holds",
          arguments: [ProtocolKind.hotstuff, .hotstuffTwoChain])
    func hotStuffConflict(kind: ProtocolKind) throws {
        let o = try ScenarioRun.execute(Self.scenario(kind, [ByzantineSpec(replica: 1, behaviour: "conflict")]), trace: .off)
        #expect(o.safety == .holds)
        #expect(o.liveness == .holds)
        let mutated = try ScenarioRun.execute(Self.scenario(kind, [ByzantineSpec(replica: 1, behaviour: "conflict")]), trace: .off,
                                              driver: TestMutant.voteTwiceInView.driver(for: kind))
        #expect(mutated.checks.violations.contains { $0.kind == .doubleVote })
    }
}

@Suite("Fuzzer findings with the wider fault space")
struct WideFindingsTests {
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent()

    func load(_ file: String) throws -> Scenario {
        try ScenarioLoader.load(path: Self.root.appendingPathComponent("Findings/\(file)").path)
    }

    @Test("chained HotStuff, n=4: NEW-VIEW spam does not make correct replicas announce far-future views (P9)")
    func spamDoesNotRunAwayWithViews() throws {
        // Before the fix the views reached 172,109 in 10 simulated seconds; a run now needs a few dozen.
        let o = try ScenarioRun.execute(load("hotstuff-spam-view-change-runaway-views.yaml"), trace: .off)
        #expect(o.safety == .holds)
        #expect(o.liveness == .holds)
        #expect(o.highestView < 200, "highest view \(o.highestView)")
    }

    @Test("HotStuff, n=4: a vote the next leader hands to itself is durable before a crash can lose it (R1)")
    func selfVoteIsDurable() throws {
        let o = try ScenarioRun.execute(load("hotstuff-self-vote-lost-at-crash.yaml"), trace: .off)
        #expect(!o.checks.violations.contains { $0.kind == .doubleVote }, "\(o.checks.violations.map(\.message))")
        #expect(o.safety == .holds)
    }
}

@Suite("Mutation score: the registry and the harness")
struct MutationScoreTests {
    @Test("at least 30 mutants, each naming a rule of the specs and building a driver for every protocol it lists")
    func registry() throws {
        #expect(TestMutant.allCases.count >= 30)
        let specs = try ["PBFT.md", "HotStuff.md"].map {
            try String(contentsOfFile: FindingsTests.root.deletingLastPathComponent().deletingLastPathComponent()
                .appendingPathComponent("Specs/\($0)").path, encoding: .utf8)
        }.joined()
        for m in TestMutant.allCases {
            #expect(!m.protocols.isEmpty)
            for id in m.rule.split(whereSeparator: { " /()".contains($0) }) where id.first?.isUppercase == true && id != "HotStuff" {
                #expect(specs.contains("**\(id)") || specs.contains("**\(id) "), "\(m.rawValue): rule \(id) is not in Specs/")
            }
            for kind in m.protocols { _ = try m.driver(for: kind) }
            for kind in ProtocolKind.allCases where !m.protocols.contains(kind) { #expect(throws: RunError.self) { try m.driver(for: kind) } }
        }
    }

    @Test("the score harness kills a mutant, times it per strategy and shrinks it to a replayable file")
    func harness() throws {
        let dir = temporaryDirectory("score")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let row = MutationScore.score(.noViewChangeTimer, .pbft, seconds: 20, jobs: 2, seed: 1, out: dir)
        #expect(row.killed)
        #expect(row.attempts.map(\.strategy) == [.guided, .random])
        for a in row.attempts {
            let file = try #require(a.shrunkFile)
            #expect(a.replayVerified == true)
            let s = try ScenarioLoader.load(path: dir + "/" + file)
            let o = try ScenarioRun.execute(s, trace: .off, driver: TestMutant.noViewChangeTimer.driver(for: .pbft))
            #expect(o.liveness == .violated)
            #expect((try ScenarioRun.execute(s, trace: .off)).liveness == .holds, "the honest PBFT must pass the shrunk schedule")
        }
        let md = MutationScore.markdown([row], seconds: 20)
        #expect(md.contains("| no-view-change-timer | pbft | V1 | **killed** |"))
        #expect(md.contains("Score: 1 of 1"))
    }
}

@Suite("Fuzzing: real Twins")
struct RealTwinsTests {
    @Test("the twins strategy with a Byzantine budget twins one replica and partitions all n+1 nodes per view")
    func twinsSpec() throws {
        let config = FuzzConfig(protocolKind: .hotstuff, byzantineBudget: 1, crashBudget: 0, seed: 5, strategy: .twins, rounds: 6)
        #expect(TwinsGenerator.usesTwins(config))
        for i in 0..<20 {
            let s = Campaign.scenario(config, index: i)
            let twins = try #require(s.twins)
            #expect(twins.replicas.count == 1)
            let rounds = try #require(twins.roundPartitions)
            #expect(rounds.count == 8)  // view 0, six scripted views, then one group
            #expect(rounds.last == [Array(0..<5)])
            for groups in rounds { #expect(groups.flatMap { $0 }.sorted() == Array(0..<5)) }
            #expect(twins.roundLeaders?.count == 7)
            #expect(ScenarioFile.roundTrip(s) == s)
        }
        // The space: twinned replica × (partitions of 5 nodes × 4 leaders)^rounds.
        let one = FuzzConfig(protocolKind: .hotstuff, byzantineBudget: 1, crashBudget: 0, strategy: .twins, rounds: 1)
        #expect(TwinsGenerator.spaceSize(one) == 4 * 16 * 4)
    }

    @Test("real Twins stay safe on the honest protocols and catch a replica that votes twice in a view",
          arguments: [ProtocolKind.hotstuff, .hotstuffTwoChain])
    func twinsCatchDoubleVoting(kind: ProtocolKind) throws {
        // Two honest instances of one key are an equivocating replica; the honest rules tolerate it,
        // a replica without H-V1 votes for both instances' blocks.
        func run(_ mutant: TestMutant?) throws -> CampaignResult {
            var options = CampaignOptions(config: FuzzConfig(protocolKind: kind, mutant: mutant, byzantineBudget: 1, crashBudget: 0,
                                                             seed: 1, strategy: .twins), runs: 96, jobs: 2)
            options.shrink = false
            return try Campaign(options).run()
        }
        #expect(try run(nil).signatures.isEmpty)
        #expect(try run(.voteTwiceInView).failuresByKind["double-vote"] ?? 0 > 0)
    }
}

extension WideFindingsTests {
    @Test("PBFT, n=4: CHECKPOINTs lost before GST with a full window are retransmitted on the view-change timer (K4)")
    func lostCheckpointsAreRetransmitted() throws {
        // Before K4 the window stayed full in every view: no stable checkpoint, no new sequence, no new CHECKPOINT.
        let o = try ScenarioRun.execute(load("pbft-lost-checkpoints-full-window.yaml"), trace: .off)
        #expect(o.safety == .holds)
        #expect(o.liveness == .holds, "\(o.checks.violations.map(\.message))")
    }
}

extension SmallScopeBehaviourTests {
    @Test("HotStuff leader re-proposing requests its chain already holds: E2 executes each once; a replica without E2 twice",
          arguments: [ProtocolKind.hotstuff, .hotstuffTwoChain])
    func duplicateRequests(kind: ProtocolKind) throws {
        let s = Self.scenario(kind, [ByzantineSpec(replica: 1, behaviour: "mutate", mutation: "duplicate-requests")], seed: 2)
        let honest = try ScenarioRun.execute(s, trace: .off)
        #expect(honest.safety == .holds)
        #expect(honest.liveness == .holds)
        let mutated = try ScenarioRun.execute(s, trace: .off, driver: TestMutant.executeTwice.driver(for: kind))
        #expect(mutated.checks.violations.contains { $0.kind == .integrity }, "\(mutated.checks.violations.map(\.message))")
    }
}
