import BFTCore
import Foundation
import Runner
import ScenarioFormat
import Testing

@Suite("adaptive runs")
struct AdaptiveRunTests {
    static let text = """
        name: adaptive-small
        protocol: pbft
        replicas: 4
        seed: 3
        network: {latency: 1ms}
        workload: {clients: 8, requests_per_client: 40}
        parameters:
          checkpoint_interval: 8
          watermark_window: 16
          adaptive: {epoch: 4, batch_size_max: [2, 8], batch_delay_max: [0ms, 1ms], alpha: 2}
        timeline:
          - {at: 100ms, set_latency: {latency: 5ms}}
          - {at: 300ms, set_latency: {latency: 1ms}}
        stop: {time_limit: 5s}
        """

    @Test("adaptive: a small PBFT scenario with the controller on keeps safety and liveness, and its arm changes")
    func smallScenario() throws {
        // Proves the controller runs end to end in the simulator: every request completes, the checkers
        // hold, the arm recomputed from the committed log changes at least once, and a replay is identical.
        let scenario = try ScenarioLoader.parse(Self.text, file: "adaptive-small.yaml")
        let outcome = try ScenarioRun.execute(scenario)
        #expect(outcome.safety == .holds, "\(outcome.checks.violations)")
        #expect(outcome.liveness == .holds, "\(outcome.checks.violations)")
        #expect(outcome.checks.completedRequests == 8 * 40)
        let arms = try #require(outcome.adaptiveArms)
        #expect(arms.count >= 4)
        #expect(Set(arms).count > 1, "arms \(arms)")
        print("adaptive-small arms \(arms)")
        let again = try ScenarioRun.execute(scenario)
        #expect(again.simulation.traceHash == outcome.simulation.traceHash)
        #expect(again.adaptiveArms == arms)
        // The same scenario without adaptive: records no arms, and runs differently.
        var fixed = scenario
        fixed.parameters.adaptive = nil
        let staticOutcome = try ScenarioRun.execute(fixed)
        #expect(staticOutcome.adaptiveArms == nil)
        #expect(staticOutcome.simulation.traceHash != outcome.simulation.traceHash)
    }

    @Test("adaptive: the encoder writes parameters.adaptive so a fuzz failure replays with the controller on")
    func encoderRoundTrip() throws {
        // Proves the scenario encoder (used for fuzz failures and tune snippets) keeps the adaptive key.
        let scenario = try ScenarioLoader.parse(Self.text, file: "adaptive-small.yaml")
        let again = try ScenarioLoader.parse(ScenarioLoader.encodeYAML(scenario), file: "again.yaml")
        #expect(again.parameters.adaptive == scenario.parameters.adaptive)
    }

    @Test("adaptive: each shipped dynamic scenario keeps safety and liveness with the controller on, and its arm changes",
          arguments: ["pbft-latency-spike", "pbft-lossy-phase", "pbft-silent-primary", "pbft-load-swing"])
    func shippedScenarios(name: String) throws {
        let path = Paths.root.appendingPathComponent("Scenarios/adaptive/\(name).yaml").path
        let scenario = try ScenarioLoader.load(path: path)
        #expect(scenario.parameters.adaptive != nil)
        let outcome = try ScenarioRun.execute(scenario, trace: .off)
        #expect(outcome.safety == .holds, "\(outcome.checks.violations)")
        #expect(outcome.liveness == .holds, "\(outcome.checks.violations)")
        let arms = try #require(outcome.adaptiveArms)
        #expect(Set(arms).count > 1, "arms \(arms)")
        if name == "pbft-silent-primary" {
            // The silent second forces a view change; the run recovers and keeps committing.
            #expect(outcome.highestView >= 1)
            #expect(outcome.checks.completedRequests > 3_000)
        }
        if name == "pbft-load-swing" {
            // The open loop offers 500/s, 5000/s and 500/s for a second each: about 6,000 requests, all served.
            #expect((5_400...6_600).contains(outcome.checks.issuedRequests), "issued \(outcome.checks.issuedRequests)")
            #expect(outcome.checks.completedRequests * 100 >= outcome.checks.issuedRequests * 95)
        }
    }
}
