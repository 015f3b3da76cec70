import ScenarioFormat
import Testing

/// A valid header every error case builds on (lines 1–2).
private let header = "name: x\nreplicas: 4\n"

@Suite("scenario errors")
struct ErrorTests {
    @Test("errors: a misspelled key points at the key and suggests the valid one")
    func unknownKeySuggestion() {
        // Proves the exact form of STYLE.md's actionable error, and that no redundant "missing" error follows.
        #expect(messages("name: x\nreplicsa: 4\n") == ["s.yaml:2:1: unknown key 'replicsa' (did you mean 'replicas'?)"])
        #expect(messages(header + "network:\n  latnecy: 2ms\n") == ["s.yaml:4:3: unknown key 'latnecy' (did you mean 'latency'?)"])
        #expect(messages(header + "stop: {timeLimit: 3s}\n") == ["s.yaml:3:8: unknown key 'timeLimit' (did you mean 'time_limit'?)"])
    }

    @Test("errors: an unknown key with no close match lists the valid keys")
    func unknownKeyList() {
        // Proves a reader is told what is allowed when no suggestion fits.
        #expect(messages(header + "expect: {zzz: holds}\n")
            == ["s.yaml:3:10: unknown key 'zzz' (expected one of: safety, liveness)"])
    }

    @Test("errors: wrong types name what was expected and what was found")
    func wrongTypes() {
        // Proves type errors point at the value, for integers, strings, booleans, mappings and lists.
        #expect(messages("name: x\nreplicas: abc\n") == ["s.yaml:2:11: expected an integer, got 'abc'"])
        #expect(messages("{\"name\": \"x\", \"replicas\": \"4\"}") == ["s.yaml:1:27: expected an integer, got the string \"4\""])
        #expect(messages(header + "stop: {until_clients_done: yes}\n") == ["s.yaml:3:28: expected true or false, got 'yes'"])
        #expect(messages(header + "network: 5\n") == ["s.yaml:3:10: expected a mapping for 'network', got '5'"])
        #expect(messages(header + "timeline: {at: 1s}\n") == ["s.yaml:3:11: expected a list for 'timeline', got a mapping"])
        #expect(messages(header + "network: {loss: lots}\n") == ["s.yaml:3:17: expected a number, got 'lots'"])
        #expect(messages(header + "seed: -1\n") == ["s.yaml:3:7: expected a non-negative integer below 2^64, got '-1'"])
        #expect(messages(header + "network: {latency: fast}\n")
            == ["s.yaml:3:20: expected a duration for latency (like 150ms, 2s, 1.5s, 500us; plain integers are nanoseconds), got 'fast'"])
    }

    @Test("errors: missing required keys point at the enclosing mapping")
    func missingKeys() {
        // Proves name and replicas are required, and nested required keys too.
        #expect(messages("replicas: 4\n") == ["s.yaml:1:1: missing required key 'name'"])
        #expect(messages("name: x\n") == ["s.yaml:1:1: missing required key 'replicas'"])
        #expect(messages(header + "timeline:\n  - {crash: 1}\n") == ["s.yaml:4:5: missing required key 'at' in a timeline event"])
        #expect(messages(header + "network: {latency: {distribution: uniform, min: 1ms}}\n")
            == ["s.yaml:3:20: missing required key 'max' in a uniform latency"])
    }

    @Test("errors: script NEW-VIEW steps need view_changes, and only they take it")
    func scriptNewViewSteps() throws {
        // Proves the NEW-VIEW step kind (Specs/README.md trail replays) parses and its misuse gets a positioned error.
        let byz = header + "protocol: pbft\nbyzantine:\n  - replica: 1\n    behaviour: script\n    script:\n"
        let ok = try ScenarioLoader.parse(byz + "      - {at: 1s, send: NEW-VIEW, view: 1, value: 2, to: [2], view_changes: [1, 2]}\n"
            + "      - {at: 1s, send: VIEW-CHANGE, view: 1, value: 0, to: [0]}\n", file: "s.yaml")
        #expect(ok.byzantine.first?.script?.first?.viewChanges == [1, 2])
        #expect(ok.byzantine.first?.script?.last?.send == "VIEW-CHANGE")
        #expect(messages(byz + "      - {at: 1s, send: NEW-VIEW, view: 1, value: 0, to: [2]}\n")
            == ["s.yaml:8:24: a NEW-VIEW step needs 'view_changes' (the replicas whose VIEW-CHANGEs it carries)"])
        #expect(messages(byz + "      - {at: 1s, send: PREPARE, view: 1, value: 0, to: [2], view_changes: [1]}\n")
            == ["s.yaml:8:61: 'view_changes' applies only to a NEW-VIEW step"])
    }

    @Test("errors: replicas and f out of range")
    func replicasAndF() {
        // Proves the n bounds and the n >= 3f+1 rule, with the message from the issue.
        #expect(messages("name: x\nreplicas: 0\n") == ["s.yaml:2:11: replicas must be between 1 and 1024, got 0"])
        #expect(messages("name: x\nreplicas: 1025\n") == ["s.yaml:2:11: replicas must be between 1 and 1024, got 1025"])
        #expect(messages(header + "f: 2\n") == ["s.yaml:3:4: f = 2 needs at least 7 replicas, got 4"])
        #expect(messages(header + "f: -1\n") == ["s.yaml:3:4: f must be at least 0, got -1"])
        #expect(messages(header + "f: 99999999999\n") == ["s.yaml:3:4: f = 99999999999 needs at least 299999999998 replicas, got 4"])
    }

    @Test("errors: probabilities outside [0, 1]")
    func probabilities() {
        // Proves loss, duplication and ratios are range-checked.
        #expect(messages(header + "network: {loss: 1.5}\n") == ["s.yaml:3:17: loss must be a probability in [0, 1], got 1.5"])
        #expect(messages(header + "network: {duplication: -0.1}\n")
            == ["s.yaml:3:24: duplication must be a probability in [0, 1], got -0.1"])
        #expect(messages(header + "timeline:\n  - {at: 1s, set_loss: {loss: 2}}\n")
            == ["s.yaml:4:31: loss must be a probability in [0, 1], got 2"])
    }

    @Test("errors: replica ids beyond n in timeline, links and byzantine")
    func replicaIDs() {
        // Proves every place a replica id appears is checked against n.
        #expect(messages(header + "timeline:\n  - {at: 1s, crash: 4}\n") == ["s.yaml:4:21: replica 4 does not exist: replicas are 0...3"])
        #expect(messages(header + "timeline:\n  - {at: 1s, partition: [[0, 1], [2, 7]]}\n")
            == ["s.yaml:4:38: replica 7 does not exist: replicas are 0...3"])
        #expect(messages(header + "network:\n  links:\n    - {from: 0, to: 9}\n") == ["s.yaml:5:21: replica 9 does not exist: replicas are 0...3"])
        #expect(messages(header + "byzantine:\n  - {replica: 5, behaviour: equivocate}\n")
            == ["s.yaml:4:15: replica 5 does not exist: replicas are 0...3"])
    }

    @Test("errors: negative durations and bad protocol parameters")
    func durationsAndParameters() {
        // Proves negative durations, checkpoint_interval < 1 and a watermark window that is not a multiple of K.
        #expect(messages(header + "network: {jitter: -5ms}\n") == ["s.yaml:3:19: jitter must not be negative, got '-5ms'"])
        #expect(messages(header + "timeline:\n  - {at: -1s, heal: true}\n") == ["s.yaml:4:10: at must not be negative, got '-1s'"])
        #expect(messages(header + "parameters: {checkpoint_interval: 0}\n")
            == ["s.yaml:3:35: checkpoint_interval must be between 1 and 65536, got 0"])
        #expect(messages(header + "parameters: {checkpoint_interval: 32, watermark_window: 50}\n")
            == ["s.yaml:3:57: watermark_window must be a positive multiple of checkpoint_interval (32), got 50"])
        #expect(messages(header + "parameters: {watermark_window: 0}\n")
            == ["s.yaml:3:32: watermark_window must be a positive multiple of checkpoint_interval (32), got 0"])
    }

    @Test("errors: workload clients and mode-specific keys")
    func workload() {
        // Proves clients >= 1 and that rate/think_time belong to their mode.
        #expect(messages(header + "workload:\n  clients: 0\n") == ["s.yaml:4:12: clients must be between 1 and 100000, got 0"])
        #expect(messages(header + "workload: {mode: open}\n") == ["s.yaml:3:11: mode: open needs 'rate' (requests per second over all clients)"])
        #expect(messages(header + "workload: {rate: 5}\n") == ["s.yaml:3:12: rate applies only to mode: open (add 'mode: open')"])
        #expect(messages(header + "workload: {requests_per_client: lots}\n")
            == ["s.yaml:3:33: expected an integer or 'unbounded' for requests_per_client, got 'lots'"])
    }

    @Test("errors: rate changes belong to an open loop, in increasing time, with rates in range")
    func rateChanges() {
        #expect(messages(header + "workload: {rate_changes: [{at: 1s, rate: 5}]}\n")
            == ["s.yaml:3:12: rate_changes applies only to mode: open (add 'mode: open')"])
        let open = header + "workload:\n  mode: open\n  rate: 100\n  rate_changes:\n"
        #expect(messages(open + "    - {at: 2s, rate: 1000}\n    - {at: 1s, rate: 100}\n")
            == ["s.yaml:8:12: rate changes must be in strictly increasing time: 1s is not after 2s"])
        #expect(messages(open + "    - {at: 2s, rate: -1}\n") == ["s.yaml:7:22: rate must be in [0, 1000000] requests per second over all clients, got -1.0"])
        #expect(messages(open + "    - {at: 2s}\n") == ["s.yaml:7:7: a rate change needs 'at' (a time) and 'rate' (requests per second over all clients)"])
        #expect(messages(open + "    - {at: 2s, rate: 5, until: 3s}\n").first?.contains("until") == true)
    }

    @Test("errors: duplicate keys point at the second occurrence")
    func duplicateKeys() {
        // Proves a repeated key is reported where the reader must delete it, naming the first.
        #expect(messages(header + "seed: 1\nseed: 2\n") == ["s.yaml:4:1: duplicate key 'seed' (first defined at 3:1)"])
        #expect(messages("name: x\r\nreplicas: 4\r\nseed: 1\r\nseed: 2\r\n") == ["s.yaml:4:1: duplicate key 'seed' (first defined at 3:1)"])
        #expect(messages(header + "stop: {time_limit: 1s, time_limit: 2s}\n")
            == ["s.yaml:3:24: duplicate key 'time_limit' (first defined at 3:8)"])
    }

    @Test("errors: YAML syntax errors become file:line:column diagnostics")
    func syntax() {
        // Proves Yams' scanner and parser errors keep their position.
        #expect(messages("name: x\nreplicas: [4\n")
            == ["s.yaml:3:1: invalid YAML: did not find expected ',' or ']' (while parsing a flow sequence that starts at 2:11)"])
        #expect(messages("name: x\n  replicas: 4\n") == ["s.yaml:2:11: invalid YAML: mapping values are not allowed in this context"])
        #expect(messages("") == ["s.yaml:1:1: the scenario is empty (it needs at least 'name' and 'replicas')"])
        #expect(messages("- a\n- b\n") == ["s.yaml:1:1: expected a mapping for the scenario, got a list"])
    }

    @Test("errors: unknown enumeration values suggest the closest valid value")
    func enumerations() {
        // Proves protocol, crypto, verdicts, distributions and Byzantine behaviours are validated by name.
        #expect(messages(header + "expect: {safety: hold}\ncrypto: ed2551\nprotocol: hotstuf\n") == [
            "s.yaml:3:18: unknown verdict 'hold' (did you mean 'holds'?)",
            "s.yaml:4:9: unknown crypto scheme 'ed2551' (did you mean 'ed25519'?)",
            "s.yaml:5:11: unknown protocol 'hotstuf' (did you mean 'hotstuff'?)",
        ])
        #expect(messages(header + "network: {latency: {distribution: unifrom, min: 1ms}}\n")
            == ["s.yaml:3:35: unknown distribution 'unifrom' (did you mean 'uniform'?)"])
        #expect(messages(header + "byzantine:\n  - {replica: 1, behaviour: equivocte}\n")
            == ["s.yaml:4:29: unknown behaviour 'equivocte' (did you mean 'equivocate'?)"])
    }

    @Test("errors: Byzantine entries, message faults and twins point at the offending node")
    func byzantineErrors() {
        // Proves the new sections report file:line:column diagnostics with suggestions.
        #expect(messages(header + "byzantine:\n  - {replica: 1, behaviour: omit}\n")
            == ["s.yaml:4:5: behaviour 'omit' needs 'targets'"])
        #expect(messages(header + "byzantine:\n  - {replica: 1, behaviour: mutate, mutation: view+2}\n")
            == ["s.yaml:4:47: unknown mutation 'view+2' (did you mean 'view+1'?)"])
        #expect(messages(header + "byzantine:\n  - {replica: 1, behaviour: equivocate, from: 1s}\n")
            == ["s.yaml:4:41: behaviour 'equivocate' applies to the whole run; remove 'from'/'until'"])
        #expect(messages(header + "timeline:\n  - {at: 1s, message_fault: {action: hold, type: VOTE}}\n")
            == ["s.yaml:4:29: a hold needs 'until' (when held messages are released)"])
        #expect(messages(header + "timeline:\n  - {at: 1s, message_fault: {action: drop, views: [5, 2]}}\n")
            == ["s.yaml:4:55: views needs low <= high, got [5, 2]"])
        #expect(messages(header + "twins: {replicas: [0], round_partitions: [[[0, 9]]]}\n")
            == ["s.yaml:3:48: node must be between 0 and 4, got 9"])
    }

    @Test("errors: timeline events need exactly one action")
    func timelineShape() {
        // Proves malformed events are all reported, each at its own position.
        let text = header + "timeline:\n  - {at: 1s}\n  - {at: 1s, crash: 1, heal: true}\n  - {at: 1s, set_latency: {from: 1, latency: 2ms}}\n"
            + "  - {at: 1s, partition: [[0, 1], [1, 2]]}\n  - {at: 1s, heal: false}\n"
        #expect(messages(text) == [
            "s.yaml:4:5: a timeline event needs one action: crash, partition, isolate, cut_link, heal, set_latency, set_loss, restart, storage_fault, message_fault",
            "s.yaml:5:24: a timeline event has one action, got 'crash' and 'heal' (write one event per action)",
            "s.yaml:6:27: set_latency needs both 'from' and 'to' (one directed link) or neither (every link)",
            "s.yaml:7:35: replica 1 is in more than one partition group",
            "s.yaml:8:20: heal takes 'true' (remove the event to not heal)",
        ])
    }

    @Test("errors: every problem in a file is reported, in source order")
    func allErrors() {
        // Proves the loader does not stop at the first problem.
        let text = "name: x\nreplicas: 4\nf: 3\nseed: abc\nnetwork: {loss: 2}\nworkload: {clients: 0}\nexpect: {liveness: maybe}\n"
        let d = diagnostics(text)
        #expect(d.map(\.line) == [3, 4, 5, 6, 7])
    }

    @Test("errors: an unreadable file is a diagnostic at 1:1")
    func unreadableFile() {
        // Proves load(path:) reports a missing file in the same form as parse errors.
        do {
            _ = try ScenarioLoader.load(path: "/nonexistent/scenario.yaml")
            Issue.record("expected an error")
        } catch {
            #expect(error.diagnostics.count == 1)
            #expect(error.diagnostics[0].description.hasPrefix("/nonexistent/scenario.yaml:1:1: cannot read the file"))
        }
    }
}
