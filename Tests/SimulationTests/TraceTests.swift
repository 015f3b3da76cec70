import BFTCore
import Foundation
import ScenarioFormat
import Testing
@testable import Simulation

@Suite("trace and determinism")
struct TraceTests {
    static func gossipScenario(seed: UInt64) -> Scenario {
        let spec = NetworkSpec(latency: .lognormal(median: nanosPerMillisecond, sigma: 0.6), loss: 0.05,
                               duplication: 0.05, jitter: 200_000, gst: 40 * nanosPerMillisecond)
        let timeline = [TimelineEvent(at: 5 * nanosPerMillisecond, action: .partition(groups: [[0, 1], [2, 3]])),
                        TimelineEvent(at: 15 * nanosPerMillisecond, action: .heal),
                        TimelineEvent(at: 20 * nanosPerMillisecond, action: .setLatency(from: 1, to: 2, latency: .exponential(mean: 2 * nanosPerMillisecond))),
                        TimelineEvent(at: 25 * nanosPerMillisecond, action: .setLoss(from: nil, to: nil, loss: 0.1)),
                        TimelineEvent(at: 30 * nanosPerMillisecond, action: .crash(replica: 3))]
        return toyScenario(n: 4, seed: seed, network: spec, timeline: timeline, timeLimit: 100 * nanosPerMillisecond)
    }

    static func run(seed: UInt64) -> (SimulationResult, [String]) {
        let sink = MemoryTraceSink()
        let machines: [any StateMachine] = (0..<4).map { Gossip(id: $0, n: 4, seed: seed) }
        let result = simulate(gossipScenario(seed: seed), machines, trace: .full(sink))
        return (result, sink.lines)
    }

    @Test("the same scenario and seed give identical traces; another seed differs")
    func determinism() {
        // Proves replay within a process (the cross-process check lives in the CLI tests).
        let (a, linesA) = Self.run(seed: 7)
        let (b, linesB) = Self.run(seed: 7)
        let (c, _) = Self.run(seed: 8)
        #expect(linesA.count > 100)
        #expect(linesA == linesB)
        #expect(a.traceHash == b.traceHash)
        #expect(a.traceHash != c.traceHash)
        #expect(a.eventsProcessed == b.eventsProcessed)
        #expect(a.traceLines == linesA.count)
    }

    @Test("the trace hash is BLAKE2b of the trace file and does not depend on the sink")
    func hashMatchesFile() throws {
        // Proves that .hashOnly and .full agree, and that the hash is the JSONL file's digest.
        let (full, lines) = Self.run(seed: 3)
        let machines: [any StateMachine] = (0..<4).map { Gossip(id: $0, n: 4, seed: 3) }
        let hashOnly = simulate(Self.gossipScenario(seed: 3), machines, trace: .hashOnly)
        #expect(full.traceHash == hashOnly.traceHash)
        let fileBytes = Array(lines.map { $0 + "\n" }.joined().utf8)
        #expect(full.traceHash == Digest.of(fileBytes))

        let path = FileManager.default.temporaryDirectory.appendingPathComponent("bftsim-trace-\(getpid()).jsonl").path
        let sink = try #require(JSONLFileSink(path: path))
        let machines2: [any StateMachine] = (0..<4).map { Gossip(id: $0, n: 4, seed: 3) }
        let written = simulate(Self.gossipScenario(seed: 3), machines2, trace: .full(sink))
        sink.close()
        let data = try #require(FileManager.default.contents(atPath: path))
        try? FileManager.default.removeItem(atPath: path)
        #expect(Digest.of(Array(data)) == written.traceHash)
        let off = simulate(Self.gossipScenario(seed: 3), (0..<4).map { Gossip(id: $0, n: 4, seed: 3) }, trace: .off)
        #expect(off.traceHash == .zero)
        #expect(off.eventsProcessed == full.eventsProcessed)
    }

    @Test("trace lines are compact JSON objects with sorted keys and integer numbers")
    func linesAreSortedJSON() throws {
        // Proves the line format: each parses, re-serializes to itself with sorted keys, and has no floats.
        let (_, lines) = Self.run(seed: 11)
        var kinds = Set<String>()
        for line in lines {
            let object = try #require(try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any])
            kinds.insert(object["kind"] as! String)
            #expect(object["t"] is Int)
            #expect(object["i"] is Int)
            let keys = Self.topLevelKeys(line)
            #expect(keys == keys.sorted(), "unsorted keys in \(line)")
            #expect(Set(keys) == Set(object.keys))
            #expect(!line.contains(" "))
        }
        #expect(kinds.isSuperset(of: ["start", "send", "deliver", "drop", "timer", "observe", "fault"]))
        let sends = lines.filter { $0.contains("\"kind\":\"send\"") }
        #expect(sends.first!.contains("\"type\":\"DATA\""))
    }

    @Test("send and deliver lines pair up by message id")
    func messageIDsPair() throws {
        // Proves the space-time diagram property: every deliver or in-flight drop has exactly one earlier send.
        let (_, lines) = Self.run(seed: 5)
        var sent: [Int: Int] = [:]
        for line in lines {
            let o = try #require(try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any])
            guard let msg = o["msg"] as? Int else { continue }
            switch o["kind"] as! String {
            case "send": sent[msg, default: 0] += 1
            case "deliver": #expect(sent[msg] == 1)
            default: break
            }
        }
        #expect(sent.values.allSatisfy { $0 == 1 })
    }

    /// Keys of a flat JSON object in textual order (values here are ints, strings or int arrays).
    static func topLevelKeys(_ line: String) -> [String] {
        var keys: [String] = []
        var depth = 0
        var inString = false
        var escaped = false
        var current = ""
        var expectKey = false
        for ch in line {
            if inString {
                if escaped { escaped = false; current.append(ch); continue }
                if ch == "\\" { escaped = true; continue }
                if ch == "\"" {
                    inString = false
                    if expectKey { keys.append(current); expectKey = false }
                    continue
                }
                current.append(ch)
                continue
            }
            switch ch {
            case "{": depth += 1; expectKey = depth == 1
            case "}": depth -= 1
            case "[": depth += 1
            case "]": depth -= 1
            case ",": expectKey = depth == 1
            case ":": expectKey = false
            case "\"": inString = true; current = ""
            default: break
            }
        }
        return keys
    }
}

@Suite("trace golden value")
struct TraceGoldenTests {
    @Test("a fixed scenario has the same trace hash in every process")
    func goldenTraceHash() {
        // Proves replay across processes and toolchains: a committed hash no hashed-collection order or
        // clock can reproduce by accident. Integer-only latencies keep libm out of it. Update the value
        // only when the trace format changes on purpose.
        let spec = NetworkSpec(latency: .uniform(min: 500_000, max: 2_000_000), loss: 0.1, duplication: 0.05,
                               jitter: 300_000, gst: 40 * nanosPerMillisecond)
        let timeline = [TimelineEvent(at: 5 * nanosPerMillisecond, action: .partition(groups: [[0, 1], [2, 3]])),
                        TimelineEvent(at: 12 * nanosPerMillisecond, action: .cutLink(from: 0, to: 1, oneWay: true)),
                        TimelineEvent(at: 15 * nanosPerMillisecond, action: .heal),
                        TimelineEvent(at: 30 * nanosPerMillisecond, action: .crash(replica: 3))]
        let scenario = toyScenario(n: 4, seed: 2024, network: spec, timeline: timeline, timeLimit: 60 * nanosPerMillisecond)
        let result = simulate(scenario, (0..<4).map { Gossip(id: $0, n: 4, seed: 2024) })
        #expect(result.traceHash.hex == "beb9a520c6af22d149bb64db0cba46984b752fc79602d61a297ab71e2502707a")
    }

    @Test("a timer set at the far end of time does not overflow")
    func farTimer() {
        // Proves saturating time arithmetic: `after: .max` never fires and never traps.
        let log = Log()
        var m = Scripted(.replica(0), log: log)
        m.onStart = { a in
            a.append(.setTimer(TimerID(kind: 1), after: 1))
            a.append(.setTimer(TimerID(kind: 2), after: .max))
        }
        m.onTimer = { _, a in a.append(.setTimer(TimerID(kind: 3), after: .max)) }
        let result = simulate(toyScenario(n: 1), [m], log: log)
        #expect(log.entries.count == 1)
        #expect(result.stoppedBecause == .timeLimit)
    }
}
