import BFTCore
import Foundation
import ScenarioFormat

/// `bftsim fuzz --bench`: scenarios per second for Twins-sized runs (n=4, about ten views, one client
/// with a few requests), PBFT and chained HotStuff, fast and Ed25519 crypto, checkers on, trace off,
/// no coverage — the cost of one fuzz run.
public enum FuzzBench {
    public struct Row: Sendable {
        public var protocolKind: ProtocolKind
        public var crypto: SignatureScheme
        public var runs: Int
        public var seconds: Double
        public var views: Double
        public var perSecond: Double { seconds > 0 ? Double(runs) / seconds : 0 }
    }

    /// The benchmark's run `index`: Twins generator, 4 rounds of scripted leaders and partitions.
    public static func scenario(_ kind: ProtocolKind, crypto: SignatureScheme, index: Int) -> Scenario {
        let config = FuzzConfig(protocolKind: kind, replicas: 4, byzantineBudget: 0, crashBudget: 0, faultClasses: ["partition"],
                                duration: 2 * nanosPerSecond, seed: 42, strategy: .twins, crypto: crypto, rounds: 4)
        var s = TwinsGenerator.scenario(config, index: index, enumerate: false)
        s.workload.clients = 1
        s.workload.requestsPerClient = 4
        s.parameters.viewChangeTimeout = 20 * nanosPerMillisecond
        s.parameters.viewChangeTimeoutMax = 100 * nanosPerMillisecond
        return s
    }

    public static func measure(_ kind: ProtocolKind, crypto: SignatureScheme, jobs: Int, seconds: Double) -> Row {
        let start = Date()
        var runs = 0
        var views = 0
        let batch = 64
        while Date().timeIntervalSince(start) < seconds {
            let base = runs
            let highest = parallelMap(batch, jobs: jobs) { i -> Int in
                let s = scenario(kind, crypto: crypto, index: base + i)
                return (try? ScenarioRunFast.highestView(s)) ?? 0
            }
            views += highest.reduce(0, +)
            runs += batch
        }
        return Row(protocolKind: kind, crypto: crypto, runs: runs, seconds: Date().timeIntervalSince(start),
                   views: runs > 0 ? Double(views) / Double(runs) : 0)
    }

    public static func run(jobs: Int, seconds: Double) -> String {
        var lines = ["{", "  \"jobs\": \(jobs),", "  \"runs\": ["]
        var rows: [String] = []
        for crypto in [SignatureScheme.fast, .ed25519] {
            for kind in [ProtocolKind.pbft, .hotstuff] {
                let r = measure(kind, crypto: crypto, jobs: jobs, seconds: seconds)
                rows.append(String(format: "    {\"protocol\": \"%@\", \"crypto\": \"%@\", \"runs\": %d, \"seconds\": %.2f, \"mean_highest_view\": %.1f, \"scenarios_per_second\": %.0f}",
                                   kind.rawValue, crypto.rawValue, r.runs, r.seconds, r.views, r.perSecond))
            }
        }
        lines.append(rows.joined(separator: ",\n"))
        lines += ["  ]", "}"]
        return lines.joined(separator: "\n")
    }
}

import Runner

enum ScenarioRunFast {
    static func highestView(_ s: Scenario) throws -> Int {
        Int(try ScenarioRun.execute(s, trace: .off).highestView)
    }
}
