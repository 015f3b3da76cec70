import BFTCore
import Runner
import ScenarioFormat

/// What a fault class may use when it adds faults to a generated run.
public struct FaultContext: Sendable {
    public var protocolKind: ProtocolKind
    public var replicas: Int
    public var f: Int
    /// Every fault of the chaos phase happens in `[0, chaosEnd)`; at `chaosEnd` the timeline heals and GST starts.
    public var chaosEnd: Nanoseconds
}

/// The faulty replicas a run may still add: crash and Byzantine budgets, and who is already faulty.
/// A replica is at most one of crashed or Byzantine, so the run's faulty count is the sum used.
public struct FaultBudget: Sendable, Equatable {
    public var crashes: Int
    public var byzantine: Int
    public var faulty: Set<Int> = []
    /// Most faulty replicas of either kind together (f when the budgets are "f"; unbounded otherwise).
    public var faultyMax: Int
    public init(crashes: Int, byzantine: Int, faultyMax: Int = .max) {
        self.crashes = crashes
        self.byzantine = byzantine
        self.faultyMax = faultyMax
    }

    /// A replica not yet faulty, or nil when every replica is (or the run already has `faultyMax`).
    /// With `preferring`, that replica (if still correct) half of the time.
    func pickCorrect(_ n: Int, preferring: Int? = nil, rng: inout DeterministicRNG) -> Int? {
        guard faulty.count < faultyMax else { return nil }
        let free = (0..<n).filter { !faulty.contains($0) }
        guard !free.isEmpty else { return nil }
        if let p = preferring, free.contains(p), rng.chance(0.5) { return p }
        return free[Int(rng.below(UInt64(free.count)))]
    }
}

/// One kind of fault the fuzzer can switch on (swarm testing turns a random subset on per run).
///
/// A class adds its faults to the chaos phase of a scenario with random parameters, staying inside
/// the budget. New fault kinds (message-level faults, crash-restart, more Byzantine behaviours) are one
/// new conforming type appended to `FaultClasses.all`; the generators, mutations and shrinker need no change.
public protocol FaultClass: Sendable {
    /// Name used by `--faults`.
    var name: String { get }
    /// Whether the class means anything for this protocol (and budget).
    func applies(to context: FaultContext, budget: FaultBudget) -> Bool
    /// Adds one or more faults of this class to `scenario`.
    func inject(into scenario: inout Scenario, budget: inout FaultBudget, context: FaultContext, rng: inout DeterministicRNG)
}

extension FaultClass {
    public func applies(to context: FaultContext, budget: FaultBudget) -> Bool { true }
}

/// The registry of fault classes, in a fixed order (the order affects generation, so keep it stable).
public enum FaultClasses {
    public static let all: [any FaultClass] = [
        CrashFault(), PartitionFault(), IsolateFault(), CutLinkFault(), LossFault(), LatencyFault(), ByzantineFault(),
        RestartFault(), MessageFault(),
    ]
    public static var names: [String] { all.map(\.name) }

    /// The classes named in `names` (in registry order); throws the unknown names.
    public static func select(_ names: [String]) throws(FuzzError) -> [any FaultClass] {
        let unknown = names.filter { n in !all.contains { $0.name == n } }
        guard unknown.isEmpty else {
            throw .invalid("unknown fault class \(unknown.joined(separator: ", ")) (known: \(FaultClasses.names.joined(separator: ", ")))")
        }
        return all.filter { names.contains($0.name) }
    }
}

/// A random time inside the chaos phase.
func chaosTime(_ context: FaultContext, rng: inout DeterministicRNG, from: Nanoseconds = 0) -> Nanoseconds {
    let lo = min(from, context.chaosEnd - 1)
    return lo + Nanoseconds(rng.below(UInt64(max(1, context.chaosEnd - lo))))
}

/// A window `[start, end)` inside the chaos phase.
func chaosWindow(_ context: FaultContext, rng: inout DeterministicRNG) -> (Nanoseconds, Nanoseconds) {
    let start = chaosTime(context, rng: &rng)
    let end = chaosTime(context, rng: &rng, from: start + 1)
    return (start, max(end, start + 1))
}

/// Crash-stop of up to the crash budget's replicas at random times.
public struct CrashFault: FaultClass {
    public var name: String { "crash" }
    public func applies(to context: FaultContext, budget: FaultBudget) -> Bool { budget.crashes > 0 }
    public func inject(into scenario: inout Scenario, budget: inout FaultBudget, context: FaultContext, rng: inout DeterministicRNG) {
        let count = 1 + Int(rng.below(UInt64(max(1, budget.crashes))))
        for _ in 0..<count where budget.crashes > 0 {
            guard let r = budget.pickCorrect(context.replicas, rng: &rng) else { return }
            budget.faulty.insert(r)
            budget.crashes -= 1
            scenario.timeline.append(TimelineEvent(at: chaosTime(context, rng: &rng), action: .crash(replica: r)))
        }
    }
}

/// A random two-way split of the replicas, applied in a window and healed at its end.
public struct PartitionFault: FaultClass {
    public var name: String { "partition" }
    public func inject(into scenario: inout Scenario, budget: inout FaultBudget, context: FaultContext, rng: inout DeterministicRNG) {
        for _ in 0..<(1 + Int(rng.below(2))) {
            let (start, end) = chaosWindow(context, rng: &rng)
            scenario.timeline.append(TimelineEvent(at: start, action: .partition(groups: Self.randomSplit(context.replicas, rng: &rng))))
            scenario.timeline.append(TimelineEvent(at: end, action: .heal))
        }
    }

    /// Two non-empty groups.
    static func randomSplit(_ n: Int, rng: inout DeterministicRNG) -> [[Int]] {
        var ids = Array(0..<n)
        rng.shuffle(&ids)
        let k = 1 + Int(rng.below(UInt64(max(1, n - 1))))
        return [Array(ids[0..<k]).sorted(), Array(ids[k...]).sorted()]
    }
}

/// One replica cut off from all others for a window.
public struct IsolateFault: FaultClass {
    public var name: String { "isolate" }
    public func inject(into scenario: inout Scenario, budget: inout FaultBudget, context: FaultContext, rng: inout DeterministicRNG) {
        let (start, end) = chaosWindow(context, rng: &rng)
        scenario.timeline.append(TimelineEvent(at: start, action: .isolate(replica: Int(rng.below(UInt64(context.replicas))))))
        scenario.timeline.append(TimelineEvent(at: end, action: .heal))
    }
}

/// One directed (or two-way) link cut for a window.
public struct CutLinkFault: FaultClass {
    public var name: String { "cut-link" }
    public func inject(into scenario: inout Scenario, budget: inout FaultBudget, context: FaultContext, rng: inout DeterministicRNG) {
        let n = UInt64(context.replicas)
        let from = Int(rng.below(n))
        let to = (from + 1 + Int(rng.below(n - 1))) % context.replicas
        let (start, end) = chaosWindow(context, rng: &rng)
        scenario.timeline.append(TimelineEvent(at: start, action: .cutLink(from: from, to: to, oneWay: rng.chance(0.5))))
        scenario.timeline.append(TimelineEvent(at: end, action: .heal))
    }
}

/// Message loss and duplication before GST (the network model stops both at GST).
public struct LossFault: FaultClass {
    public var name: String { "loss" }
    public func inject(into scenario: inout Scenario, budget: inout FaultBudget, context: FaultContext, rng: inout DeterministicRNG) {
        scenario.network.loss = Double(1 + rng.below(30)) / 100
        if rng.chance(0.5) { scenario.network.duplication = Double(1 + rng.below(20)) / 100 }
    }
}

/// Variable delay and reordering: a wider latency distribution with jitter, and sometimes one slow
/// directed link for a window (delays are capped after GST).
public struct LatencyFault: FaultClass {
    public var name: String { "latency" }
    public func inject(into scenario: inout Scenario, budget: inout FaultBudget, context: FaultContext, rng: inout DeterministicRNG) {
        let ms = nanosPerMillisecond
        scenario.network.latency = .uniform(min: ms, max: Nanoseconds(2 + rng.below(20)) * ms)
        scenario.network.jitter = Nanoseconds(rng.below(5)) * ms
        if rng.chance(0.5) {
            let n = UInt64(context.replicas)
            let from = Int(rng.below(n))
            let to = (from + 1 + Int(rng.below(n - 1))) % context.replicas
            let (start, end) = chaosWindow(context, rng: &rng)
            let slow = LatencyDistribution.constant(Nanoseconds(50 + rng.below(300)) * ms)
            scenario.timeline.append(TimelineEvent(at: start, action: .setLatency(from: from, to: to, latency: slow)))
            scenario.timeline.append(TimelineEvent(at: end, action: .setLatency(from: from, to: to, latency: scenario.network.latency)))
        }
    }
}

/// Byzantine replicas drawn from the whole behaviour library the protocol implements (the driver's
/// `byzantineBehaviours`, the same registry scenario files and `cluster up --byzantine` use), with
/// random parameters: `omit` and `mutate` targets (ByzzFuzz's small scope: an altered message to a
/// chosen subset), `mutate`/`conflict` fields, `slow`/`replay` delays, and for the layerable behaviours
/// sometimes a time window and a second layer. `amnesia` comes with a crash-restart of its replica.
/// The HotStuff fork scripts lead every view (`leader_schedule: [id]`), so at most one per run and
/// only when none leads yet.
public struct ByzantineFault: FaultClass {
    public var name: String { "byzantine" }
    public func applies(to context: FaultContext, budget: FaultBudget) -> Bool { budget.byzantine > 0 }

    /// Every behaviour `kind` implements, in the driver's (stable) order.
    public static func behaviours(for kind: ProtocolKind) -> [String] { Runner.driver(for: kind).byzantineBehaviours }

    /// Fields `mutate` may change for `kind` (the rest exist only in the other protocol's messages).
    public static func mutations(for kind: ProtocolKind) -> [String] {
        switch kind {
        case .pbft: return ByzantineSpec.mutations.filter { $0 != "duplicate-requests" }
        case .hotstuff, .hotstuffTwoChain:
            return ["view+1", "view-1", "sequence+1", "sequence-1", "digest", "stale-certificate", "truncated-certificate", "conflicting-batch",
                    "duplicate-requests"]
        }
    }

    public func inject(into scenario: inout Scenario, budget: inout FaultBudget, context: FaultContext, rng: inout DeterministicRNG) {
        let count = 1 + Int(rng.below(UInt64(max(1, budget.byzantine))))
        for _ in 0..<count where budget.byzantine > 0 {
            // PBFT's attacks as primary (PRE-PREPARE, NEW-VIEW) need the primary of a view: half of the
            // time the Byzantine replica is the primary of view 1, which the first view change elects.
            // (HotStuff rotates leaders every view, so every replica leads early.)
            let preferred = context.protocolKind == .pbft ? 1 % context.replicas : nil
            guard let r = budget.pickCorrect(context.replicas, preferring: preferred, rng: &rng) else { return }
            var options = Self.behaviours(for: context.protocolKind)
            if scenario.parameters.leaderSchedule != nil { options.removeAll { $0.hasPrefix("fork-") } }
            let behaviour = Self.pickAttack(options, kind: context.protocolKind, rng: &rng)
            if behaviour.hasPrefix("fork-") { scenario.parameters.leaderSchedule = [r] }
            budget.faulty.insert(r)
            budget.byzantine -= 1
            scenario.byzantine.append(Self.spec(r, behaviour, context: context, rng: &rng))
            if behaviour == "amnesia" {
                scenario.timeline.append(TimelineEvent(at: chaosTime(context, rng: &rng),
                                                       action: .restart(replica: r, delay: RestartFault.downtime(rng: &rng))))
            }
            // A second layer now and then (e.g. mutate + slow): layers compose around the honest replica.
            if !ByzantineSpec.wholeRunBehaviours.contains(behaviour), rng.chance(0.25) {
                let layerable = options.filter { !ByzantineSpec.wholeRunBehaviours.contains($0) && $0 != behaviour }
                if !layerable.isEmpty {
                    scenario.byzantine.append(Self.spec(r, layerable[Int(rng.below(UInt64(layerable.count)))], context: context, rng: &rng))
                }
            }
        }
    }

    /// A behaviour, weighted so that every attack is equally likely: `mutate` stands for one attack
    /// per field it can change, `conflict` for its two, every other behaviour for one.
    static func pickAttack(_ options: [String], kind: ProtocolKind, rng: inout DeterministicRNG) -> String {
        func weight(_ b: String) -> UInt64 {
            switch b {
            case "mutate": return UInt64(mutations(for: kind).count)
            case "conflict": return 2
            default: return 1
            }
        }
        var pick = rng.below(options.reduce(0) { $0 + weight($1) })
        for b in options {
            if pick < weight(b) { return b }
            pick -= weight(b)
        }
        return options[options.count - 1]
    }

    /// One entry with random parameters for `behaviour`.
    static func spec(_ r: Int, _ behaviour: String, context: FaultContext, rng: inout DeterministicRNG) -> ByzantineSpec {
        var b = ByzantineSpec(replica: r, behaviour: behaviour)
        let others = (0..<context.replicas).filter { $0 != r }
        func subset(_ rng: inout DeterministicRNG) -> [Int] { LayerBehaviour.randomTargets(&rng, others) }
        if let layer = LayerRegistry.named(behaviour) {
            let arguments = layer.draw(&rng, others)
            b.targets = arguments.targets
            b.delay = arguments.delay
        }
        switch behaviour {
        case "mutate":
            let fields = mutations(for: context.protocolKind)
            b.mutation = fields[Int(rng.below(UInt64(fields.count)))]
            if rng.chance(0.5) { b.targets = subset(&rng) }
        case "conflict":
            b.mutation = context.protocolKind == .pbft && rng.chance(0.5) ? "digest" : "conflicting-batch"
            if rng.chance(0.5) { b.targets = subset(&rng) }
        default: break
        }
        if !ByzantineSpec.wholeRunBehaviours.contains(behaviour), rng.chance(0.3) {
            let (start, end) = chaosWindow(context, rng: &rng)
            b.from = start
            if rng.chance(0.5) { b.until = end }
        }
        return b
    }
}

/// Crash-restart with durable state: a replica crashes at a random time (possibly mid view change or
/// right after a vote) and is rebuilt after a downtime from what its storage had synced, then
/// recovers through the protocol's own catch-up. Sometimes twice. Uses the crash budget.
public struct RestartFault: FaultClass {
    public var name: String { "restart" }
    public func applies(to context: FaultContext, budget: FaultBudget) -> Bool { budget.crashes > 0 }

    static func downtime(rng: inout DeterministicRNG) -> Nanoseconds {
        Nanoseconds(rng.below(400)) * nanosPerMillisecond
    }

    public func inject(into scenario: inout Scenario, budget: inout FaultBudget, context: FaultContext, rng: inout DeterministicRNG) {
        guard let r = budget.pickCorrect(context.replicas, rng: &rng) else { return }
        budget.faulty.insert(r)
        budget.crashes -= 1
        var at = chaosTime(context, rng: &rng)
        for _ in 0..<(1 + Int(rng.below(2))) {
            let down = Self.downtime(rng: &rng)
            scenario.timeline.append(TimelineEvent(at: at, action: .restart(replica: r, delay: down)))
            at = chaosTime(context, rng: &rng, from: at + down + 1)
        }
    }
}

/// Message-level network faults on one message type in a bounded range of views (ByzzFuzz's
/// network faults: a few rounds, a chosen link or all): drop, delay, duplicate, or hold and release
/// later (reordering). Every fault ends inside the chaos phase.
public struct MessageFault: FaultClass {
    public var name: String { "message" }

    public static func types(for kind: ProtocolKind) -> [String] {
        switch kind {
        case .pbft: return ["PRE-PREPARE", "PREPARE", "COMMIT", "CHECKPOINT", "VIEW-CHANGE", "NEW-VIEW", "STATE", "BATCH"]
        case .hotstuff: return ["PROPOSAL", "VOTE", "NEW-VIEW", "SYNC", "BLOCK-RESPONSE"]
        case .hotstuffTwoChain: return ["PROPOSAL", "VOTE", "TIMEOUT", "SYNC", "BLOCK-RESPONSE"]
        }
    }

    public func inject(into scenario: inout Scenario, budget: inout FaultBudget, context: FaultContext, rng: inout DeterministicRNG) {
        let types = Self.types(for: context.protocolKind)
        let n = UInt64(context.replicas)
        for _ in 0..<(1 + Int(rng.below(3))) {
            let action = MessageFaultSpec.Action.allCases[Int(rng.below(UInt64(MessageFaultSpec.Action.allCases.count)))]
            let (start, end) = chaosWindow(context, rng: &rng)
            let first = rng.below(6)
            let type = types[Int(rng.below(UInt64(types.count)))]
            let viewless = ["CHECKPOINT", "STATE", "SYNC", "BLOCK-RESPONSE"].contains(type)
            var spec = MessageFaultSpec(action: action, type: type,
                                        views: viewless ? nil : first...(first + rng.below(3)), until: end,
                                        delay: Nanoseconds(10 + rng.below(300)) * nanosPerMillisecond)
            if action == .drop || action == .hold { spec.delay = 0 }  // only delay and duplicate take one
            if rng.chance(0.5) { spec.from = Int(rng.below(n)) }
            if rng.chance(0.5) { spec.to = Int(rng.below(n)) }
            if spec.from != nil, spec.from == spec.to { spec.to = nil }
            spec.bothWays = spec.from != nil && spec.to != nil && rng.chance(0.3)
            scenario.timeline.append(TimelineEvent(at: start, action: .messageFault(spec)))
        }
    }
}
