import BFTCore
import Foundation
import ScenarioFormat

/// Mutation operators of the guided strategy (over fault schedules, never over protocol code).
public enum MutationOperator: String, CaseIterable, Sendable, Codable {
    /// Add faults of one random allowed class (inside the budget).
    case addFault = "add-fault"
    /// Remove one timeline event or Byzantine replica.
    case removeFault = "remove-fault"
    /// Move one timeline event earlier or later inside the chaos phase.
    case shiftFault = "shift-fault"
    /// Move a heal (the end of a window) later, widening the window.
    case widenFault = "widen-fault"
    /// Replace the groups of one partition.
    case changePartition = "change-partition"
    /// Change a Byzantine replica's behaviour or which replica misbehaves.
    case changeBehaviour = "change-behaviour"
    /// Keep the schedule, draw new network and client randomness.
    case reseed
}

/// UCB1 (Auer et al., 2002) over mutation operators; the reward is whether the child reached new
/// states. Mallory (CCS'23) learns which actions earn coverage with Q-learning; a bandit is the
/// stateless form of the same idea.
public struct Bandit: Sendable, Codable, Equatable {
    public var pulls: [Int]
    public var rewards: [Double]
    public init(arms: Int) { pulls = Array(repeating: 0, count: arms); rewards = Array(repeating: 0, count: arms) }

    public func choose(rng: inout DeterministicRNG) -> Int {
        if let untried = pulls.firstIndex(of: 0) { return untried }
        let total = Double(pulls.reduce(0, +))
        var best = 0, bestScore = -Double.infinity
        for i in pulls.indices {
            let score = rewards[i] / Double(pulls[i]) + (2 * log(total) / Double(pulls[i])).squareRoot() + rng.unit() * 1e-9
            if score > bestScore { best = i; bestScore = score }
        }
        return best
    }

    public mutating func update(_ arm: Int, reward: Double) {
        pulls[arm] += 1
        rewards[arm] += reward
    }
}

/// A schedule that reached new states, kept for mutation.
struct CorpusEntry: Sendable {
    var scenario: Scenario
    var novelty: Int
    /// Simulator events the run took.
    var events: UInt64
    /// AFL's favouring of fast inputs: new states per unit of cost, a run of average cost counting 1.
    func energy(meanEvents: Double) -> Double {
        Double(novelty) / max(0.25, Double(events) / max(1, meanEvents))
    }
}

/// The guided strategy's state: corpus and bandit. Batches are planned from the state at the batch
/// start and their results folded in run-index order, so the campaign does not depend on `--jobs`.
struct GuidedState {
    static let corpusMax = 256
    var corpus: [CorpusEntry] = []
    var bandit = Bandit(arms: MutationOperator.allCases.count)
    /// Operator used for each planned run index (nil: fresh swarm run).
    var planned: [Int: Int] = [:]
    /// Running mean of the events a run takes (every run folded so far).
    var meanEvents: Double = 0
    var folded = 0

    mutating func plan(_ config: FuzzConfig, index: Int) -> Scenario {
        var rng = DeterministicRNG(seed: config.seed, stream: "guided/\(index)")
        // A quarter fresh swarm runs keeps the corpus from narrowing onto one region of the fault space.
        guard !corpus.isEmpty, !rng.chance(0.25) else { return renamed(SwarmGenerator.scenario(config, index: index), config, index) }
        // Parents weighted towards novelty per cost: pick two, keep the one with more energy. Children
        // of costly runs tend to be costly, and a run twice as long is a run random search got for free.
        let a = corpus[Int(rng.below(UInt64(corpus.count)))], b = corpus[Int(rng.below(UInt64(corpus.count)))]
        let parent = a.energy(meanEvents: meanEvents) >= b.energy(meanEvents: meanEvents) ? a : b
        let arm = bandit.choose(rng: &rng)
        planned[index] = arm
        var child = Mutator.apply(MutationOperator.allCases[arm], to: parent.scenario, config: config, index: index, rng: &rng)
        if rng.chance(0.3) {
            child = Mutator.apply(MutationOperator.allCases[Int(rng.below(UInt64(MutationOperator.allCases.count)))], to: child, config: config, index: index, rng: &rng)
        }
        return renamed(child, config, index)
    }

    func renamed(_ s: Scenario, _ config: FuzzConfig, _ index: Int) -> Scenario {
        var s = s
        s.name = "fuzz-\(config.protocolKind.rawValue)-run-\(padded(index))"
        s.description = "bftsim fuzz --strategy guided --seed \(config.seed), run \(index)"
        return s
    }

    mutating func learn(index: Int, scenario: Scenario, novelty: Int, events: UInt64) {
        folded += 1
        meanEvents += (Double(events) - meanEvents) / Double(folded)
        // The bandit's reward is new states per cost, capped at 1: an operator that finds states only by
        // making runs longer earns less than one that finds them in ordinary runs.
        let cost = max(1, Double(events) / max(1, meanEvents))
        if let arm = planned.removeValue(forKey: index) { bandit.update(arm, reward: novelty > 0 ? min(1, 1 / cost) : 0) }
        guard novelty > 0 else { return }
        corpus.append(CorpusEntry(scenario: scenario, novelty: novelty, events: events))
        if corpus.count > Self.corpusMax {
            let weakest = corpus.indices.min { corpus[$0].energy(meanEvents: meanEvents) < corpus[$1].energy(meanEvents: meanEvents) }!
            corpus.remove(at: weakest)
        }
    }
}

/// Applies mutation operators while keeping the run well-formed: faults stay in the chaos phase and
/// inside the budgets, the final heal stays at GST.
enum Mutator {
    /// Most fault events a mutated schedule grows to.
    static let faultEventsMax = 14

    static func apply(_ op: MutationOperator, to parent: Scenario, config: FuzzConfig, index: Int, rng: inout DeterministicRNG) -> Scenario {
        var s = parent
        // Children of novel runs tend to pile up faults (and simulate ever longer): past a bound, adding
        // a fault removes one instead.
        let op = op == .addFault && FuzzRun.faultEventCount(parent) >= Mutator.faultEventsMax ? .removeFault : op
        let gst = s.network.gst ?? config.duration / 3
        let context = FaultContext(protocolKind: config.protocolKind, replicas: s.replicas, f: s.f, chaosEnd: max(1, gst))
        // Drop the sealed tail (final heal / latency reset at GST), mutate, then seal again.
        s.timeline.removeAll { $0.at >= gst }
        switch op {
        case .addFault:
            var budget = config.budget(n: s.replicas)
            budget.crashes -= s.crashedReplicas.count
            budget.byzantine -= Set(s.byzantine.map(\.replica)).count
            budget.faulty = Set(s.crashedReplicas).union(s.byzantineReplicas)
            let classes = ((try? FaultClasses.select(config.faultClasses)) ?? []).filter { $0.applies(to: context, budget: budget) }
            if !classes.isEmpty {
                classes[Int(rng.below(UInt64(classes.count)))].inject(into: &s, budget: &budget, context: context, rng: &rng)
            }
        case .removeFault:
            let total = s.timeline.count + s.byzantine.count
            if total > 0 {
                let i = Int(rng.below(UInt64(total)))
                if i < s.timeline.count { s.timeline.remove(at: i) } else {
                    let b = s.byzantine.remove(at: i - s.timeline.count)
                    if s.parameters.leaderSchedule == [b.replica] { s.parameters.leaderSchedule = nil }
                }
            }
        case .shiftFault:
            if !s.timeline.isEmpty {
                let i = Int(rng.below(UInt64(s.timeline.count)))
                s.timeline[i].at = chaosTime(context, rng: &rng)
            }
        case .widenFault:
            let heals = s.timeline.indices.filter { if case .heal = s.timeline[$0].action { return true } else { return false } }
            if let i = heals.isEmpty ? nil : heals[Int(rng.below(UInt64(heals.count)))] {
                s.timeline[i].at = chaosTime(context, rng: &rng, from: s.timeline[i].at)
            }
        case .changePartition:
            let parts = s.timeline.indices.filter { if case .partition = s.timeline[$0].action { return true } else { return false } }
            if let i = parts.isEmpty ? nil : parts[Int(rng.below(UInt64(parts.count)))] {
                s.timeline[i].action = .partition(groups: PartitionFault.randomSplit(s.replicas, rng: &rng))
            } else {
                var budget = FaultBudget(crashes: 0, byzantine: 0)
                PartitionFault().inject(into: &s, budget: &budget, context: context, rng: &rng)
            }
        case .changeBehaviour:
            if !s.byzantine.isEmpty {
                let i = Int(rng.below(UInt64(s.byzantine.count)))
                let old = s.byzantine.remove(at: i)
                if s.parameters.leaderSchedule == [old.replica] { s.parameters.leaderSchedule = nil }
                var budget = FaultBudget(crashes: 0, byzantine: 1, faultyMax: config.budget(n: s.replicas).faultyMax)
                budget.faulty = Set(s.crashedReplicas).union(s.byzantineReplicas)
                ByzantineFault().inject(into: &s, budget: &budget, context: context, rng: &rng)
            }
        case .reseed:
            s.seed = DeterministicRNG.deriveSeed(config.seed, "reseed/\(index)")
        }
        RunTemplate.seal(&s)
        return s
    }
}
