import BFTCore
import Foundation
import ScenarioFormat
import Simulation

/// `bftsim bench --scale NAME`: the simulator at scale (issue 19). Each configuration runs one large
/// scenario with fast crypto and the online checkers on, and prints wall time, CPU time, events/s and
/// the process's peak resident memory for that run (the kernel's high-water mark is reset first, so
/// configurations run one after another in one process are measured separately).
public enum ScaleBench {
    public enum Config: String, CaseIterable, Sendable {
        /// Chained HotStuff, n=256, 64 closed-loop clients, until replica 0 committed 1,000 blocks.
        case hotstuffN256 = "hotstuff-n256"
        /// Chained HotStuff, n=1024, 64 clients, until replica 0 committed 100 blocks.
        case hotstuffN1024 = "hotstuff-n1024"
        /// PBFT n=4, 32 clients, 1,000,000 requests; resident memory after the first 100,000 and at the end.
        case pbftMillion = "pbft-1m"
        /// A small chained HotStuff run (n=64, 200 blocks) for a quick look.
        case hotstuffN64 = "hotstuff-n64"
    }

    public struct Row: Codable, Sendable {
        public var config: String
        public var n: Int
        /// What the run counts to its stop: committed blocks at replica 0, or completed requests.
        public var target: String
        public var reached: Int
        public var wallSeconds: Double
        public var cpuSeconds: Double
        public var simSeconds: Double
        public var events: UInt64
        public var eventsPerSecond: Double
        public var peakRSSMiB: Double
        /// PBFT 1M: resident memory when the 100,000th request completed, and at the end.
        public var rssAtFirstTenthMiB: Double?
        public var rssAtEndMiB: Double?
        public var rssGrowthPercent: Double?
        public var safety: String
        public var liveness: String
    }

    public static func scenario(_ config: Config) -> Scenario {
        switch config {
        case .hotstuffN256, .hotstuffN1024, .hotstuffN64:
            let n = config == .hotstuffN1024 ? 1024 : config == .hotstuffN256 ? 256 : 64
            return Scenario(
                name: "scale-\(config.rawValue)", protocolKind: .hotstuff, replicas: n, seed: 1, crypto: .fast,
                stop: StopCondition(timeLimit: 3_600 * nanosPerSecond, untilClientsDone: false),
                network: NetworkSpec(latency: .uniform(min: 1_000_000, max: 4_000_000)),
                workload: WorkloadSpec(clients: 64, requestsPerClient: nil, keySpace: 1000),
                parameters: ProtocolParameters(batchSizeMax: 10, batchDelayMax: 2_000_000),
                liveness: LivenessSpec(bound: 60 * nanosPerSecond))
        case .pbftMillion:
            return Scenario(
                name: "scale-pbft-1m", protocolKind: .pbft, replicas: 4, seed: 1, crypto: .fast,
                stop: StopCondition(timeLimit: 3_600 * nanosPerSecond, untilClientsDone: true),
                network: NetworkSpec(latency: .uniform(min: 500_000, max: 1_500_000)),
                workload: WorkloadSpec(clients: 32, requestsPerClient: 1_000_000 / 32, keySpace: 1000),
                parameters: ProtocolParameters(batchSizeMax: 16, batchDelayMax: 1_000_000, checkpointInterval: 64, watermarkWindow: 128),
                liveness: LivenessSpec(bound: 60 * nanosPerSecond))
        }
    }

    /// Resets the kernel's peak-RSS mark of this process (`/proc/self/clear_refs`, value 5).
    static func resetPeak() {
        let fd = open("/proc/self/clear_refs", O_WRONLY)
        guard fd >= 0 else { return }
        _ = write(fd, "5", 1)
        close(fd)
    }

    /// The process's peak resident set since the last reset (VmHWM), in bytes.
    static func peakBytes() -> Int {
        guard let text = try? String(contentsOfFile: "/proc/self/status", encoding: .utf8) else { return 0 }
        for line in text.split(separator: "\n") where line.hasPrefix("VmHWM:") {
            let kb = line.split(separator: " ").dropFirst().first.flatMap { Int($0) } ?? 0
            return kb * 1024
        }
        return 0
    }

    public static func measure(_ config: Config) -> Row {
        let s = scenario(config)
        let blocksTarget = config == .hotstuffN1024 ? 100 : config == .hotstuffN256 ? 1_000 : config == .hotstuffN64 ? 200 : nil
        let requestsTarget = config == .pbftMillion ? 1_000_000 : nil
        var blocks = 0
        var completed = 0
        var rssAtTenth: Int?
        let observer: (ObservationRecord) -> Void = { record in
            switch record.observation {
            case .blockCommitted where record.source == .replica(0):
                blocks += 1
            case .requestCompleted:
                completed += 1
                if let target = requestsTarget, completed == target / 10 { rssAtTenth = ResidentMemory.bytes() }
            default:
                break
            }
        }
        let stop: (() -> Bool)? = blocksTarget.map { target in { blocks >= target } }
        resetPeak()
        var outcome: RunOutcome?
        var cpu = 0.0
        let wall = Benchmarks.wallSeconds {
            cpu = Benchmarks.cpuSeconds {
                outcome = try? ScenarioRun.execute(s, trace: .off, observer: observer, shouldStop: stop)
            }
        }
        let rssEnd = ResidentMemory.bytes()
        guard let o = outcome else { preconditionFailure("scale scenario failed to build") }
        let mib = { (b: Int) in Benchmarks.round3(Double(b) / 1_048_576) }
        var row = Row(config: config.rawValue, n: s.replicas,
                      target: blocksTarget.map { "\($0) blocks committed at replica 0" } ?? "\(requestsTarget ?? 0) requests completed",
                      reached: blocksTarget != nil ? blocks : completed,
                      wallSeconds: Benchmarks.round3(wall), cpuSeconds: Benchmarks.round3(cpu),
                      simSeconds: Benchmarks.round3(Double(o.simulation.endTime) / 1e9),
                      events: o.simulation.eventsProcessed,
                      eventsPerSecond: (Double(o.simulation.eventsProcessed) / max(cpu, 1e-9)).rounded(),
                      peakRSSMiB: mib(peakBytes()), safety: o.safety.rawValue, liveness: o.liveness.rawValue)
        if let tenth = rssAtTenth {
            row.rssAtFirstTenthMiB = mib(tenth)
            row.rssAtEndMiB = mib(rssEnd)
            row.rssGrowthPercent = Benchmarks.round3(100 * (Double(rssEnd) / Double(max(tenth, 1)) - 1))
        }
        return row
    }

    /// Runs each configuration; with more than one, each in a fresh process of this executable, so
    /// one run's heap (which the allocator keeps) does not count in the next one's resident memory.
    public static func run(_ configs: [Config]) -> String {
        let rows: [Row] = configs.count == 1 ? [measure(configs[0])] : configs.map { config in
            inChildProcess(config) ?? measure(config)
        }
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        return String(decoding: (try? encoder.encode(rows)) ?? Data(), as: UTF8.self)
    }

    /// `bftsim bench --scale NAME` in a child process; nil when it cannot be started or its output read.
    static func inChildProcess(_ config: Config) -> Row? {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath()
        process.arguments = ["bench", "--scale", config.rawValue]
        let pipe = Pipe()
        process.standardOutput = pipe
        do { try process.run() } catch { return nil }
        let data = pipe.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return (try? JSONDecoder().decode([Row].self, from: data))?.first
    }
}
