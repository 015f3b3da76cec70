import BFTCore
import Foundation
import ScenarioFormat
import Testing

@Suite("scenario parsing")
struct ParseTests {
    @Test("parse: the full example with every key gives the expected model")
    func fullExample() throws {
        // Proves every key of the format maps onto the model field it documents.
        let scenario = try ScenarioLoader.parse(fullExampleYAML, file: "full.yaml")
        #expect(scenario == fullExampleModel)
    }

    @Test("parse: the JSON form gives the same model as the YAML form")
    func jsonForm() throws {
        // Proves JSON is accepted through the same parser with the same meaning.
        let scenario = try ScenarioLoader.parse(fullExampleJSON, file: "full.json")
        #expect(scenario == fullExampleModel)
    }

    @Test("parse: a .json file on disk loads")
    func jsonFileLoads() throws {
        // Proves load(path:) reads files and that the .json extension needs nothing special.
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("scenario-\(getpid()).json").path
        try fullExampleJSON.write(toFile: path, atomically: true, encoding: .utf8)
        defer { try? FileManager.default.removeItem(atPath: path) }
        let scenario = try ScenarioLoader.load(path: path)
        #expect(scenario == fullExampleModel)
    }

    @Test("parse: only name and replicas are required; everything else takes the model's defaults")
    func defaults() throws {
        // Proves the defaults documented in the README are the model's defaults.
        let scenario = try ScenarioLoader.parse("name: minimal\nreplicas: 7\n", file: "m.yaml")
        #expect(scenario == Scenario(name: "minimal", replicas: 7))
        #expect(scenario.f == 2)
    }

    @Test("parse: latency distributions, open workload and unbounded requests")
    func variants() throws {
        // Proves the alternative forms not in the full example.
        let text = """
        name: variants
        replicas: 4
        network:
          latency: {distribution: lognormal, median: 3ms, sigma: 0.5}
          links:
            - {from: 1, to: 0, latency: {distribution: exponential, mean: 3ms}}
            - {from: 1, to: 2, latency: {distribution: constant, value: 2ms}}
        workload: {mode: open, rate: 200, requests_per_client: unbounded}
        timeline:
          - {at: 0, set_loss: {from: 1, to: 2, loss: 1}}
        expect: {safety: holds, liveness: violated}
        """
        let s = try ScenarioLoader.parse(text, file: "v.yaml")
        #expect(s.network.latency == .lognormal(median: 3 * ms, sigma: 0.5))
        #expect(s.network.links[0].latency == .exponential(mean: 3 * ms))
        #expect(s.network.links[1].latency == .constant(2 * ms))
        #expect(s.workload.mode == .open(rate: 200))
        #expect(s.workload.requestsPerClient == nil)
        #expect(s.timeline == [TimelineEvent(at: 0, action: .setLoss(from: 1, to: 2, loss: 1))])
        #expect(s.expect == Expectations(safety: .holds, liveness: .violated))
        // A load that rises tenfold and falls back, read and written back unchanged.
        let swing = try ScenarioLoader.parse("""
        name: x
        replicas: 4
        workload: {mode: open, rate: 200, rate_changes: [{at: 10s, rate: 2000}, {at: 20s, rate: 200}]}
        """, file: "swing.yaml")
        #expect(swing.workload.rateChanges == [.init(at: 10 * nanosPerSecond, rate: 2000), .init(at: 20 * nanosPerSecond, rate: 200)])
        #expect(swing.workload.openRate(at: 0) == (200, 10 * nanosPerSecond))
        #expect(swing.workload.openRate(at: 15 * nanosPerSecond) == (2000, 20 * nanosPerSecond))
        #expect(swing.workload.openRate(at: 25 * nanosPerSecond).rate == 200)
        #expect(swing.workload.openRate(at: 25 * nanosPerSecond).until == nil)
        #expect(try ScenarioLoader.parse(ScenarioLoader.encodeYAML(swing), file: "again.yaml") == swing)
    }

    @Test("parse: a byte-order mark and CRLF line ends are accepted")
    func bomAndCRLF() throws {
        // Proves files saved by Windows editors load.
        let s = try ScenarioLoader.parse("\u{FEFF}name: x\r\nreplicas: 4\r\n", file: "w.yaml")
        #expect(s == Scenario(name: "x", replicas: 4))
    }

    @Test("parse: empty sections read as their defaults")
    func emptySections() throws {
        // Proves a section left empty (all its lines commented out) is not an error.
        let s = try ScenarioLoader.parse("name: x\nreplicas: 4\nnetwork:\n  # latency: 5ms\nworkload:\n", file: "e.yaml")
        #expect(s == Scenario(name: "x", replicas: 4))
    }
}
