import Foundation
import ScenarioFormat
import Testing

/// A valid header every case builds on (lines 1–2).
private let header = "name: x\nreplicas: 4\n"

/// Regression tests for issue 13's scenario-input defects: each input below was accepted by the parser
/// and then trapped in a replica's precondition, overflowed deadline arithmetic, never finished, or
/// hung the YAML library. Each must now be a positioned error.
@Suite("scenario hardening")
struct HardeningTests {
    @Test("limits the replicas enforce are positioned errors: batch size, watermark window, checkpoint interval")
    func replicaLimits() {
        #expect(messages(header + "parameters: {batch_size_max: 65536}\n")
            == ["s.yaml:3:30: batch_size_max must be between 1 and 4096, got 65536"])
        #expect(messages(header + "parameters:\n  watermark_window: 2147483648\n")
            == ["s.yaml:4:21: watermark_window must be at most 65536 (the VIEW-CHANGE and NEW-VIEW wire limit), got 2147483648"])
        #expect(messages(header + "parameters: {checkpoint_interval: 131072, watermark_window: 131072}\n").first?
            .hasPrefix("s.yaml:3:35: checkpoint_interval must be between 1 and 65536") == true)
        #expect(messages("name: x\nreplicas: 1025\n") == ["s.yaml:2:11: replicas must be between 1 and 1024, got 1025"])
    }

    @Test("an instant past the simulated-time limit is an error, not an overflow of the liveness deadline")
    func hugeInstant() {
        #expect(messages(header + "timeline:\n  - {at: 9223372036854775807, crash: 1}\n")
            == ["s.yaml:4:10: at must be at most 1000000s of simulated time, got '9223372036854775807'"])
        #expect(messages(header + "stop: {time_limit: 300000h}\n")
            == ["s.yaml:3:20: time_limit must be at most 1000000s of simulated time, got '300000h'"])
    }

    @Test("timeouts and rates that make a run meaningless are rejected with the sensible range")
    func meaninglessTimersAndRates() {
        #expect(messages(header + "parameters: {view_change_timeout: 1ns}\n")
            == ["s.yaml:3:35: view_change_timeout must be between 1ms and 1h, got '1ns'"])
        #expect(messages(header + "workload: {retry_timeout: 1ns}\n")
            == ["s.yaml:3:27: retry_timeout must be between 1ms and 1h, got '1ns'"])
        #expect(messages(header + "workload: {mode: open, rate: 1e12}\n")
            == ["s.yaml:3:30: rate must be in (0, 1000000] requests per second over all clients, got 1000000000000.0"])
        // The bounds themselves are fine.
        #expect(messages(header + "parameters: {view_change_timeout: 1ms, view_change_timeout_max: 1h}\n").isEmpty)
    }

    @Test("an alias used as a mapping key is rejected at the alias, before the YAML library hashes it",
          .timeLimit(.minutes(1)))
    func aliasAsKey() {
        // 658 bytes in the report: a doubling alias tree used as a key hung `validate` (this one stays
        // under the expansion limit, so the key rule itself is what rejects it).
        var yaml = "a0: &a0 [x, x]\n"
        for i in 1...12 { yaml += "a\(i): &a\(i) [*a\(i - 1), *a\(i - 1)]\n" }
        yaml += "? *a12\n: 1\n"
        let d = diagnostics(yaml)
        #expect(d.count == 1)
        #expect(d.first.map { "\($0.line):\($0.column)" } == "14:3")
        #expect(d.first?.message == "the alias *a12 is used as a mapping key; scenario keys are plain names")
    }

    @Test("aliases that expand past the node limit are rejected at the alias", .timeLimit(.minutes(1)))
    func billionLaughs() {
        var yaml = header + "description: &l0 [lol, lol, lol, lol, lol, lol, lol, lol, lol, lol]\n"
        for i in 1...9 { yaml += "l\(i): &l\(i) [" + Array(repeating: "*l\(i - 1)", count: 10).joined(separator: ", ") + "]\n" }
        let d = diagnostics(yaml)
        #expect(d.count == 1)
        #expect(d.first?.message.hasPrefix("aliases expand this document past 100000 nodes") == true)
        #expect((d.first?.line ?? 0) >= 4)
        // Anchors used as intended still work.
        let reuse = header + "network:\n  latency: &lat {distribution: uniform, min: 1ms, max: 3ms}\n"
            + "timeline:\n  - {at: 1s, set_latency: {latency: *lat}}\n  - {at: 2s, set_latency: {latency: *lat}}\n"
        #expect(diagnostics(reuse).isEmpty)
    }

    @Test("a file with thousands of bad elements lists the first 100 problems, then a count")
    func diagnosticsCap() {
        let items = Array(repeating: "  - {at: 1s, crash: 99}", count: 3_000).joined(separator: "\n")
        let d = diagnostics(header + "timeline:\n" + items + "\n")
        #expect(d.count == 101)
        #expect(d.last?.message == "... and 2900 more problems (only the first 100 are listed)")
    }
}
