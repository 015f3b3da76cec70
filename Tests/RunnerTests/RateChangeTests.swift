import BFTCore
import Runner
import ScenarioFormat
import Testing

/// Open-loop load that changes during the run (`workload.rate_changes`, issue 18's "load rising and
/// falling tenfold").
@Suite("open-loop rate changes")
struct RateChangeTests {
    static func scenario(until: String) throws -> Scenario {
        try ScenarioLoader.parse("""
        name: swing
        protocol: pbft
        replicas: 4
        seed: 3
        crypto: fast
        workload: {clients: 8, mode: open, rate: 100, requests_per_client: unbounded,
                   rate_changes: [{at: 1s, rate: 1000}, {at: 2s, rate: 100}]}
        parameters: {batch_delay_max: 1ms}
        stop: {time_limit: \(until), until_clients_done: false}
        """, file: "swing.yaml")
    }

    func issued(until: String) throws -> Int {
        try ScenarioRun.execute(try Self.scenario(until: until), driver: driver(for: .pbft)).checks.issuedRequests
    }

    @Test("requests arrive at 100/s, then 1000/s from 1 s, then 100/s from 2 s: each phase issues about rate × 1 s")
    func arrivalsFollowTheRate() throws {
        // Runs are deterministic, so a shorter run is a prefix of a longer one and differences count one phase.
        let first = try issued(until: "1s"), second = try issued(until: "2s") - first, third = try issued(until: "3s") - first - second
        #expect((70...130).contains(first), "phase 1: \(first)")
        #expect((850...1150).contains(second), "phase 2: \(second)")
        #expect((70...130).contains(third), "phase 3: \(third)")
    }

    @Test("a rate of 0 pauses arrivals until the next change")
    func zeroPauses() throws {
        var s = try Self.scenario(until: "3s")
        s.workload.rateChanges = [.init(at: 1 * nanosPerSecond, rate: 0), .init(at: 2 * nanosPerSecond, rate: 100)]
        let paused = try ScenarioRun.execute(s, driver: driver(for: .pbft)).checks.issuedRequests
        #expect((140...260).contains(paused), "two active seconds at 100/s: \(paused)")
        s.workload.rateChanges = [.init(at: 1 * nanosPerSecond, rate: 0)]
        let stopped = try ScenarioRun.execute(s, driver: driver(for: .pbft)).checks.issuedRequests
        #expect((70...130).contains(stopped), "one active second: \(stopped)")
    }

    @Test("bftsim client --rate-change: checked before any connection (open loop only, times increasing, AT=RATE)")
    func liveClientOptions() throws {
        let base = ["client", "--config", "/nonexistent/cluster.json"]
        let closed = try Paths.runCLI(base + ["--rate-change", "1s=5"])
        #expect(closed.status == 3)
        #expect(closed.err.contains("--rate-change needs an open loop"), "\(closed.err)")
        let backwards = try Paths.runCLI(base + ["--rate", "10", "--rate-change", "2s=5", "--rate-change", "1s=50"])
        #expect(backwards.status == 3)
        #expect(backwards.err.contains("--rate-change #2 '1s=50': times must increase"), "\(backwards.err)")
        let malformed = try Paths.runCLI(base + ["--rate", "10", "--rate-change", "soon"])
        #expect(malformed.err.contains("expected AT=RATE"), "\(malformed.err)")
    }
}
