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

    /// Each of `jobs` workers takes the next scenario index from a shared counter until the time is up,
    /// so a long run at the end of a batch never leaves the other workers idle (measuring in fixed
    /// batches did: HotStuff's run lengths vary enough that 2 jobs measured barely more than 1).
    /// With `runs`, exactly scenarios 0..<runs whatever the time (for instruction counts, which need the
    /// same work in both builds: `scripts/instructions-per-event.sh --fuzz`).
    public static func measure(_ kind: ProtocolKind, crypto: SignatureScheme, jobs: Int, seconds: Double, runs: Int? = nil) -> Row {
        let start = Date()
        let counter = SharedCounter()
        let perWorker = parallelMap(max(1, jobs), jobs: max(1, jobs)) { _ -> [Int] in
            var totals = [0, 0, 0, 0, 0]  // runs, views, events, signed, verified
            while runs != nil || Date().timeIntervalSince(start) < seconds {
                let index = counter.next()
                if let runs, index >= runs { break }
                let stats = (try? ScenarioRunFast.stats(scenario(kind, crypto: crypto, index: index))) ?? [0, 0, 0, 0]
                totals[0] += 1
                for k in 0..<4 { totals[k + 1] += stats[k] }
            }
            return totals
        }
        let elapsed = Date().timeIntervalSince(start)
        let sum = perWorker.reduce([0, 0, 0, 0, 0]) { a, b in zip(a, b).map { $0 + $1 } }
        let runs = sum[0]
        func mean(_ k: Int) -> Double { runs > 0 ? Double(sum[k]) / Double(runs) : 0 }
        return Row(protocolKind: kind, crypto: crypto, runs: runs, seconds: elapsed,
                   views: mean(1), events: mean(2), signed: mean(3), verified: mean(4))
    }

    public static func run(jobs: Int, seconds: Double, protocols: [ProtocolKind] = [.pbft, .hotstuff],
                           cryptos: [SignatureScheme] = [.fast, .ed25519], runs: Int? = nil) -> String {
        var lines = ["{", "  \"jobs\": \(jobs),", "  \"runs\": ["]
        var rows: [String] = []
        for crypto in cryptos {
            for kind in protocols {
                let r = measure(kind, crypto: crypto, jobs: jobs, seconds: seconds, runs: runs)
                rows.append(String(format: "    {\"protocol\": \"%@\", \"crypto\": \"%@\", \"runs\": %d, \"seconds\": %.2f, \"mean_highest_view\": %.1f, \"mean_events\": %.0f, \"mean_signed\": %.0f, \"mean_verified\": %.0f, \"scenarios_per_second\": %.0f}",
                                   kind.rawValue, crypto.rawValue, r.runs, r.seconds, r.views, r.events, r.signed, r.verified, r.perSecond))
            }
        }
        lines.append(rows.joined(separator: ",\n"))
        lines += ["  ]", "}"]
        return lines.joined(separator: "\n")
    }
}

/// The next scenario index for whichever bench worker asks first.
final class SharedCounter: @unchecked Sendable {
    private var value = 0
    private let lock = NSLock()
    func next() -> Int {
        lock.lock()
        defer { lock.unlock() }
        value += 1
        return value - 1
    }
}

enum ScenarioRunFast {
    /// [highest view, simulator events, signatures, verifications computed] of one checked run.
    static func stats(_ s: Scenario) throws -> [Int] {
        let o = try ScenarioRun.execute(s, trace: .off)
        return [Int(o.highestView), Int(o.simulation.eventsProcessed), o.crypto.signed, o.crypto.verified]
    }
}
