import BFTCore
import Checkers
import HotStuff
import PBFT
import Runner
import ScenarioFormat
import Testing

@Suite("Test the tester")
struct TestTheTesterTests {
    /// n=4 with an equivocating primary (replica 0) and enough traffic for several sequence numbers.
    static func attack(seed: UInt64) -> Scenario {
        Scenario(name: "equivocation-attack", replicas: 4, seed: seed, crypto: .fast,
                 stop: StopCondition(timeLimit: 10 * nanosPerSecond, untilClientsDone: true),
                 network: NetworkSpec(latency: .uniform(min: 1_000_000, max: 3_000_000)),
                 workload: WorkloadSpec(clients: 2, requestsPerClient: 10),
                 byzantine: [ByzantineSpec(replica: 0, behaviour: "equivocate")])
    }

    @Test("a PBFT variant that counts COMMITs without matching digests is caught as an agreement violation")
    func brokenVariantCaught() throws {
        // The checker must report what the broken protocol does; if agreement checking broke, this fails.
        var caught = 0
        for seed in UInt64(1)...3 {
            let o = try ScenarioRun.execute(Self.attack(seed: seed), trace: .off, driver: PBFTDriver(mutations: [.commitWithoutDigestMatch]))
            if o.checks.violations.contains(where: { $0.kind == .agreement }) { caught += 1 }
        }
        #expect(caught >= 1)
    }

    @Test("honest PBFT under the same equivocation attack has no safety violation")
    func honestSafe() throws {
        for seed in UInt64(1)...3 {
            let o = try ScenarioRun.execute(Self.attack(seed: seed), trace: .off)
            #expect(o.safety == .holds, "seed \(seed): \(o.checks.violations.map(\.message))")
        }
    }
}

@Suite("Test the tester: HotStuff")
struct HotStuffTestTheTesterTests {
    static func load(_ name: String) throws -> Scenario {
        try ScenarioLoader.load(path: Paths.root.appendingPathComponent("Scenarios/hotstuff/\(name)").path)
    }

    @Test("chained HotStuff committing on parent links without consecutive views is caught under a view-gap fork",
          arguments: [false, true])
    func parentLinkCommitCaught(mutated: Bool) throws {
        // The same scenario: the mutant must produce a detected safety violation, the honest rules none.
        let s = try Self.load("fork-view-gap-honest.yaml")
        let o = try ScenarioRun.execute(s, trace: .off, driver: HotStuffDriver(variant: .chained, mutations: mutated ? [.commitOnParentLinks] : []))
        if mutated {
            #expect(o.safety == .violated)
            #expect(o.checks.violations.contains { $0.kind == .agreement })
        } else {
            #expect(o.safety == .holds, "\(o.checks.violations.map(\.message))")
        }
    }

    @Test("HotStuff voting without the lock check is caught under a fork below the lock (both variants)",
          arguments: [(HotStuffVariant.chained, false), (.chained, true), (.twoChain, false), (.twoChain, true)])
    func lockCheckCaught(variant: HotStuffVariant, mutated: Bool) throws {
        var s = try Self.load("fork-below-lock-honest.yaml")
        s.protocolKind = variant == .chained ? .hotstuff : .hotstuffTwoChain
        let o = try ScenarioRun.execute(s, trace: .off, driver: HotStuffDriver(variant: variant, mutations: mutated ? [.voteWithoutLockCheck] : []))
        if mutated {
            #expect(o.safety == .violated, "\(variant): mutant not caught")
        } else {
            #expect(o.safety == .holds, "\(variant): \(o.checks.violations.map(\.message))")
        }
    }
}
