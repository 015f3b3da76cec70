import BFTCore
import Checkers
import Foundation
import HotStuff
import Runner
import ScenarioFormat
import Simulation
import Testing

@Suite("Byzantine faults")
struct ByzantineTests {
    static func load(_ name: String) throws -> Scenario {
        try ScenarioLoader.load(path: Paths.root.appendingPathComponent("Scenarios/byzantine/\(name).yaml").path)
    }

    @Test("crash during a vote: a replica that persists after sending double-votes; the honest one does not")
    func crashDuringVote() throws {
        // Proves the simulator's sync-before-send storage model is what keeps a restarted replica from
        // voting twice: the same script with the test-only late persist yields a detected double vote.
        let scenario = try Self.load("hotstuff-crash-during-vote")
        let honest = try ScenarioRun.execute(scenario)
        #expect(honest.safety == .holds, "\(honest.checks.violations)")
        let mutant = try ScenarioRun.execute(scenario, driver: HotStuffDriver(variant: .chained, mutations: [.sendVoteBeforePersist]))
        #expect(mutant.safety == .violated)
        #expect(mutant.checks.violations.contains { $0.kind == .doubleVote }, "\(mutant.checks.violations)")
    }

    @Test("at most f faulty replicas: no safety violation over many seeds",
          arguments: ["pbft-double-vote-within-f", "pbft-twins-within-f", "hotstuff-twins-within-f", "hotstuff-amnesia-within-f"])
    func withinFIsSafe(name: String) throws {
        // Proves the negative controls are not artefacts of one seed: the same fault scripts with at most
        // f faulty replicas never break safety (a fuzz or bench run can take the count much higher).
        var scenario = try Self.load(name)
        scenario.workload.requestsPerClient = min(scenario.workload.requestsPerClient ?? 10, 8)
        for seed in UInt64(1)...6 {
            scenario.seed = seed
            let outcome = try ScenarioRun.execute(scenario, trace: .off)
            #expect(outcome.safety == .holds, "\(name) seed \(seed): \(outcome.checks.violations)")
        }
    }

    @Test("rejected messages are counted by reason: bad signature and forged sender")
    func rejectionsCounted() throws {
        // Proves receivers reject both kinds of forgery and the run summary can count them.
        let outcome = try ScenarioRun.execute(try Self.load("pbft-forged-signatures"), trace: .off)
        #expect((outcome.rejected[.badSignature] ?? 0) > 0)
        #expect((outcome.rejected[.forgedSender] ?? 0) > 0)
    }

    @Test("a behaviour window: the layer is in force only between from and until")
    func behaviourWindow() throws {
        // Proves windows switch layers: silent for the whole run starves the replica's peers of its
        // messages, silent for a window only while it lasts, so fewer messages are lost than always-on.
        var scenario = try Self.load("hotstuff-silent-leader-window")
        scenario.workload.requestsPerClient = 10
        let windowed = try ScenarioRun.execute(scenario, trace: .off)
        scenario.byzantine = [ByzantineSpec(replica: 1, behaviour: "silent")]
        let always = try ScenarioRun.execute(scenario, trace: .off)
        #expect(windowed.safety == .holds && always.safety == .holds)
        #expect(windowed.viewChangesStarted < always.viewChangesStarted || windowed.simulation.messagesSent > always.simulation.messagesSent)
    }

    @Test("a storage fault that loses synced writes makes an honest replica forget its vote")
    func storageFaultLosesWrites() throws {
        // Proves storage_fault reaches the storage model: undoing the last synced write (the vote's
        // safety state) before the restart lets the honest replica vote twice, as the late persist did.
        var scenario = try Self.load("hotstuff-crash-during-vote")
        scenario.timeline.insert(TimelineEvent(at: 4_500_000, action: .storageFault(replica: 3, writesLost: 1)), at: 1)
        let outcome = try ScenarioRun.execute(scenario, trace: .off)
        #expect(outcome.checks.violations.contains { $0.kind == .doubleVote }, "\(outcome.checks.violations)")
    }

    @Test("Twins generator JSON: one twin at n = 4 is safe, two twins break safety, for each protocol",
          arguments: ProtocolKind.allCases)
    func twinsImport(kind: ProtocolKind) throws {
        // Proves the Twins corpus format runs unchanged and that the f+1 negative control trips a checker.
        var base = Scenario(name: "twins", protocolKind: kind, seed: 1)
        base.stop = StopCondition(timeLimit: 3 * nanosPerSecond)
        base.workload.clients = 4
        base.workload.requestsPerClient = 5
        base.parameters.batchSizeMax = 4
        base.parameters.viewChangeTimeout = 150 * nanosPerMillisecond
        base.network.latency = .uniform(min: nanosPerMillisecond, max: 5 * nanosPerMillisecond)
        for (file, twins) in [("one-twin-n4.json", 1), ("two-twins-n4.json", 2)] {
            let path = Paths.root.appendingPathComponent("Scenarios/twins/\(file)").path
            let data = try #require(FileManager.default.contents(atPath: path))
            let scenarios = try TwinsImport.scenarios(fromJSON: data, file: file, base: base)
            #expect(scenarios.allSatisfy { $0.twins?.replicas.count == twins && $0.byzantineReplicas.count == twins })
            let verdicts = try scenarios.map { try ScenarioRun.execute($0, trace: .off).safety }
            if twins <= base.f {
                #expect(verdicts.allSatisfy { $0 == .holds }, "\(kind) \(file): \(verdicts)")
            } else {
                #expect(verdicts.contains(.violated), "\(kind) \(file): \(verdicts)")
            }
        }
    }

    @Test("Twins import rejects a malformed file with its path and the field at fault")
    func twinsImportErrors() throws {
        // Proves a bad corpus file is reported, not run.
        let bad = Data(#"{"num_of_nodes": 4, "num_of_twins": 1, "scenarios": [{"round_partitions": {"1": [[0, 9]]}}]}"#.utf8)
        #expect(throws: TwinsImport.Failure.self) { try TwinsImport.scenarios(fromJSON: bad, file: "bad.json", base: Scenario(name: "t")) }
    }

    static let layerBehaviours: [ByzantineSpec] = [
        ByzantineSpec(replica: 1, behaviour: "silent", from: 0),
        ByzantineSpec(replica: 1, behaviour: "omit", targets: [0, 2]),
        ByzantineSpec(replica: 1, behaviour: "slow", delay: 30 * nanosPerMillisecond),
        ByzantineSpec(replica: 1, behaviour: "double-vote"),
        ByzantineSpec(replica: 1, behaviour: "bad-signature"),
        ByzantineSpec(replica: 1, behaviour: "forge-sender"),
        ByzantineSpec(replica: 1, behaviour: "replay", delay: 100 * nanosPerMillisecond),
        ByzantineSpec(replica: 1, behaviour: "spam-view-change"),
    ] + ByzantineSpec.mutations.map { ByzantineSpec(replica: 1, behaviour: "mutate", mutation: $0) }

    @Test("every behaviour, alone on one replica (f = 1), keeps every protocol safe", arguments: ProtocolKind.allCases)
    func everyBehaviourWithinF(kind: ProtocolKind) throws {
        // Proves each layer builds for each protocol, runs without trapping, and cannot break safety alone.
        var scenario = Scenario(name: "one-behaviour", protocolKind: kind, seed: 3)
        scenario.stop = StopCondition(timeLimit: 5 * nanosPerSecond)
        scenario.workload.clients = 2
        scenario.workload.requestsPerClient = 8
        scenario.parameters.viewChangeTimeout = 200 * nanosPerMillisecond
        scenario.network.latency = .uniform(min: nanosPerMillisecond, max: 3 * nanosPerMillisecond)
        for spec in Self.layerBehaviours {
            scenario.byzantine = [spec]
            let outcome = try ScenarioRun.execute(scenario, trace: .off)
            #expect(outcome.safety == .holds, "\(kind) \(spec.behaviour) \(spec.mutation ?? ""): \(outcome.checks.violations)")
        }
    }
}
