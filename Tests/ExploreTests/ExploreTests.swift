import BFTCore
import Checkers
import Explore
import Foundation
import Fuzzing
import Runner
import ScenarioFormat
import Testing

/// The shipped exploration scenarios, found from this file's location in the repository.
func exploreScenario(_ name: String) throws -> Scenario {
    let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    return try ScenarioLoader.load(path: root.appendingPathComponent("Scenarios/explore/\(name).yaml").path)
}

func explore(_ scenario: Scenario, depth: Int, mutant: TestMutant? = nil, configure: (inout ExploreOptions) -> Void = { _ in },
             fingerprints: Bool = false) throws -> ExploreResult {
    var options = ExploreOptions(depth: depth)
    options.timeouts = 0
    configure(&options)
    let explorer = try Explorer(scenario: scenario, driver: try TestMutant.driver(mutant, for: scenario.protocolKind), options: options)
    explorer.recordsFingerprints = fingerprints
    return explorer.run()
}

@Suite("explore")
struct ExploreTests {
    @Test("sleep sets prune transitions but reach exactly the states of the unreduced search, PBFT n=4 depth 7")
    func sleepSetsAreSound() throws {
        // Proves partial-order reduction loses no reachable state: the sets of fingerprints are equal.
        let scenario = try exploreScenario("pbft-n4-one-request")
        let full = try explore(scenario, depth: 7, configure: { $0.partialOrderReduction = false }, fingerprints: true)
        let reduced = try explore(scenario, depth: 7, fingerprints: true)
        #expect(full.stop == .exhausted && reduced.stop == .exhausted)
        #expect(reduced.fingerprints == full.fingerprints)
        #expect(reduced.stats.states == full.stats.states)
        #expect(reduced.stats.sleepPruned > 0)
        #expect(reduced.stats.transitions < full.stats.transitions)
    }

    @Test("state caching with protocol fingerprints reaches the states that input histories reach, merged, PBFT n=4 depth 6")
    func cachingMergesOnlyEqualStates() throws {
        // Without caching the search tree is explored in full; its leaves (by protocol fingerprint) are
        // the states the cached search reaches, so caching prunes nothing reachable.
        let scenario = try exploreScenario("pbft-n4-one-request")
        let tree = try explore(scenario, depth: 5, configure: { $0.stateHashing = false; $0.partialOrderReduction = false })
        let cached = try explore(scenario, depth: 5, fingerprints: true)
        let history = try explore(scenario, depth: 5, configure: { $0.protocolFingerprints = false }, fingerprints: true)
        #expect(cached.stats.states <= history.stats.states)
        #expect(history.stats.states <= tree.stats.states)
        #expect(cached.stats.hashHits > 0)
    }

    @Test("HotStuff replicas hash their own state: caching merges revisited states, chained and two-chain n=4 depth 6",
          arguments: ["hotstuff-n4-one-request", "hotstuff-two-chain-n4-one-request"])
    func hotStuffFingerprintsMerge(name: String) throws {
        // Proves HotStuffReplica's fingerprint makes state caching work for HotStuff (before, each replica
        // was identified by its input history and no two paths ever met: 0 hits), and that it merges only
        // what the unpruned search also reaches: no more states than with histories, and the same verdict.
        let scenario = try exploreScenario(name)
        let cached = try explore(scenario, depth: 6)
        let history = try explore(scenario, depth: 6, configure: { $0.protocolFingerprints = false })
        #expect(cached.stats.hashHits > 0)
        #expect(cached.stats.states < history.stats.states)
        #expect(cached.stop == history.stop)
        #expect(cached.violations.isEmpty && history.violations.isEmpty)
    }

    @Test("commit-without-digest-match under an equivocating primary: agreement violation found at n=4 within depth 13, replayed by the simulator")
    func mutantFoundAndReplayed() throws {
        // Proves the explorer finds a known bug and that its path is an ordinary scenario `bftsim run` replays.
        let scenario = try exploreScenario("pbft-n4-equivocating-primary")
        let result = try explore(scenario, depth: 13, mutant: .commitWithoutDigestMatch, configure: { $0.breadthFirst = true })
        #expect(result.stop == .violation)
        let found = try #require(result.violations.first)
        #expect(found.violation.kind == .agreement)
        #expect(found.steps.count <= 13)
        let file = ExploreReplay.scenario(scenario, steps: found.steps)
        // Through the text format, as `bftsim run FILE --mutant` reads it.
        let text = ScenarioLoader.encodeYAML(file)
        let reloaded = try ScenarioLoader.parse(text, file: "violation.yaml")
        #expect(reloaded.schedule == found.steps)
        let driver = try TestMutant.commitWithoutDigestMatch.driver(for: .pbft)
        #expect(ExploreReplay.safetyViolation(reloaded, driver: driver)?.kind == .agreement)
        // The honest protocol on the same schedule keeps agreement.
        #expect(ExploreReplay.safetyViolation(reloaded, driver: PBFTDriver()) == nil)
    }

    @Test("delay bounding: 0 delays is the one FIFO schedule; each extra delay explores strictly more and deeper, PBFT n=4")
    func delayBoundingGrows() throws {
        let scenario = try exploreScenario("pbft-n4-one-request")
        var previous: ExploreResult?
        for k in 0...2 {
            let result = try explore(scenario, depth: 200, configure: { $0.delays = k })
            #expect(result.stop == .exhausted)
            #expect(result.violations.isEmpty)
            #expect(result.completionWitness != nil)
            if k == 0 {
                // One path, no branching: the default schedule delivers in send order and completes the request.
                #expect(result.stats.transitions + 1 == result.stats.states)
                #expect(result.stats.delayPruned > 0)
            }
            if let previous {
                #expect(result.stats.states > previous.stats.states)
                #expect(result.stats.depthReached > previous.stats.depthReached)
            }
            previous = result
        }
        // Early timer firings (1 delay each) reach view changes: paths far beyond what exhaustive search covers.
        #expect(previous!.stats.depthReached > 50)
    }

    @Test("delay bounding finds a mutant on the default schedule and the path replays in the simulator")
    func delayBoundingFindsMutant() throws {
        let scenario = try exploreScenario("hotstuff-n4-fork-view-gap")
        let result = try explore(scenario, depth: 150, mutant: .commitOnParentLinks, configure: { $0.delays = 0 })
        #expect(result.stop == .violation)
        let found = try #require(result.violations.first)
        #expect(found.violation.kind == .chain)
        #expect(found.steps.count == 45)
        let driver = try TestMutant.commitOnParentLinks.driver(for: .hotstuff)
        #expect(ExploreReplay.safetyViolation(ExploreReplay.scenario(scenario, steps: found.steps), driver: driver)?.kind == .chain)
        // The honest replicas on the same bound: clean.
        let honest = try explore(scenario, depth: 150, configure: { $0.delays = 1 })
        #expect(honest.violations.isEmpty)
        #expect(honest.stop == .exhausted)
    }

    @Test("delay bounding reaches view changes, fetches and duplicated proposals: a Byzantine proposer or peer (forged NEW-VIEW, VIEW-CHANGE, batch or state; conflicting PRE-PREPAREs; re-proposed requests) breaks the mutant, the path replays, honest code is clean on the same bound",
          arguments: [
            MutantCase.bounded("hotstuff-n4-duplicating-leader", .executeTwice, delays: 0, .integrity),
            MutantCase.bounded("pbft-n4-null-new-view-primary", .acceptNewViewWithoutRecompute, delays: 2, .agreement),
            MutantCase.bounded("pbft-n4-short-new-view-primary", .newViewWithoutQuorum, delays: 1, .agreement),
            MutantCase.bounded("pbft-n4-forged-certificate-primary", .acceptUnverifiedViewChange, delays: 2, .agreement),
            MutantCase.bounded("pbft-n4-conflicting-double-voting-primary", .prepareWithoutDigestMatch, delays: 1, .agreement),
            MutantCase.bounded("pbft-n4-forged-batch-peer", .skipCommittedCertificateCheck, delays: 0, drops: 2, .agreement),
            MutantCase.bounded("pbft-n4-forged-state-peer", .skipStateDigestCheck, delays: 0, drops: 2, .agreement),
            MutantCase.bounded("pbft-n4-conflicting-primary-empty-view-change", .commitQuorumWeak, delays: 0, drops: 2, .agreement, honestToo: false),
          ])
    func delayBoundingFindsByzantineProposerMutant(_ c: MutantCase) throws {
        let (name, mutant, kind) = (c.scenario, c.mutant, c.kind)
        let scenario = try exploreScenario(name)
        let configure: (inout ExploreOptions) -> Void = { $0.delays = c.delays; $0.drops = c.drops }
        let broken = try explore(scenario, depth: 200, mutant: mutant, configure: configure)
        #expect(broken.stop == .violation)
        let found = try #require(broken.violations.first)
        #expect(found.violation.kind == kind)
        let driver = try mutant.driver(for: scenario.protocolKind)
        #expect(ExploreReplay.safetyViolation(ExploreReplay.scenario(scenario, steps: found.steps), driver: driver)?.kind == kind)
        // Each needs a view change or a fetch after lost COMMITs: beyond the exhaustive search's reach (depth 12–16).
        if scenario.protocolKind == .pbft { #expect(found.steps.count > 50) }
        guard c.honestToo else { return }
        let honest = try explore(scenario, depth: 200, configure: configure)
        #expect(honest.stop == .exhausted)
        #expect(honest.violations.isEmpty)
    }

    @Test("bounded liveness: under a silent or spamming replica no schedule of the bound completes for a liveness mutant, some does for honest code, and the simulator confirms the stalled ones",
          arguments: [("pbft-n4-silent-primary", TestMutant.noViewChangeTimer), ("hotstuff-n4-silent-leader", TestMutant.noVoteOnNewView),
                      ("pbft-n4-view-change-spammer", TestMutant.joinOnOneViewChange), ("hotstuff-n4-spammer", TestMutant.joinOnOneAnnouncement),
                      ("hotstuff-two-chain-n4-spammer", TestMutant.amplifyOnOneTimeout)])
    func boundedLivenessFindsMutant(name: String, mutant: TestMutant) throws {
        let scenario = try exploreScenario(name)
        let broken = try explore(scenario, depth: 200, mutant: mutant, configure: { $0.delays = 1 })
        #expect(broken.stop == .exhausted)
        #expect(broken.completionWitness == nil)
        let honest = try explore(scenario, depth: 200, configure: { $0.delays = 1 })
        #expect(honest.stop == .exhausted)
        #expect(honest.violations.isEmpty)
        let witness = try #require(honest.completionWitness)
        #expect(witness.count > 30)  // through a view change, or past the spammer's messages
        // The spammed mutants storm in the simulator (millions of view changes): replayed in release by
        // `bftsim explore --liveness`, too slow for a debug test. The stalled ones replay here.
        guard name.contains("silent") else { return }
        let driver = try mutant.driver(for: scenario.protocolKind)
        #expect(ExploreReplay.livenessViolation(scenario, driver: driver)?.kind == .liveness)
        #expect(ExploreReplay.livenessViolation(scenario, driver: try TestMutant.driver(nil, for: scenario.protocolKind)) == nil)
    }

    @Test("honest PBFT with an equivocating primary completes depth 13 without a violation, and some schedule commits")
    func honestCompletesBound() throws {
        let scenario = try exploreScenario("pbft-n4-equivocating-primary")
        let result = try explore(scenario, depth: 13, configure: { $0.breadthFirst = true })
        #expect(result.stop == .exhausted)
        #expect(result.violations.isEmpty)
        #expect(result.completionWitness != nil)
    }

    /// A mutant, the Byzantine scenario that exposes it, the bound and the violation the checkers report.
    struct MutantCase: Sendable, CustomTestStringConvertible {
        var mutant: TestMutant
        var scenario: String
        var depth: Int
        var breadthFirst: Bool
        var kind: ViolationKind
        /// Crash-restarts the explorer may schedule (`ExploreOptions.restarts`).
        var restarts = 0
        /// Delay bounding (`ExploreOptions.delays`) and lost messages (`drops`).
        var delays: Int? = nil
        var drops = 0
        /// Only these message types may be dropped (`ExploreOptions.dropTypes`).
        var dropTypes: [String]? = nil
        /// Also explore the honest protocol on the same bound (off where that takes minutes in a debug
        /// build; the README quotes the release run).
        var honestToo = true
        /// Liveness after faults judged against the scenario's liveness bound (`--liveness-bound`).
        var withinBound = false
        var testDescription: String {
            "\(mutant.rawValue) in \(scenario), depth \(depth) \(breadthFirst ? "BFS" : "DFS")" + (restarts > 0 ? ", \(restarts) restart(s)" : "")
                + (delays.map { ", \($0) delays" } ?? "") + (drops > 0 ? ", \(drops) drops" : "")
                + (dropTypes.map { " (\($0.joined(separator: ",")))" } ?? "")
        }

        /// A delay-bounded, depth-first case at depth 200.
        static func bounded(_ scenario: String, _ mutant: TestMutant, delays: Int, drops: Int = 0, dropTypes: [String]? = nil, restarts: Int = 0,
                            _ kind: ViolationKind, honestToo: Bool = true, withinBound: Bool = false) -> MutantCase {
            MutantCase(mutant: mutant, scenario: scenario, depth: 200, breadthFirst: false, kind: kind, restarts: restarts, delays: delays,
                       drops: drops, dropTypes: dropTypes, honestToo: honestToo, withinBound: withinBound)
        }
    }

    static let byzantineMutants: [MutantCase] = [
        MutantCase(mutant: .voteTwiceInView, scenario: "hotstuff-n4-conflicting-leader", depth: 4, breadthFirst: true, kind: .doubleVote),
        MutantCase(mutant: .skipRequestSignatureCheck, scenario: "pbft-n4-forged-request-primary", depth: 9, breadthFirst: true,
                   kind: .validity),
        MutantCase(mutant: .skipBatchDigestCheck, scenario: "pbft-n4-mutated-batch-primary", depth: 11, breadthFirst: true, kind: .agreement),
        MutantCase(mutant: .commitOnParentLinks, scenario: "hotstuff-n4-fork-view-gap", depth: 45, breadthFirst: false, kind: .chain),
        MutantCase(mutant: .voteWithoutLockCheck, scenario: "hotstuff-two-chain-n4-fork-below-lock", depth: 33, breadthFirst: false,
                   kind: .chain),
        // The vote leaves before the write that remembers it is synced; a restart in between forgets it,
        // and the conflicting proposal gets a second vote in the same view.
        MutantCase(mutant: .sendVoteBeforePersist, scenario: "hotstuff-n4-conflicting-leader", depth: 6, breadthFirst: true,
                   kind: .doubleVote, restarts: 1),
    ]

    @Test("mutants exposed by a Byzantine leader or primary are found at n=4 within a small bound, and the path replays",
          arguments: byzantineMutants)
    func byzantineMutantFound(_ c: MutantCase) throws {
        // Proves each mutant's broken rule is reachable by the explorer's schedules against the scenario's
        // Byzantine machine, and that the path it writes is a schedule the simulator replays to the same
        // violation with the mutant and to none with the honest rules.
        let scenario = try exploreScenario(c.scenario)
        let result = try explore(scenario, depth: c.depth, mutant: c.mutant, configure: {
            $0.breadthFirst = c.breadthFirst
            $0.restarts = c.restarts
        })
        #expect(result.stop == .violation)
        let found = try #require(result.violations.first)
        #expect(found.violation.kind == c.kind)
        #expect(found.steps.count <= c.depth)
        let file = try ScenarioLoader.parse(ScenarioLoader.encodeYAML(ExploreReplay.scenario(scenario, steps: found.steps)), file: "violation.yaml")
        #expect(ExploreReplay.safetyViolation(file, driver: try c.mutant.driver(for: scenario.protocolKind))?.kind == c.kind)
        #expect(ExploreReplay.safetyViolation(file, driver: try TestMutant.driver(nil, for: scenario.protocolKind)) == nil)
    }

    @Test("honest replicas against the conflicting leader, the forged-request and the mutated-batch primaries exhaust the mutants' bounds clean")
    func honestExhaustsByzantineBounds() throws {
        // Proves the violations above come from the mutants: the honest rules cover the same bounds.
        for c in Self.byzantineMutants where c.breadthFirst {
            let result = try explore(try exploreScenario(c.scenario), depth: c.depth, configure: {
                $0.breadthFirst = true
                $0.restarts = c.restarts
            })
            #expect(result.stop == .exhausted, "\(c.scenario)")
            #expect(result.violations.isEmpty, "\(c.scenario)")
        }
    }

    @Test("same scenario, bound and options give the same counts and the same first violation")
    func deterministic() throws {
        let scenario = try exploreScenario("pbft-n4-equivocating-primary")
        let a = try explore(scenario, depth: 13, mutant: .commitWithoutDigestMatch)
        let b = try explore(scenario, depth: 13, mutant: .commitWithoutDigestMatch)
        #expect(a.stats == b.stats)
        #expect(a.violations.first?.steps == b.violations.first?.steps)
        let c = try explore(try exploreScenario("pbft-n4-one-request"), depth: 8)
        let d = try explore(try exploreScenario("pbft-n4-one-request"), depth: 8)
        #expect(c.stats == d.stats)
    }

    @Test("schedule steps read back as written; a malformed step is an error with its position")
    func scheduleSyntax() throws {
        let steps: [ScheduleStep] = [.deliver(from: 4, to: 0, message: 0x00a1_b2c3_d4e5_f607), .drop(from: 1, to: 2, message: 42),
                                     .timer(node: 3, kind: 2, key: 0), .restart(node: 1), .gst]
        for step in steps { #expect(try ScheduleStep.parse(step.text(replicas: 4), replicas: 4).get() == step) }
        #expect(steps[0].text(replicas: 4) == "deliver c0 r0 00a1b2c3d4e5f607")
        #expect(steps[3].text(replicas: 4) == "restart r1")
        #expect(throws: ScheduleSyntaxError.self) { try ScheduleStep.parse("restart c0", replicas: 4).get() }
        let bad = "name: x\nreplicas: 4\nschedule:\n  - deliver r0 r9 00a1b2c3d4e5f607\n"
        #expect(throws: (any Error).self) { try ScenarioLoader.parse(bad, file: "bad.yaml") }
        #expect(throws: ScheduleSyntaxError.self) { try ScheduleStep.parse("gst now", replicas: 4).get() }
        // `gst` ends the adversary's part: a step after it is an error naming the line.
        let early = "name: x\nreplicas: 4\nschedule:\n  - gst\n  - restart r1\n"
        do {
            _ = try ScenarioLoader.parse(early, file: "early.yaml")
            Issue.record("a step after gst was accepted")
        } catch {
            #expect("\(error)".contains("early.yaml:4"))
            #expect("\(error)".contains("must be the last step"))
        }
    }

    @Test("a schedule that ends in gst runs on through the network model: the held request and timers go out, the request completes, liveness is judged from the gst step")
    func gstContinuesTheRun() throws {
        let scenario = try exploreScenario("pbft-n4-one-request")
        let driver = try TestMutant.driver(nil, for: .pbft)
        // Without gst the schedule holds everything: nothing is delivered, nothing completes.
        let held = try ScenarioRun.execute(ExploreReplay.scenario(scenario, steps: []), driver: driver)
        #expect(held.checks.completedRequests == 0)
        // With gst alone, the client's request and every reply go through the network: it completes.
        let run = try ScenarioRun.execute(ExploreReplay.scenario(scenario, steps: [.gst]), driver: driver)
        #expect(run.checks.completedRequests == 1)
        #expect(run.liveness == .holds)
        #expect(ScenarioRun.checkerConfig(for: ExploreReplay.scenario(scenario, steps: [.gst])).livenessFrom == ScheduleStep.spacing)
    }

    @Test("liveness after faults: two lost messages (or a restart) and then GST stall the mutant for good (no-timeout-amplification: past the liveness bound), never the honest protocol; the path replays through the simulator",
          arguments: [
            MutantCase.bounded("pbft-n4-silent-primary", .noViewChangeRetransmit, delays: 0, drops: 2, .liveness),
            MutantCase.bounded("hotstuff-n4-silent-leader", .enterViewOnLocalTimeout, delays: 0, drops: 2, .liveness),
            MutantCase.bounded("hotstuff-two-chain-n4-silent-leader", .noLaggardHelp, delays: 0, drops: 2, .liveness),
            MutantCase.bounded("hotstuff-two-chain-n4-silent-leader", .noTimeoutAmplification, delays: 0, drops: 2, .liveness, withinBound: true),
            MutantCase.bounded("pbft-n4-restart-behind-checkpoint", .noStateTransfer, delays: 0, restarts: 1, .liveness),
            MutantCase.bounded("hotstuff-two-chain-n4-lost-timeout", .noSyncAnswer, delays: 0, drops: 2, dropTypes: ["TIMEOUT"], .liveness,
                               withinBound: true),
          ])
    func livenessAfterFaultsFindsMutant(_ c: MutantCase) throws {
        let scenario = try exploreScenario(c.scenario)
        let configure: (inout ExploreOptions) -> Void = {
            $0.delays = c.delays; $0.drops = c.drops; $0.dropTypes = c.dropTypes; $0.restarts = c.restarts
            $0.livenessAfterFaults = c.withinBound ? .withinBound : .recovers
        }
        let broken = try explore(scenario, depth: 200, mutant: c.mutant, configure: configure)
        #expect(broken.stop == .violation)
        let found = try #require(broken.violations.first)
        #expect(found.violation.kind == .liveness)
        #expect(found.steps.last == .gst)
        #expect(found.steps.filter { if case .drop = $0 { return true } else { return false } }.count <= c.drops)
        let replayed = ExploreReplay.scenario(scenario, steps: found.steps)
        #expect(ExploreReplay.livenessAfterGST(replayed, driver: try c.mutant.driver(for: scenario.protocolKind), withinBound: c.withinBound)?.kind == .liveness)
        // The honest protocol recovers from the same faults.
        #expect(ExploreReplay.livenessAfterGST(replayed, driver: try TestMutant.driver(nil, for: scenario.protocolKind), withinBound: c.withinBound) == nil)
        if !c.withinBound {
            // A stall, not a late completion: the request never completes, so the bound-based verdict agrees.
            #expect(ExploreReplay.livenessAfterGST(replayed, driver: try c.mutant.driver(for: scenario.protocolKind), withinBound: true)?.kind == .liveness)
        } else {
            // Late only: the mutant does complete once GST has passed, so "recovers at all" does not flag it.
            #expect(ExploreReplay.livenessAfterGST(replayed, driver: try c.mutant.driver(for: scenario.protocolKind)) == nil)
        }
        #expect(broken.stats.livenessChecks > 0)
    }

    @Test("--drop-types narrows drops to the named message types: lost VIEW-CHANGEs alone find no-view-change-retransmit in far fewer states, lost requests and replies never do; an unknown type is refused")
    func dropTypesNarrowTheAdversary() throws {
        let scenario = try exploreScenario("pbft-n4-silent-primary")
        func run(_ types: [String]?) throws -> ExploreResult {
            try explore(scenario, depth: 200, mutant: .noViewChangeRetransmit, configure: {
                $0.delays = 0; $0.drops = 2; $0.dropTypes = types; $0.livenessAfterFaults = .recovers
            })
        }
        let viewChanges = try run(["VIEW-CHANGE"])
        #expect(viewChanges.violations.first?.violation.kind == .liveness)
        // Drops of any type find it after 19,715 states (livenessAfterFaultsFindsMutant; the count is deterministic).
        #expect(viewChanges.stats.states < 2_000, "\(viewChanges.stats.states)")
        // The filter really restricts: without lost VIEW-CHANGEs the mutant completes after GST.
        let clientTraffic = try run(["REQUEST", "REPLY"])
        #expect(clientTraffic.stop == .exhausted)
        #expect(clientTraffic.violations.isEmpty)
        var bad = ExploreOptions(depth: 5)
        bad.dropTypes = ["VIEWCHANGE"]
        #expect(throws: RunError.self) { try Explorer(scenario: scenario, driver: try TestMutant.driver(nil, for: .pbft), options: bad) }
        for malformed in ["VIEW-CHANGE:x", "VIEW-CHANGE:-1", "VIEW-CHANGE:1:2"] {
            bad.dropTypes = [malformed]
            #expect(throws: RunError.self) { try Explorer(scenario: scenario, driver: try TestMutant.driver(nil, for: .pbft), options: bad) }
        }
    }

    @Test("--drop-types TYPE:K caps that type's drops per path: REQUEST:0 explores what no drops do, REQUEST:1 never drops a second request and explores fewer states than REQUEST")
    func dropTypeCaps() throws {
        let scenario = try exploreScenario("hotstuff-two-chain-n4-lost-timeout")
        func run(drops: Int, _ types: [String]?) throws -> ExploreResult {
            try explore(scenario, depth: 200, configure: { $0.delays = 0; $0.drops = drops; $0.dropTypes = types })
        }
        let none = try run(drops: 0, nil), zero = try run(drops: 2, ["REQUEST:0"])
        #expect(zero.stats.states == none.stats.states)
        let one = try run(drops: 2, ["REQUEST:1"]), two = try run(drops: 2, ["REQUEST"])
        #expect(one.stop == .exhausted && two.stop == .exhausted)
        #expect(one.stats.states < two.stats.states, "\(one.stats.states) vs \(two.stats.states)")
        #expect(one.stats.states > none.stats.states)
    }

    @Test("liveness after faults: honest two-chain HotStuff and PBFT recover after every placement of a lost message (two: README, release build) and PBFT after any restart behind a stable checkpoint")
    func livenessAfterFaultsHonestClean() throws {
        for (name, drops, restarts, runs) in [("hotstuff-two-chain-n4-silent-leader", 1, 0, 50), ("pbft-n4-silent-primary", 1, 0, 100),
                                              ("pbft-n4-restart-behind-checkpoint", 0, 1, 400)] {
            let honest = try explore(try exploreScenario(name), depth: 200, configure: {
                $0.delays = 0; $0.drops = drops; $0.restarts = restarts; $0.livenessAfterFaults = .withinBound
            })
            #expect(honest.stop == .exhausted, "\(name)")
            #expect(honest.violations.isEmpty, "\(name): \(honest.violations.first.map { "\($0.violation)" } ?? "")")
            #expect(honest.stats.livenessChecks > runs, "\(name)")
        }
    }
}
