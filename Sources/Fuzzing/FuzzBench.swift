import BFTCore
import Foundation
import Runner
import ScenarioFormat

/// `bftsim fuzz --bench`: scenarios per second for Twins-sized runs (n=4, one client, one request
/// per block/batch, about ten views or consensus instances, under 4 Twins rounds of scripted leaders
/// and partitions), PBFT and chained HotStuff, fast and Ed25519 crypto, checkers on, trace off,
/// no coverage — the cost of one fuzz run.
public enum FuzzBench {
    public struct Row: Sendable {
        public var protocolKind: ProtocolKind
        public var crypto: SignatureScheme
        public var runs: Int
        public var seconds: Double
        public var views: Double
        public var events: Double
        /// Mean signatures made and verifications computed (cache misses) per run.
        public var signed: Double
        public var verified: Double
        public var perSecond: Double { seconds > 0 ? Double(runs) / seconds : 0 }
    }

    /// The benchmark's run `index`: Twins generator, 4 rounds of scripted leaders and partitions.
    public static func scenario(_ kind: ProtocolKind, crypto: SignatureScheme, index: Int) -> Scenario {
        let config = FuzzConfig(protocolKind: kind, replicas: 4, byzantineBudget: 0, crashBudget: 0, faultClasses: ["partition"],
                                duration: 2 * nanosPerSecond, seed: 42, strategy: .twins, crypto: crypto, rounds: 4)
        var s = TwinsGenerator.scenario(config, index: index, enumerate: false)
        s.workload.clients = 1
        // About ten rounds: PBFT orders 8 one-request batches; chained HotStuff's closed-loop client
        // waits ~4 views per request (three-chain commit), so 3 requests take about 12 views.
        s.workload.requestsPerClient = kind == .pbft ? 8 : 3
        s.parameters.batchSizeMax = 1
        return s
    }

    public static func measure(_ kind: ProtocolKind, crypto: SignatureScheme, jobs: Int, seconds: Double) -> Row {
        let start = Date()
        var runs = 0
        var views = 0
        var events = 0, signed = 0, verified = 0
        let batch = 64
        while Date().timeIntervalSince(start) < seconds {
            let base = runs
            let stats = parallelMap(batch, jobs: jobs) { i -> [Int] in
                let s = scenario(kind, crypto: crypto, index: base + i)
                return (try? ScenarioRunFast.stats(s)) ?? [0, 0, 0, 0]
            }
            views += stats.map { $0[0] }.reduce(0, +)
            events += stats.map { $0[1] }.reduce(0, +)
            signed += stats.map { $0[2] }.reduce(0, +)
            verified += stats.map { $0[3] }.reduce(0, +)
            runs += batch
        }
        return Row(protocolKind: kind, crypto: crypto, runs: runs, seconds: Date().timeIntervalSince(start),
                   views: runs > 0 ? Double(views) / Double(runs) : 0, events: runs > 0 ? Double(events) / Double(runs) : 0,
                   signed: runs > 0 ? Double(signed) / Double(runs) : 0, verified: runs > 0 ? Double(verified) / Double(runs) : 0)
    }

    public static func run(jobs: Int, seconds: Double) -> String {
        var lines = ["{", "  \"jobs\": \(jobs),", "  \"runs\": ["]
        var rows: [String] = []
        for crypto in [SignatureScheme.fast, .ed25519] {
            for kind in [ProtocolKind.pbft, .hotstuff] {
                let r = measure(kind, crypto: crypto, jobs: jobs, seconds: seconds)
                rows.append(String(format: "    {\"protocol\": \"%@\", \"crypto\": \"%@\", \"runs\": %d, \"seconds\": %.2f, \"mean_highest_view\": %.1f, \"mean_events\": %.0f, \"mean_signed\": %.0f, \"mean_verified\": %.0f, \"scenarios_per_second\": %.0f}",
                                   kind.rawValue, crypto.rawValue, r.runs, r.seconds, r.views, r.events, r.signed, r.verified, r.perSecond))
            }
        }
        lines.append(rows.joined(separator: ",\n"))
        lines += ["  ]", "}"]
        return lines.joined(separator: "\n")
    }
}

enum ScenarioRunFast {
    /// [highest view, simulator events, signatures, verifications computed] of one checked run.
    static func stats(_ s: Scenario) throws -> [Int] {
        let o = try ScenarioRun.execute(s, trace: .off)
        return [Int(o.highestView), Int(o.simulation.eventsProcessed), o.crypto.signed, o.crypto.verified]
    }
}
