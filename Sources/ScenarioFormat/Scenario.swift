import BFTCore

/// Which protocol (and variant) a scenario runs.
public enum ProtocolKind: String, Sendable, Equatable, CaseIterable, Codable {
    /// PBFT (Castro & Liskov), signature variant.
    case pbft
    /// Chained HotStuff (Yin et al., PODC'19), three-chain commit.
    case hotstuff
    /// Two-chain HotStuff (Jolteon / DiemBFT v4), with timeout certificates.
    case hotstuffTwoChain = "hotstuff-two-chain"
}

/// A latency distribution in nanoseconds. Samples are clamped to be at least 1 ns.
public enum LatencyDistribution: Sendable, Equatable, Codable {
    case constant(Nanoseconds)
    case uniform(min: Nanoseconds, max: Nanoseconds)
    case normal(mean: Nanoseconds, stddev: Nanoseconds)
    case exponential(mean: Nanoseconds)
    /// Log-normal with the given median (e^μ) and σ of the underlying normal.
    case lognormal(median: Nanoseconds, sigma: Double)
}

/// Per-directed-link overrides (for example one slow link). `nil` fields keep the default.
public struct LinkSpec: Sendable, Equatable, Codable {
    public var from: Int
    public var to: Int
    public var latency: LatencyDistribution?
    public var loss: Double?
    public init(from: Int, to: Int, latency: LatencyDistribution? = nil, loss: Double? = nil) {
        self.from = from
        self.to = to
        self.latency = latency
        self.loss = loss
    }
}

/// The network model. Before GST messages may be lost, duplicated and delayed arbitrarily (within
/// the distribution); from GST on, delivery is lossless, without duplication, and every delay is at
/// most `delayMaxAfterGST` (partial synchrony, Dwork–Lynch–Stockmeyer). Partitions and cut links
/// are explicit timeline faults and apply until the timeline heals them, before or after GST; the
/// liveness promise starts after both GST and the timeline's last event.
public struct NetworkSpec: Sendable, Equatable, Codable {
    public var latency: LatencyDistribution
    /// Probability a message is lost (before GST).
    public var loss: Double
    /// Probability a message is delivered twice (before GST).
    public var duplication: Double
    /// Extra uniform jitter in `0...jitter` added to each delay; it reorders messages on a link.
    public var jitter: Nanoseconds
    public var links: [LinkSpec]
    /// Global stabilisation time; `nil` means never (loss and duplication apply for the whole run).
    public var gst: Nanoseconds?
    public var delayMaxAfterGST: Nanoseconds

    public init(latency: LatencyDistribution = .constant(1 * nanosPerMillisecond), loss: Double = 0, duplication: Double = 0,
                jitter: Nanoseconds = 0, links: [LinkSpec] = [], gst: Nanoseconds? = nil,
                delayMaxAfterGST: Nanoseconds = 50 * nanosPerMillisecond) {
        self.latency = latency
        self.loss = loss
        self.duplication = duplication
        self.jitter = jitter
        self.links = links
        self.gst = gst
        self.delayMaxAfterGST = delayMaxAfterGST
    }
}

/// Protocol parameters. Fields a protocol does not use are ignored by it.
public struct ProtocolParameters: Sendable, Equatable, Codable {
    /// Requests per PRE-PREPARE at most.
    public var batchSizeMax: Int
    /// How long the primary waits to fill a batch before sending a partial one.
    public var batchDelayMax: Nanoseconds
    /// Checkpoint interval K (Castro & Liskov §4.3).
    public var checkpointInterval: Int
    /// Watermark window L = H - h (a multiple of K, typically 2K).
    public var watermarkWindow: Int
    /// Initial view-change timeout (PBFT §4.5.2) or view timeout (HotStuff pacemaker); doubles on each
    /// consecutive failure up to `viewChangeTimeoutMax`.
    public var viewChangeTimeout: Nanoseconds
    public var viewChangeTimeoutMax: Nanoseconds
    /// HotStuff: view v is led by `leaderSchedule[v % count]`; nil means round-robin `v % n`.
    public var leaderSchedule: [Int]?

    public init(batchSizeMax: Int = 10, batchDelayMax: Nanoseconds = 2 * nanosPerMillisecond, checkpointInterval: Int = 32,
                watermarkWindow: Int = 64, viewChangeTimeout: Nanoseconds = 400 * nanosPerMillisecond,
                viewChangeTimeoutMax: Nanoseconds = 10 * nanosPerSecond, leaderSchedule: [Int]? = nil) {
        self.batchSizeMax = batchSizeMax
        self.batchDelayMax = batchDelayMax
        self.checkpointInterval = checkpointInterval
        self.watermarkWindow = watermarkWindow
        self.viewChangeTimeout = viewChangeTimeout
        self.viewChangeTimeoutMax = viewChangeTimeoutMax
        self.leaderSchedule = leaderSchedule
    }
}

/// One scheduled fault or repair.
public enum TimelineAction: Sendable, Equatable, Codable {
    /// Symmetric partition: replicas in different groups cannot exchange messages. Replicas not
    /// listed form one more group of their own.
    case partition(groups: [[Int]])
    /// Cut the links between one replica and all others (both ways).
    case isolate(replica: Int)
    /// Cut one directed link (`oneWay`) or both directions.
    case cutLink(from: Int, to: Int, oneWay: Bool)
    /// Remove every partition and cut link.
    case heal
    /// Change the latency of one directed link, or of all links when `from`/`to` are nil.
    case setLatency(from: Int?, to: Int?, latency: LatencyDistribution)
    /// Change the loss probability of one directed link, or of all links.
    case setLoss(from: Int?, to: Int?, loss: Double)
    /// The replica stops: it takes no more inputs, its timers are dropped.
    case crash(replica: Int)
}

public struct TimelineEvent: Sendable, Equatable, Codable {
    public var at: Nanoseconds
    public var action: TimelineAction
    public init(at: Nanoseconds, action: TimelineAction) {
        self.at = at
        self.action = action
    }
}

/// A Byzantine replica: which behaviour wraps the honest replica (issue 4 grows the library).
public struct ByzantineSpec: Sendable, Equatable, Codable {
    public var replica: Int
    /// Behaviour name, e.g. "equivocate" (the primary sends different PRE-PREPAREs to different backups).
    public var behaviour: String
    public init(replica: Int, behaviour: String) {
        self.replica = replica
        self.behaviour = behaviour
    }
}

/// What the scenario's author expects; a run that matches is "as expected", even for violations.
public struct Expectations: Sendable, Equatable, Codable {
    public var safety: Verdict
    public var liveness: Verdict
    public init(safety: Verdict = .holds, liveness: Verdict = .holds) {
        self.safety = safety
        self.liveness = liveness
    }
}

/// When the run ends: at `timeLimit` of simulated time, or earlier once every client finished its
/// requests (when `untilClientsDone`).
public struct StopCondition: Sendable, Equatable, Codable {
    public var timeLimit: Nanoseconds
    public var untilClientsDone: Bool
    public init(timeLimit: Nanoseconds = 60 * nanosPerSecond, untilClientsDone: Bool = true) {
        self.timeLimit = timeLimit
        self.untilClientsDone = untilClientsDone
    }
}

/// Liveness: after GST and once the timeline's last fault healed, every request of a correct client
/// completes within `bound` of max(issue time, GST, last heal).
public struct LivenessSpec: Sendable, Equatable, Codable {
    public var bound: Nanoseconds
    public init(bound: Nanoseconds = 10 * nanosPerSecond) { self.bound = bound }
}

/// A complete, validated scenario.
public struct Scenario: Sendable, Equatable, Codable {
    public var name: String
    public var description: String
    public var protocolKind: ProtocolKind
    /// Replica count n.
    public var replicas: Int
    /// Fault budget f the cluster is configured for (n ≥ 3f+1).
    public var f: Int
    public var seed: UInt64
    public var crypto: SignatureScheme
    public var stop: StopCondition
    public var network: NetworkSpec
    public var workload: WorkloadSpec
    public var parameters: ProtocolParameters
    public var timeline: [TimelineEvent]
    public var byzantine: [ByzantineSpec]
    public var liveness: LivenessSpec
    public var expect: Expectations

    public init(name: String, description: String = "", protocolKind: ProtocolKind = .pbft, replicas: Int = 4, f: Int? = nil,
                seed: UInt64 = 1, crypto: SignatureScheme = .ed25519, stop: StopCondition = StopCondition(),
                network: NetworkSpec = NetworkSpec(), workload: WorkloadSpec = WorkloadSpec(),
                parameters: ProtocolParameters = ProtocolParameters(), timeline: [TimelineEvent] = [],
                byzantine: [ByzantineSpec] = [], liveness: LivenessSpec = LivenessSpec(), expect: Expectations = Expectations()) {
        self.name = name
        self.description = description
        self.protocolKind = protocolKind
        self.replicas = replicas
        self.f = f ?? QuorumMath.maxFaulty(n: replicas)
        self.seed = seed
        self.crypto = crypto
        self.stop = stop
        self.network = network
        self.workload = workload
        self.parameters = parameters
        self.timeline = timeline
        self.byzantine = byzantine
        self.liveness = liveness
        self.expect = expect
    }

    /// Replicas that crash at some point of the timeline, in id order.
    public var crashedReplicas: [Int] {
        var s = Set<Int>()
        for e in timeline { if case .crash(let r) = e.action { s.insert(r) } }
        return s.sorted()
    }

    /// Replicas that misbehave (Byzantine), in id order.
    public var byzantineReplicas: [Int] { Set(byzantine.map(\.replica)).sorted() }
}
