import BFTCore
import ScenarioFormat

/// A campaign that cannot run: a bad configuration (`invalid`) or a file it cannot read or write (`io`).
public struct FuzzError: Error, CustomStringConvertible {
    public let description: String
    public static func invalid(_ message: String) -> FuzzError { FuzzError(description: message) }
    public static func io(_ message: String) -> FuzzError { FuzzError(description: message) }
}

/// Which generator produces the runs of a campaign.
public enum FuzzStrategy: String, Sendable, Codable, CaseIterable {
    /// Swarm testing: each run switches a random subset of the fault classes on, with random parameters.
    case random
    /// Coverage-guided: mutates a corpus of schedules that reached new abstract states; a bandit picks mutations.
    case guided
    /// Twins-style: partitions × leaders over R rounds, enumerated when small, sampled when large.
    case twins
}

/// Everything that decides which runs a campaign makes. Two campaigns with equal configs make the same runs.
public struct FuzzConfig: Sendable, Codable, Equatable {
    public var protocolKind: ProtocolKind
    public var mutant: TestMutant?
    /// Replica count n, or the smallest of a range (`--replicas 4..7`).
    public var replicas: Int
    /// The largest n of a range (nil: every run has `replicas`). Each run draws its n, and f = ⌊(n−1)/3⌋,
    /// so quorum arithmetic that is wrong only when n ≠ 3f+1 is exercised.
    public var replicasMax: Int?
    public var byzantineBudget: Int
    public var crashBudget: Int
    /// The budgets are "f": each run has at most min(budget, f) of each kind and at most f faulty
    /// replicas in all, so no run is over-threshold.
    public var withinF: Bool
    /// Fault classes that may appear (names from `FaultClasses`).
    public var faultClasses: [String]
    /// Simulated run length; the chaos phase ends at a random time in its first quarter, and liveness
    /// (bound: three quarters of the healed phase) is checked in the rest.
    public var duration: Nanoseconds
    public var seed: UInt64
    public var strategy: FuzzStrategy
    public var crypto: SignatureScheme
    /// Twins: rounds (views) with a scripted leader and partition.
    public var rounds: Int
    /// Issue 18: every run turns the adaptive controller on (`fuzz --adaptive`); nil (absent from
    /// campaign.json) is off, so earlier campaigns decode and hash as before.
    public var adaptive: Bool?

    public init(protocolKind: ProtocolKind = .pbft, mutant: TestMutant? = nil, replicas: Int = 4, replicasMax: Int? = nil,
                byzantineBudget: Int = 1, crashBudget: Int = 1, withinF: Bool = false, faultClasses: [String] = FaultClasses.names,
                duration: Nanoseconds = 10 * nanosPerSecond,
                seed: UInt64 = 1, strategy: FuzzStrategy = .random, crypto: SignatureScheme = .fast, rounds: Int = 8) {
        self.protocolKind = protocolKind
        self.mutant = mutant
        self.replicas = replicas
        self.replicasMax = replicasMax
        self.withinF = withinF
        self.byzantineBudget = byzantineBudget
        self.crashBudget = crashBudget
        self.faultClasses = faultClasses
        self.duration = duration
        self.seed = seed
        self.strategy = strategy
        self.crypto = crypto
        self.rounds = rounds
    }

    /// f of the smallest n.
    public var f: Int { QuorumMath.maxFaulty(n: replicas) }
    /// The budgets together exceed what the protocol tolerates (n ≥ 3f+1): runs may be over-threshold.
    public var budgetExceedsThreshold: Bool { !withinF && byzantineBudget + crashBudget > f }
    /// The largest n a run may have.
    public var replicasUpper: Int { replicasMax ?? replicas }
    /// "4" or "4..7".
    public var replicasText: String { replicasMax.map { $0 > replicas ? "\(replicas)..\($0)" : "\(replicas)" } ?? "\(replicas)" }

    /// The budget of a run with `n` replicas.
    public func budget(n: Int) -> FaultBudget {
        guard withinF else { return FaultBudget(crashes: crashBudget, byzantine: byzantineBudget) }
        let f = QuorumMath.maxFaulty(n: n)
        return FaultBudget(crashes: min(crashBudget, f), byzantine: min(byzantineBudget, f), faultyMax: f)
    }

    /// The n of run `index` (a draw of its own stream, so n does not shift the rest of the run).
    public func replicas(forRun index: Int) -> Int {
        guard let top = replicasMax, top > replicas else { return replicas }
        var rng = DeterministicRNG(seed: seed, stream: "n/\(index)")
        return replicas + Int(rng.below(UInt64(top - replicas + 1)))
    }

    public func validate() throws(FuzzError) {
        guard replicas >= 4 else { throw .invalid("--replicas must be at least 4 (n ≥ 3f+1 with f ≥ 1)") }
        if let top = replicasMax {
            guard top >= replicas else { throw .invalid("--replicas \(replicas)..\(top): the range is empty") }
            guard top <= 64 else { throw .invalid("--replicas: at most 64 in a campaign (got \(top))") }
        }
        guard byzantineBudget >= 0, crashBudget >= 0 else { throw .invalid("budgets must be ≥ 0") }
        guard duration >= 500 * nanosPerMillisecond else { throw .invalid("--duration must be at least 500ms") }
        _ = try FaultClasses.select(faultClasses)
        if let mutant, !mutant.protocols.contains(protocolKind) {
            throw .invalid("mutant '\(mutant.rawValue)' applies to \(mutant.protocols.map(\.rawValue).joined(separator: ", ")), not \(protocolKind.rawValue)")
        }
    }
}

/// The skeleton every generated run shares: tiny closed-loop workload, fast timeouts, two phases.
enum RunTemplate {
    static let ms = nanosPerMillisecond

    /// A scenario for run `index` with no faults: the chaos phase ends (timeline heal + GST) at `chaosEnd`.
    static func base(_ config: FuzzConfig, index: Int, strategy: FuzzStrategy, chaosEnd: Nanoseconds, rng: inout DeterministicRNG) -> Scenario {
        let seed = DeterministicRNG.deriveSeed(config.seed, "run/\(index)")
        let n = strategy == .twins ? config.replicas : config.replicas(forRun: index)
        let livenessBound = max(1 * nanosPerSecond, (config.duration - chaosEnd) / 4 * 3)
        var s = Scenario(
            name: "fuzz-\(config.protocolKind.rawValue)-run-\(padded(index))",
            description: "bftsim fuzz --strategy \(strategy.rawValue) --seed \(config.seed), run \(index)",
            protocolKind: config.protocolKind, replicas: n, seed: seed, crypto: config.crypto,
            stop: StopCondition(timeLimit: config.duration, untilClientsDone: true),
            network: NetworkSpec(latency: .constant(1 * ms), gst: chaosEnd, delayMaxAfterGST: 20 * ms),
            workload: WorkloadSpec(clients: 1 + Int(rng.below(2)), requestsPerClient: 3 + Int(rng.below(10)), keySpace: 8,
                                   retryTimeout: 300 * ms, retryTimeoutMax: 1 * nanosPerSecond),
            parameters: ProtocolParameters(batchSizeMax: 4, checkpointInterval: 8, watermarkWindow: 16,
                                           viewChangeTimeout: 100 * ms, viewChangeTimeoutMax: 800 * ms),
            liveness: LivenessSpec(bound: livenessBound))
        // A quarter of the swarm runs carry a heavier load and checkpoint twice as often, so stable
        // checkpoints, garbage collection and state transfer (PBFT S1–S5, HotStuff R2 snapshots) happen
        // during the chaos phase instead of rarely or never. Twins runs keep the small workload.
        if strategy != .twins, rng.chance(0.25) {
            s.workload.clients = 2 + Int(rng.below(3))
            s.workload.requestsPerClient = 20 + Int(rng.below(30))
            s.parameters.checkpointInterval = 4
        }
        if config.adaptive == true {
            // Short epochs so arms change within the small fuzz workloads; no RNG draw, so the runs'
            // faults are the same as without --adaptive.
            s.parameters.adaptive = AdaptiveConfig(epoch: 2, batchSizeChoices: [1, 2, 4], batchDelayChoices: [0, 2 * ms],
                                                   viewChangeTimeoutChoices: [100 * ms, 200 * ms], alpha: 0.5)
        }
        return s
    }

    /// Ends the chaos phase: sorts the timeline and appends the final heal at GST.
    static func seal(_ s: inout Scenario) {
        let gst = s.network.gst ?? 0
        s.timeline = s.timeline.enumerated().sorted { ($0.element.at, $0.offset) < ($1.element.at, $1.offset) }.map(\.element)
        if s.timeline.contains(where: { if case .setLatency = $0.action { return true } else { return false } }) {
            s.timeline.append(TimelineEvent(at: gst, action: .setLatency(from: nil, to: nil, latency: s.network.latency)))
        }
        if !s.timeline.isEmpty { s.timeline.append(TimelineEvent(at: gst, action: .heal)) }
    }

    static func chaosEnd(_ config: FuzzConfig, rng: inout DeterministicRNG) -> Nanoseconds {
        let quarter = max(200 * ms, config.duration / 4)
        return 100 * ms + Nanoseconds(rng.below(UInt64(quarter - 100 * ms)))
    }
}

/// Swarm testing (Groce et al., ISSTA'12): each run enables a random non-empty subset of the allowed
/// fault classes, then each enabled class adds faults with random parameters.
public enum SwarmGenerator {
    public static func scenario(_ config: FuzzConfig, index: Int) -> Scenario {
        var rng = DeterministicRNG(seed: config.seed, stream: "swarm/\(index)")
        let end = RunTemplate.chaosEnd(config, rng: &rng)
        var s = RunTemplate.base(config, index: index, strategy: .random, chaosEnd: end, rng: &rng)
        let context = FaultContext(protocolKind: config.protocolKind, replicas: s.replicas, f: s.f, chaosEnd: end)
        var budget = config.budget(n: s.replicas)
        let classes = (try? FaultClasses.select(config.faultClasses)) ?? []
        var enabled = classes.filter { _ in rng.chance(0.5) }
        if enabled.isEmpty, !classes.isEmpty { enabled = [classes[Int(rng.below(UInt64(classes.count)))]] }
        for c in enabled where c.applies(to: context, budget: budget) {
            c.inject(into: &s, budget: &budget, context: context, rng: &rng)
        }
        RunTemplate.seal(&s)
        return s
    }
}

/// Twins generator (Bano et al., "Twins: BFT systems made robust", OPODIS'21): for R rounds (views),
/// choose a leader and a partition per round. With a Byzantine budget (and the `byzantine` class) it
/// uses the simulator's real Twins: a second honest instance of one replica, with the same key (node
/// n is the twin of replica `twins.replicas[0]`), partitions over all n + 1 nodes applied as each round
/// (view) begins, and leaders per round; after the scripted rounds every node is in one group. As in
/// the paper, Twins runs check safety (liveness is not judged: a round's partition may hold for good).
/// Without a budget, partitions of the n replicas change every view timeout on the timeline and
/// leaders are scripted with `leader_schedule`. The space (P·n)^R is enumerated in index order when a
/// campaign covers it, and sampled uniformly otherwise.
public enum TwinsGenerator {
    /// Set partitions of `0..<n` into at most two groups (the first holds node 0), including no partition.
    public static func partitions(_ n: Int) -> [[[Int]]] {
        var out: [[[Int]]] = []
        for mask in 0..<(1 << (n - 1)) {
            var a = [0], b: [Int] = []
            for r in 1..<n { if mask & (1 << (r - 1)) != 0 { b.append(r) } else { a.append(r) } }
            out.append(b.isEmpty ? [] : [a, b])
        }
        return out
    }

    /// Whether the campaign runs real Twins (a twinned replica) rather than partitions alone.
    public static func usesTwins(_ config: FuzzConfig) -> Bool {
        config.byzantineBudget > 0 && ((try? FaultClasses.select(config.faultClasses))?.contains { $0.name == "byzantine" } ?? false)
    }

    /// Nodes partitions range over: the replicas, plus the twin.
    static func nodes(_ config: FuzzConfig) -> Int { config.replicas + (usesTwins(config) ? 1 : 0) }

    /// Size of the space for `config`, or nil when it overflows.
    public static func spaceSize(_ config: FuzzConfig) -> UInt64? {
        let per = UInt64(partitions(nodes(config)).count * config.replicas)
        var total: UInt64 = usesTwins(config) ? UInt64(config.replicas) : 1
        for _ in 0..<config.rounds {
            let (m, o) = total.multipliedReportingOverflow(by: per)
            if o { return nil }
            total = m
        }
        return total
    }

    public static func scenario(_ config: FuzzConfig, index: Int, enumerate: Bool) -> Scenario {
        var rng = DeterministicRNG(seed: config.seed, stream: "twins/\(index)")
        let twins = usesTwins(config)
        let parts = partitions(nodes(config))
        let round = 100 * RunTemplate.ms
        let end = round * Nanoseconds(config.rounds)
        var s = RunTemplate.base(config, index: index, strategy: .twins, chaosEnd: end, rng: &rng)
        var code = UInt64(index)
        var twinned = 0
        if twins {
            if enumerate {
                twinned = Int(code % UInt64(config.replicas))
                code /= UInt64(config.replicas)
            } else {
                twinned = Int(rng.below(UInt64(config.replicas)))
            }
        }
        var leaders: [Int] = []
        var roundPartitions: [[[Int]]] = []
        var previous: [[Int]]? = nil
        for r in 0..<config.rounds {
            let choice: (partition: Int, leader: Int)
            if enumerate {
                choice = (Int(code % UInt64(parts.count)), Int((code / UInt64(parts.count)) % UInt64(config.replicas)))
                code /= UInt64(parts.count * config.replicas)
            } else {
                choice = (Int(rng.below(UInt64(parts.count))), Int(rng.below(UInt64(config.replicas))))
            }
            leaders.append(choice.leader)
            let groups = parts[choice.partition]
            if twins {
                roundPartitions.append(groups.isEmpty ? [Array(0..<nodes(config))] : groups)
            } else if groups != (previous ?? []) {
                s.timeline.append(TimelineEvent(at: Nanoseconds(r) * round, action: groups.isEmpty ? .heal : .partition(groups: groups)))
            }
            previous = groups
        }
        s.parameters.viewChangeTimeout = round
        if twins {
            // Round 0 is before the first view; the scripted rounds are views 1...R, then one group.
            s.twins = TwinsSpec(replicas: [twinned], roundLeaders: config.protocolKind == .pbft ? nil : [0] + leaders,
                                roundPartitions: [[Array(0..<nodes(config))]] + roundPartitions + [[Array(0..<nodes(config))]])
        } else if config.protocolKind != .pbft {
            s.parameters.leaderSchedule = leaders
        }
        RunTemplate.seal(&s)
        return s
    }
}

/// `index` as six digits at least (file and scenario names sort by run index).
func padded(_ index: Int) -> String {
    let s = String(index)
    return s.count >= 6 ? s : String(repeating: "0", count: 6 - s.count) + s
}
