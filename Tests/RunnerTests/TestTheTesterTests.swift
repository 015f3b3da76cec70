import BFTCore
import Checkers
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
