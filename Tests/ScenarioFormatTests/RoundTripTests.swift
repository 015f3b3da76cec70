import BFTCore
import ScenarioFormat
import Testing

/// SplitMix64: a tiny deterministic generator so the tests do not depend on the standard library's.
struct TestRNG {
    var state: UInt64
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
    mutating func below(_ n: Int) -> Int { Int(next() % UInt64(max(1, n))) }
    mutating func chance(_ percent: Int) -> Bool { below(100) < percent }
    mutating func pick<T>(_ items: [T]) -> T { items[below(items.count)] }
}

/// Random valid scenarios, to exercise the encoder beyond the hand-written example.
func randomScenario(_ rng: inout TestRNG) -> Scenario {
    let n = 1 + rng.below(16)
    func id() -> Int { rng.below(n) }
    func dur() -> Nanoseconds { rng.pick([0, 1, 999, 1_500_000_000, 2 * nanosPerMillisecond, 60 * nanosPerSecond, Nanoseconds(rng.below(1 << 30))]) }
    func prob() -> Double { rng.pick([0, 1, 0.5, 0.01, 1e-7, Double(rng.below(1000)) / 997]) }
    func latency() -> LatencyDistribution {
        switch rng.below(5) {
        case 0: return .constant(dur())
        case 1: let a = dur(); return .uniform(min: a, max: a + dur())
        case 2: return .normal(mean: dur(), stddev: dur())
        case 3: return .exponential(mean: dur())
        default: return .lognormal(median: dur(), sigma: prob() * 3)
        }
    }
    func text() -> String {
        rng.pick(["plain-name", "with: colon", "quote \" and \\ backslash", "line\nbreak\ttab", "", "null", "  spaces ",
                  "ünïcødé ✓", "# not a comment", "[brackets], {braces}", "123", "true", "- dash", "'single'"])
    }
    let name = text()
    var s = Scenario(name: name.isEmpty ? "n" : name, description: text(), replicas: n, f: rng.below(QuorumMath.maxFaulty(n: n) + 1),
                     seed: rng.next(), crypto: rng.pick(SignatureScheme.allCases))
    s.stop = StopCondition(timeLimit: 1 + dur(), untilClientsDone: rng.chance(50))
    s.network = NetworkSpec(latency: latency(), loss: prob(), duplication: prob(), jitter: dur(), links: [], gst: dur(),
                            delayMaxAfterGST: 1 + dur())
    if n > 1 {
        for _ in 0..<rng.below(3) {
            let from = id(); var to = id(); if to == from { to = (from + 1) % n }
            s.network.links.append(LinkSpec(from: from, to: to, latency: rng.chance(50) ? latency() : nil, loss: rng.chance(50) ? prob() : nil))
        }
    }
    // Timeouts lie in ProtocolLimits.timeoutMin...timeoutMax.
    let retry = nanosPerMillisecond + dur()
    s.workload = WorkloadSpec(clients: 1 + rng.below(50), mode: rng.chance(50) ? .closed(thinkTime: dur()) : .open(rate: 0.5 + Double(rng.below(1000))),
                              requestsPerClient: rng.chance(30) ? nil : 1 + rng.below(1000), keySpace: 1 + rng.below(500),
                              readRatio: 0.25, appendRatio: prob() * 0.75, valueSize: rng.below(100), retryTimeout: retry, retryTimeoutMax: retry + dur())
    let k = 1 + rng.below(64)
    let vct = nanosPerMillisecond + dur()
    s.parameters = ProtocolParameters(batchSizeMax: 1 + rng.below(100), batchDelayMax: dur(), checkpointInterval: k,
                                      watermarkWindow: k * (1 + rng.below(4)), viewChangeTimeout: vct, viewChangeTimeoutMax: vct + dur())
    for _ in 0..<rng.below(6) {
        let action: TimelineAction
        switch rng.below(7) {
        case 0: action = .crash(replica: id())
        case 1: action = .isolate(replica: id())
        case 2: action = .heal
        case 3: action = .partition(groups: [[0], Array(1..<max(1, n))].filter { !$0.isEmpty })
        case 4 where n > 1: action = .cutLink(from: 0, to: n - 1, oneWay: rng.chance(50))
        case 5 where n > 1: action = rng.chance(50) ? .setLatency(from: nil, to: nil, latency: latency()) : .setLatency(from: n - 1, to: 0, latency: latency())
        default: action = rng.chance(50) || n == 1 ? .setLoss(from: nil, to: nil, loss: prob()) : .setLoss(from: 0, to: 1, loss: prob())
        }
        s.timeline.append(TimelineEvent(at: dur(), action: action))
    }
    if rng.chance(50) { s.byzantine = [ByzantineSpec(replica: id(), behaviour: "equivocate")] }
    s.liveness = LivenessSpec(bound: 1 + dur())
    s.expect = Expectations(safety: rng.chance(50) ? .holds : .violated, liveness: rng.chance(50) ? .holds : .violated)
    return s
}

@Suite("scenario encoding")
struct RoundTripTests {
    @Test("encode: the full example survives encode, parse, encode unchanged")
    func fullExampleRoundTrip() throws {
        // Proves encodeYAML writes the format the parser reads, and that its output is canonical.
        let text = ScenarioLoader.encodeYAML(fullExampleModel)
        let parsed = try ScenarioLoader.parse(text, file: "encoded.yaml")
        #expect(parsed == fullExampleModel)
        #expect(ScenarioLoader.encodeYAML(parsed) == text)
    }

    @Test("encode: 300 random valid scenarios round-trip exactly")
    func randomRoundTrip() {
        // Proves strings needing quotes, every distribution and every timeline action encode losslessly.
        var rng = TestRNG(state: 7)
        for i in 0..<300 {
            let scenario = randomScenario(&rng)
            let text = ScenarioLoader.encodeYAML(scenario)
            do {
                let parsed = try ScenarioLoader.parse(text, file: "random-\(i).yaml")
                #expect(parsed == scenario, "scenario \(i):\n\(text)")
                #expect(ScenarioLoader.encodeYAML(parsed) == text)
            } catch {
                Issue.record("scenario \(i) did not parse back: \(error)\n\(text)")
            }
        }
    }

    @Test("round trip: Byzantine windows, restarts, storage and message faults, and twins")
    func byzantineRoundTrip() throws {
        // Proves the encoder writes every new field so that the parser gives back an equal scenario.
        var s = Scenario(name: "byz", replicas: 4)
        s.byzantine = [ByzantineSpec(replica: 1, behaviour: "omit", from: nanosPerSecond, until: 2 * nanosPerSecond, targets: [0, 2]),
                       ByzantineSpec(replica: 1, behaviour: "slow", delay: 5 * nanosPerMillisecond),
                       ByzantineSpec(replica: 2, behaviour: "mutate", mutation: "view+1")]
        s.timeline = [TimelineEvent(at: 1, action: .restart(replica: 1, delay: 3)),
                      TimelineEvent(at: 2, action: .storageFault(replica: 2, writesLost: 4)),
                      TimelineEvent(at: 3, action: .storageFault(replica: 2, writesLost: nil)),
                      TimelineEvent(at: 4, action: .messageFault(MessageFaultSpec(action: .duplicate, from: 1, to: 2, bothWays: true,
                          type: "VOTE", views: 2...5, sequences: 1...1, until: 9, delay: 7)))]
        s.twins = TwinsSpec(replicas: [0, 1], roundLeaders: [0, 1], roundPartitions: [[[0, 1, 2], [4, 5, 3]], [[0, 1, 2, 3, 4, 5]]])
        let text = ScenarioLoader.encodeYAML(s)
        #expect(try ScenarioLoader.parse(text, file: "byz.yaml") == s, "\(text)")
    }

    @Test("encode: the output opens with the keys in the documented order")
    func keyOrder() throws {
        // Proves the encoder writes every top-level key, in ScenarioKeys.topLevel order; `schedule` (issue 17)
        // only when the scenario has one, so files written before it encode exactly as they did; likewise
        // `costs` and `hosts` (issue 15).
        let optional: Set<String> = ["schedule", "costs", "hosts"]
        func keys(_ s: Scenario) -> [String] {
            ScenarioLoader.encodeYAML(s).split(separator: "\n").filter { !$0.hasPrefix(" ") }.compactMap { $0.split(separator: ":").first.map(String.init) }
        }
        #expect(keys(Scenario(name: "x")) == ScenarioKeys.topLevel.filter { !optional.contains($0) })
        var scheduled = Scenario(name: "x")
        scheduled.schedule = [.timer(node: 0, kind: 2, key: 0)]
        #expect(keys(scheduled) == ScenarioKeys.topLevel.filter { $0 != "costs" && $0 != "hosts" })
        var costed = scheduled
        costed.costs = CostTable(messageDefault: 1000)
        costed.hosts = [HostSpec(cores: 2, replicas: [0])]
        #expect(keys(costed) == ScenarioKeys.topLevel)
        #expect(try ScenarioLoader.parse(ScenarioLoader.encodeYAML(scheduled), file: "s.yaml") == scheduled)
    }
}
