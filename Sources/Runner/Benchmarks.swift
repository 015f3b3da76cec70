import BFTCore
import BFTCrypto
import Foundation
import ScenarioFormat
import Simulation

/// `bftsim bench`: wall-clock throughput of the simulator on fixed PBFT scenarios, and libsodium's raw
/// Ed25519 rates on this machine for comparison. Wall time is read here only, never inside a run.
public enum Benchmarks {
    public struct Row: Codable {
        public var protocolName: String
        public var crypto: String
        public var n: Int
        public var simSeconds: Double
        public var wallSeconds: Double
        /// Rates below are per CPU-second of the simulating thread (one core).
        public var cpuSeconds: Double
        public var events: UInt64
        /// Of `events`, timer entries popped after they were re-armed or cancelled (cheap, skipped).
        public var staleTimers: UInt64
        public var eventsPerSecond: Double
        /// The same run without the online checkers: the simulator and protocol alone.
        public var eventsPerSecondWithoutCheckers: Double
        public var deliveredMessagesPerSecond: Double
        public var committedRequestsPerSecond: Double
        /// The same per wall-clock second (what a user waits; includes time other processes took).
        public var committedRequestsPerWallSecond: Double
        public var signaturesPerSecond: Double
        public var verificationsPerSecond: Double
        public var cacheHitRate: Double
        public var safety: String
        public var liveness: String
    }
    public struct Raw: Codable {
        public var ed25519SignPerSecond: Double
        public var ed25519VerifyPerSecond: Double
        /// Tags per second for a 128-byte message, per scheme.
        public var fastTagPerSecond: Double
        public var blake2bTagPerSecond: Double
    }
    public struct Report: Codable {
        public var build: String
        public var raw: Raw
        public var runs: [Row]
        /// Messages per committed block at n = 4, 7, 16, 31, 64 and the log-log slopes.
        public var messageComplexity: [MessageComplexity.Curve]?
    }

    /// The fixed benchmark scenario: normal case, 0.5–1.5 ms links, 32 closed-loop clients, batches of 16.
    public static func scenario(_ kind: ProtocolKind = .pbft, n: Int, crypto: SignatureScheme, simSeconds: Double) -> Scenario {
        Scenario(
            name: "bench-\(kind.rawValue)-n\(n)-\(crypto.rawValue)", protocolKind: kind, replicas: n, seed: 1, crypto: crypto,
            stop: StopCondition(timeLimit: Nanoseconds(simSeconds * 1e9), untilClientsDone: false),
            network: NetworkSpec(latency: .uniform(min: 500_000, max: 1_500_000)),
            workload: WorkloadSpec(clients: 32, requestsPerClient: nil, keySpace: 1000),
            parameters: ProtocolParameters(batchSizeMax: 16, batchDelayMax: 1_000_000, checkpointInterval: 64, watermarkWindow: 128),
            liveness: LivenessSpec(bound: 60 * nanosPerSecond))
    }

    /// CPU seconds of this thread spent in `body` (CLOCK_THREAD_CPUTIME_ID): the simulator is single
    /// threaded, so this is "per core" and does not count time the scheduler gave to other processes.
    static func cpuSeconds(_ body: () throws -> Void) rethrows -> Double {
        func now() -> Double {
            var ts = timespec()
            clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts)
            return Double(ts.tv_sec) + Double(ts.tv_nsec) / 1e9
        }
        let start = now()
        try body()
        return now() - start
    }

    static func wallSeconds(_ body: () throws -> Void) rethrows -> Double {
        let start = DispatchTime.now().uptimeNanoseconds
        try body()
        return Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
    }

    public static func measure(_ kind: ProtocolKind = .pbft, n: Int, crypto: SignatureScheme, simSeconds: Double) -> Row {
        let s = scenario(kind, n: n, crypto: crypto, simSeconds: simSeconds)
        var outcome: RunOutcome?
        var cpu = 0.0
        let wall = wallSeconds { cpu = cpuSeconds { outcome = try? ScenarioRun.execute(s, trace: .off) } }
        guard let o = outcome else { preconditionFailure("benchmark scenario failed to build") }
        var bare = 0.0
        _ = wallSeconds { bare = cpuSeconds { _ = try? ScenarioRun.execute(s, trace: .off, checkers: false) } }
        let w = max(cpu, 1e-9)
        return Row(protocolName: kind.rawValue, crypto: crypto.rawValue, n: n, simSeconds: simSeconds, wallSeconds: round3(wall),
                   cpuSeconds: round3(cpu),
                   events: o.simulation.eventsProcessed, staleTimers: o.simulation.staleTimersSkipped,
                   eventsPerSecond: (Double(o.simulation.eventsProcessed) / w).rounded(),
                   eventsPerSecondWithoutCheckers: (Double(o.simulation.eventsProcessed) / max(bare, 1e-9)).rounded(),
                   deliveredMessagesPerSecond: (Double(o.simulation.messagesDelivered) / w).rounded(),
                   committedRequestsPerSecond: (Double(o.checks.completedRequests) / w).rounded(),
                   committedRequestsPerWallSecond: (Double(o.checks.completedRequests) / max(wall, 1e-9)).rounded(),
                   signaturesPerSecond: (Double(o.crypto.signed) / w).rounded(),
                   verificationsPerSecond: (Double(o.crypto.verified) / w).rounded(),
                   cacheHitRate: o.crypto.verifyRequests == 0 ? 0 : round3(Double(o.crypto.cacheHits) / Double(o.crypto.verifyRequests)),
                   safety: o.safety.rawValue, liveness: o.liveness.rawValue)
    }

    static func round3(_ x: Double) -> Double { (x * 1000).rounded() / 1000 }

    public static func rawRates() -> Raw {
        let kp = Ed25519KeyPair(seed: [UInt8](repeating: 7, count: 32))
        let msg = [UInt8](repeating: 1, count: 128)
        var sig = Signature.zero
        var count = 0
        let signWall = cpuSeconds { while count < 5_000 { sig = kp.sign(msg); count += 1 } }
        var ok = 0
        let verifyWall = cpuSeconds { for _ in 0..<3_000 { if Ed25519KeyPair.verify(sig, message: msg, publicKey: kp.publicKey) { ok += 1 } } }
        precondition(ok == 3_000, "Ed25519 self-check failed")
        let domain = SigningDomain("bftsim/bench")
        func tagRate(_ scheme: SignatureScheme) -> Double {
            let signer = Keyring(scheme: scheme, seed: 1, replicas: 1, clients: 0).signer(for: .replica(0))
            let wall = cpuSeconds { for _ in 0..<200_000 { _ = signer.sign(domain: domain, msg[...]) } }
            return (200_000 / wall).rounded()
        }
        return Raw(ed25519SignPerSecond: (5_000 / signWall).rounded(), ed25519VerifyPerSecond: (3_000 / verifyWall).rounded(),
                   fastTagPerSecond: tagRate(.fast), blake2bTagPerSecond: tagRate(.blake2b))
    }

    public static func run(replicaCounts: [Int], simSeconds: Double, schemes: [SignatureScheme] = [.fast, .ed25519],
                           protocols: [ProtocolKind] = [.pbft, .hotstuff, .hotstuffTwoChain], complexity: Bool = true) -> String {
        var rows: [Row] = []
        for kind in protocols {
            for crypto in schemes {
                for n in replicaCounts {
                    // Larger clusters do more work per request; shorten their sim time.
                    let t = max(0.5, simSeconds * 4 / Double(max(4, n)))
                    rows.append(measure(kind, n: n, crypto: crypto, simSeconds: t))
                }
            }
        }
        var curves: [MessageComplexity.Curve]? = nil
        if complexity {
            curves = [ProtocolKind.pbft, .hotstuff, .hotstuffTwoChain].compactMap {
                try? MessageComplexity.curve($0, sizes: [4, 7, 16, 31, 64])
            }
        }
        #if DEBUG
        let build = "debug (numbers are 20-25x below release; use: swift run -c release bftsim bench)"
        #else
        let build = "release"
        #endif
        let report = Report(build: build, raw: rawRates(), runs: rows, messageComplexity: curves)
        let enc = JSONEncoder()
        enc.outputFormatting = [.sortedKeys, .prettyPrinted]
        return String(decoding: (try? enc.encode(report)) ?? Data(), as: UTF8.self)
    }
}
