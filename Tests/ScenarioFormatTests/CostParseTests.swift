import Foundation
import ScenarioFormat
import Testing

private let header = "name: x\nreplicas: 4\n"

/// `costs:`, `hosts:` and `network.bandwidth` (issue 15).
@Suite("cost tables")
struct CostParseTests {
    @Test("costs: an inline table parses into picoseconds, by type and by scheme")
    func inlineTable() throws {
        // Proves the units (ps, ns, us, fractions) and the per-type and per-scheme forms.
        let s = try ScenarioLoader.parse(header + """
        costs:
          message: {default: 2us, PRE-PREPARE: 5.5us}
          byte: 0.4ns
          send: 3us
          timer: 1us
          sign: {ed25519: 20us, fast: 100ns}
          verify: 50us
          execute: 300ps
          sync: 90us
          sync_cpu: 50us
          handoff: 36us
          wakeup: 34us
        network: {bandwidth: 25Mbit/s}
        hosts:
          - {cores: 2, replicas: [0, 1], clients: all}
        """, file: "s.yaml")
        let c = try #require(s.costs)
        #expect(c.messageDefault == 2_000_000)
        #expect(c.message("PRE-PREPARE") == 5_500_000)
        #expect(c.message("COMMIT") == 2_000_000)
        #expect(c.byte == 400)
        #expect(c.sign == .init(ed25519: 20_000_000, fast: 100_000, blake2b: 0))
        #expect(c.verify == .init(all: 50_000_000))
        #expect(c.execute == 300)
        #expect(c.sync == 90_000_000 && c.syncCPU == 50_000_000 && c.handoff == 36_000_000 && c.wakeup == 34_000_000)
        // The encoder writes the table back and it parses to the same values (a profile file's round trip).
        let again = try ScenarioLoader.parse(header + "costs:\n" + ScenarioLoader.encodeCosts(c).map { "  " + $0 }.joined(separator: "\n") + "\n",
                                             file: "t.yaml")
        #expect(again.costs == c)
        #expect(s.network.bandwidth == 25_000_000)
        #expect(s.hosts == [HostSpec(cores: 2, replicas: [0, 1], allClients: true)])
    }

    @Test("costs: bad values get positioned errors")
    func errors() {
        // Proves each kind of bad value points at its node: negative, out of range, unknown type,
        // bad unit, zero cores, a replica on two hosts.
        #expect(messages(header + "costs: {send: -3us}\n") == ["s.yaml:3:15: send must not be negative, got '-3us'"])
        #expect(messages(header + "costs: {send: 2s}\n") == ["s.yaml:3:15: send must be at most 1s of CPU time, got '2s'"])
        #expect(messages(header + "costs: {message: {PREPAER: 1us}}\n").first?.hasPrefix("s.yaml:3:19: unknown key 'PREPAER' (did you mean 'PREPARE'?)") == true)
        #expect(messages(header + "costs: {byte: fast}\n").first?.hasPrefix("s.yaml:3:15: expected a cost for byte") == true)
        #expect(messages(header + "network: {bandwidth: 25}\n").first?.hasPrefix("s.yaml:3:22: expected a bandwidth with a unit") == true)
        #expect(messages(header + "network: {bandwidth: 25Mbit/h}\n").first?.hasPrefix("s.yaml:3:22: expected a bandwidth") == true)
        #expect(messages(header + "network: {bandwidth: 0.5bit/s}\n") == ["s.yaml:3:22: bandwidth must be between 1kbit/s and 1000Gbit/s, got '0.5bit/s'"])
        #expect(messages(header + "hosts: [{cores: 0}]\n") == ["s.yaml:3:17: cores must be between 1 and 1024, got 0"])
        #expect(messages(header + "hosts: [{cores: 1, replicas: [0]}, {cores: 1, replicas: [0]}]\n")
            == ["s.yaml:3:58: replica 0 is already placed on another host"])
        #expect(messages(header + "costs: {sign: {rsa: 1us}}\n").first?.contains("unknown key 'rsa'") == true)
        #expect(messages(header + "costs: {wakeup: -1us}\n") == ["s.yaml:3:17: wakeup must not be negative, got '-1us'"])
        #expect(messages(header + "costs: {handoff: 5s}\n") == ["s.yaml:3:18: handoff must be at most 1s of CPU time, got '5s'"])
    }

    @Test("costs: a profile file is read relative to the scenario, and its errors name the profile")
    func profileFile() throws {
        // Proves `costs: PATH` loads a calibrate-style profile, and that a bad profile is reported.
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("bftsim-costs-\(getpid())")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        try "message: {default: 1us}\nverify: {ed25519: 40us}\n".write(to: dir.appendingPathComponent("p.yaml"), atomically: true, encoding: .utf8)
        try "message: {default: -1us}\n".write(to: dir.appendingPathComponent("bad.yaml"), atomically: true, encoding: .utf8)
        let file = dir.appendingPathComponent("s.yaml").path
        let s = try ScenarioLoader.parse(header + "costs: p.yaml\n", file: file)
        #expect(s.costs?.verify.ed25519 == 40_000_000)
        #expect(throws: ScenarioErrors.self) { try ScenarioLoader.parse(header + "costs: bad.yaml\n", file: file) }
        #expect(throws: ScenarioErrors.self) { try ScenarioLoader.parse(header + "costs: missing.yaml\n", file: file) }
    }

    @Test("costs: a scenario with costs, bandwidth and hosts encodes and parses back equal")
    func roundTrip() throws {
        // Proves the encoder writes the new keys so saved scenarios keep their cost model.
        let s = try ScenarioLoader.parse(header + "costs: {message: {default: 2us, VOTE: 3us}, byte: 0.5ns, verify: {ed25519: 45us}}\n"
                                         + "network: {bandwidth: 1Gbit/s}\nhosts: [{cores: 2, replicas: [0, 1, 2, 3]}]\n", file: "s.yaml")
        let again = try ScenarioLoader.parse(ScenarioLoader.encodeYAML(s), file: "again.yaml")
        #expect(again == s)
    }
}
