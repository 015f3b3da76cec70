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
    /// Bits per second of each sender's link; outgoing bytes are serialised on it one message after
    /// another (issue 15). nil: unlimited, messages leave at once.
    public var bandwidth: Int64? = nil

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
    /// The replica stops: it takes no more inputs, its timers are dropped, unsynced writes are lost.
    case crash(replica: Int)
    /// The replica (crashed now if it is running) is rebuilt from its protocol after `delay` and fed
    /// `.recover(durable:)` with what its storage had synced.
    case restart(replica: Int, delay: Nanoseconds)
    /// The replica's storage loses its unsynced writes, and also its last `writesLost` synced writes
    /// when given (a misdirected or torn write, TigerBeetle-style): durability itself is broken.
    case storageFault(replica: Int, writesLost: Int?)
    /// A message-level fault in force until `spec.until` (or the end of the run).
    case messageFault(MessageFaultSpec)
}

/// A message-level fault: which messages it matches and what happens to them.
public struct MessageFaultSpec: Sendable, Equatable, Codable {
    public enum Action: String, Sendable, Equatable, Codable, CaseIterable {
        /// The matching message is lost.
        case drop
        /// The matching message arrives `delay` later than the network would deliver it.
        case delay
        /// The matching message is delivered twice (the copy `delay` later).
        case duplicate
        /// The matching message is held and released at `until` (delivered then, in send order).
        case hold
    }
    public var action: Action
    /// Sender replica; nil matches any replica.
    public var from: Int?
    /// Receiver replica; nil matches any replica.
    public var to: Int?
    /// Also match the reverse direction (to → from).
    public var bothWays: Bool
    /// Message type as `describe` names it (e.g. "PREPARE", "VOTE"); nil matches any.
    public var type: String?
    /// Inclusive view range; messages without a view do not match a range.
    public var views: ClosedRange<UInt64>?
    /// Inclusive sequence (PBFT) or height (HotStuff) range.
    public var sequences: ClosedRange<UInt64>?
    /// End of the fault; nil means the end of the run. `hold` needs it.
    public var until: Nanoseconds?
    /// Extra delay for `delay` and `duplicate`.
    public var delay: Nanoseconds

    public init(action: Action, from: Int? = nil, to: Int? = nil, bothWays: Bool = false, type: String? = nil,
                views: ClosedRange<UInt64>? = nil, sequences: ClosedRange<UInt64>? = nil, until: Nanoseconds? = nil,
                delay: Nanoseconds = 0) {
        self.action = action
        self.from = from
        self.to = to
        self.bothWays = bothWays
        self.type = type
        self.views = views
        self.sequences = sequences
        self.until = until
        self.delay = delay
    }

    /// Whether a message from replica `sender` to `receiver` with `info` matches (time is checked by the caller).
    public func matches(sender: Int, receiver: Int, info: MessageInfo) -> Bool {
        let forward = (from == nil || from == sender) && (to == nil || to == receiver)
        let backward = bothWays && (from == nil || from == receiver) && (to == nil || to == sender)
        guard forward || backward else { return false }
        if let type, type != info.type { return false }
        if let views {
            guard let v = info.view, views.contains(v) else { return false }
        }
        if let sequences {
            guard let s = info.sequence, sequences.contains(s) else { return false }
        }
        return true
    }
}

public struct TimelineEvent: Sendable, Equatable, Codable {
    public var at: Nanoseconds
    public var action: TimelineAction
    public init(at: Nanoseconds, action: TimelineAction) {
        self.at = at
        self.action = action
    }
}

/// A Byzantine replica: which behaviour wraps the honest replica, and when it is in force.
///
/// A replica may have several entries; they compose as layers around the honest replica in the order
/// listed (each rewrites what the layers inside it emit).
public struct ByzantineSpec: Sendable, Equatable, Codable {
    public var replica: Int
    /// Behaviour name, e.g. "equivocate" (the primary sends different PRE-PREPAREs to different backups).
    public var behaviour: String
    /// The behaviour starts at `from` (nil: from the start) and stops at `until` (nil: never).
    public var from: Nanoseconds?
    public var until: Nanoseconds?
    /// Replicas a behaviour addresses: `omit` sends only to these.
    public var targets: [Int]?
    /// `slow`: how long own messages are held; `replay`: how far back replayed messages come from.
    public var delay: Nanoseconds?
    /// `mutate`: which field is changed (see `ByzantineSpec.mutations`).
    public var mutation: String?
    /// `script`: the only messages this replica sends, each at its time to its listed receivers.
    public var script: [ScriptStep]?

    public init(replica: Int, behaviour: String, from: Nanoseconds? = nil, until: Nanoseconds? = nil,
                targets: [Int]? = nil, delay: Nanoseconds? = nil, mutation: String? = nil, script: [ScriptStep]? = nil) {
        self.script = script
        self.replica = replica
        self.behaviour = behaviour
        self.from = from
        self.until = until
        self.targets = targets
        self.delay = delay
        self.mutation = mutation
    }

    /// Whether the behaviour is in force for the whole run.
    public var isAlwaysOn: Bool { from == nil && until == nil }
}

/// Twins (Bano et al., OPODIS'21): a second honest instance, with the same key, of each listed replica.
///
/// Nodes are numbered as the Twins generator numbers them: replicas `0..<n`, then the twin of
/// `replicas[k]` is node `n + k`. Round r's partition (`roundPartitions[r]`, groups of nodes) is put in
/// force when the first replica enters view r; after the listed rounds the last one stays in force.
/// Clients reach every instance of a replica id.
/// `roundLeaders[r]` leads view r (HotStuff; beyond the list leaders go round-robin).
public struct TwinsSpec: Sendable, Equatable, Codable {
    public var replicas: [Int]
    public var roundLeaders: [Int]?
    public var roundPartitions: [[[Int]]]?
    public init(replicas: [Int], roundLeaders: [Int]? = nil, roundPartitions: [[[Int]]]? = nil) {
        self.replicas = replicas
        self.roundLeaders = roundLeaders
        self.roundPartitions = roundPartitions
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
    public var twins: TwinsSpec?
    public var liveness: LivenessSpec
    public var expect: Expectations
    /// An explicit schedule (issue 17): when set, the simulator carries out these steps instead of its
    /// network model and timers (see `ScheduleStep`). Written by `bftsim explore`; nil for every other file.
    public var schedule: [ScheduleStep]? = nil
    /// CPU costs of handling messages (issue 15); nil: handling is free, as in every scenario before it.
    public var costs: CostTable? = nil
    /// Where replicas and clients run, with how many cores each host has. Empty with `costs`: each
    /// replica and each client has a one-core host of its own.
    public var hosts: [HostSpec] = []

    public init(name: String, description: String = "", protocolKind: ProtocolKind = .pbft, replicas: Int = 4, f: Int? = nil,
                seed: UInt64 = 1, crypto: SignatureScheme = .ed25519, stop: StopCondition = StopCondition(),
                network: NetworkSpec = NetworkSpec(), workload: WorkloadSpec = WorkloadSpec(),
                parameters: ProtocolParameters = ProtocolParameters(), timeline: [TimelineEvent] = [],
                byzantine: [ByzantineSpec] = [], twins: TwinsSpec? = nil, liveness: LivenessSpec = LivenessSpec(),
                expect: Expectations = Expectations()) {
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
        self.twins = twins
        self.liveness = liveness
        self.expect = expect
    }

    /// Replicas that crash at some point of the timeline, in id order.
    public var crashedReplicas: [Int] {
        var s = Set<Int>()
        for e in timeline {
            switch e.action {
            case .crash(let r), .restart(let r, _): s.insert(r)
            case .storageFault(let r, let lost?) where lost > 0: s.insert(r)
            default: break
            }
        }
        return s.sorted()
    }

    /// Replicas that misbehave (Byzantine, or twinned: two instances of one id are one faulty replica), in id order.
    public var byzantineReplicas: [Int] { Set(byzantine.map(\.replica)).union(twins?.replicas ?? []).sorted() }
}
