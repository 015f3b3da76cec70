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
    /// Move the run to another n of the campaign's range (`--replicas 4..7`), keeping every fault that
    /// still names a replica of it. The other operators keep a parent's n, so without this one a corpus
    /// entry at n = 4 never meets the quorum arithmetic that is wrong only at n = 6.
    case resize
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
    /// Coverage states the run reached (sorted), for distilling a seed corpus.
    var states: [UInt64] = []
    /// The run's schedule features (`ScheduleFeatures`): an entry that alone carries one is never evicted.
    var features: [UInt64] = []
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

    /// Seed schedules, run first, then learned from like any run.
    var seeds: [Scenario] = []
    var seedsIssued = 0
    /// Fresh swarm runs planned so far.
    var freshIssued = 0
    /// Run indices planned as fresh swarm runs (not yet folded).
    var plannedFresh: Set<Int> = []
    /// Reward (new states per cost, as the bandit's) earned by fresh runs and by mutated children.
    var freshPayoff = Payoff(), childPayoff = Payoff()
    /// The share of post-seed runs that are mutated children stays in this range.
    static let childShare: ClosedRange<Double> = 0.25...0.75
    /// Corpus entries a campaign writes for later ones.
    static let distilledMax = 64

    mutating func plan(_ config: FuzzConfig, index: Int) -> Scenario {
        // Fresh runs replay the random strategy's sequence (the k-th fresh run is random's run k), so
        // guided search never loses what random search finds early, only takes up to four times the runs
        // (`childShare`), and about as many where mutated children stop paying.
        func fresh() -> Scenario {
            freshIssued += 1
            plannedFresh.insert(index)
            return renamed(SwarmGenerator.scenario(config, index: freshIssued - 1), config, index)
        }
        // Seeds first: a distilled corpus (at most `distilledMax` entries) covers the fault space's
        // features cheaply, so it runs before anything else; seeds beyond that are interleaved with
        // fresh runs, so a large corpus cannot hold back what random search finds early.
        if seedsIssued < seeds.count {
            if seedsIssued >= Self.distilledMax && index % 2 == 1 { return fresh() }
            seedsIssued += 1
            // A seed may state an observed liveness violation the fault model excuses (`Campaign`); the
            // fuzzer judges runs by its own oracle, and the files it writes expect what a run promises.
            var seed = seeds[seedsIssued - 1]
            seed.expect = Expectations()
            return renamed(seed, config, index)
        }
        var rng = DeterministicRNG(seed: config.seed, stream: "guided/\(index)")
        // Fresh swarm runs keep the corpus from narrowing onto one region of the fault space. How many
        // is learned by probability matching: each source gets runs in proportion to the reward its
        // runs earned so far (Laplace-smoothed, so both start at a half), within `childShare`. Where
        // mutating the corpus reaches new states no faster than fresh runs do, guided search spends
        // most runs on random's sequence and loses less to it; where children pay, they get most.
        guard !corpus.isEmpty, rng.chance(childProbability) else { return fresh() }
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

    /// The corpus entries worth seeding a later campaign with (afl-cmin's idea): greedily, the entry
    /// reaching the most states no chosen entry reaches, per unit of cost, until `distilledMax` entries
    /// or nothing new is left. Ties go to the earlier entry, so the result is deterministic.
    ///
    /// First every schedule feature the corpus holds is covered (set cover, the entry adding the most
    /// features per unit of cost first): a behaviour whose runs are costly — a fork script leading every
    /// view stalls until the time limit — would otherwise lose to cheap runs on states per cost and never
    /// make the 64, and the lock rules it exercises would start unseeded.
    func distilled() -> [Scenario] {
        var covered = Set<UInt64>()
        var features = Set<UInt64>()
        var chosen: [Int] = []
        var left = Array(corpus.indices)
        /// Greedy set cover: the entry adding the most uncovered features (or states) per unit of cost.
        func cover(features byFeatures: Bool) {
            while chosen.count < Self.distilledMax {
                var best: (index: Int, score: Double)? = nil
                for (k, i) in left.enumerated() {
                    let items = byFeatures ? corpus[i].features : corpus[i].states
                    let fresh = items.reduce(0) { $0 + ((byFeatures ? features : covered).contains($1) ? 0 : 1) }
                    guard fresh > 0 else { continue }
                    let score = Double(fresh) / max(0.25, Double(corpus[i].events) / max(1, meanEvents))
                    if best == nil || score > best!.score { best = (k, score) }
                }
                guard let best else { return }
                let i = left.remove(at: best.index)
                chosen.append(i)
                features.formUnion(corpus[i].features)
                covered.formUnion(corpus[i].states)
            }
        }
        cover(features: true)
        cover(features: false)
        return chosen.map { corpus[$0].scenario }
    }

    func renamed(_ s: Scenario, _ config: FuzzConfig, _ index: Int) -> Scenario {
        var s = s
        s.name = "fuzz-\(config.protocolKind.rawValue)-run-\(padded(index))"
        s.description = "bftsim fuzz --strategy guided --seed \(config.seed), run \(index)"
        return s
    }

    /// The probability that a post-seed run is a mutated child (`childShare`).
    var childProbability: Double {
        let child = childPayoff.mean, fresh = freshPayoff.mean
        return min(Self.childShare.upperBound, max(Self.childShare.lowerBound, child / (child + fresh)))
    }

    mutating func learn(index: Int, scenario: Scenario, novelty: Int, events: UInt64, states: [UInt64] = []) {
        folded += 1
        meanEvents += (Double(events) - meanEvents) / Double(folded)
        // The bandit's reward is new states per cost, capped at 1: an operator that finds states only by
        // making runs longer earns less than one that finds them in ordinary runs.
        let cost = max(1, Double(events) / max(1, meanEvents))
        let reward = novelty > 0 ? min(1, 1 / cost) : 0
        if let arm = planned.removeValue(forKey: index) {
            bandit.update(arm, reward: reward)
            childPayoff.add(reward)
        } else if plannedFresh.remove(index) != nil {
            freshPayoff.add(reward)
        }
        guard novelty > 0 else { return }
        corpus.append(CorpusEntry(scenario: scenario, novelty: novelty, events: events, states: states,
                                  features: ScheduleFeatures.of(scenario)))
        if corpus.count > Self.corpusMax {
            // AFL's favoured entries: the only entry carrying a schedule feature (a behaviour, a mutation
            // field, a fault kind, an n) stays, whatever its energy. Otherwise a rare behaviour's one entry
            // is evicted by cheaper runs and never reaches the distilled corpus (the HotStuff corpus
            // lost every fork-below-lock run that way).
            var holders: [UInt64: Int] = [:]
            for e in corpus { for f in e.features { holders[f, default: 0] += 1 } }
            let evictable = corpus.indices.filter { i in corpus[i].features.allSatisfy { holders[$0, default: 0] > 1 } }
            let pool = evictable.isEmpty ? Array(corpus.indices) : evictable
            let weakest = pool.min { corpus[$0].energy(meanEvents: meanEvents) < corpus[$1].energy(meanEvents: meanEvents) }!
            corpus.remove(at: weakest)
        }
    }
}

/// Runs of one source (fresh or child) and the reward they earned, for probability matching.
struct Payoff {
    var runs = 0
    var reward = 0.0
    /// Laplace-smoothed mean reward: a half before any run.
    var mean: Double { (reward + 1) / Double(runs + 2) }
    mutating func add(_ r: Double) { runs += 1; reward += r }
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
                let old = s.byzantine[i]
                // Every layer of that replica goes, so the new behaviour stays within the budget.
                s.byzantine.removeAll { $0.replica == old.replica }
                s.timeline.removeAll { if case .restart(let r, _) = $0.action { return r == old.replica && old.behaviour == "amnesia" } else { return false } }
                if s.parameters.leaderSchedule == [old.replica] { s.parameters.leaderSchedule = nil }
                var budget = FaultBudget(crashes: 0, byzantine: 1, faultyMax: config.budget(n: s.replicas).faultyMax)
                budget.faulty = Set(s.crashedReplicas).union(s.byzantineReplicas)
                ByzantineFault().inject(into: &s, budget: &budget, context: context, rng: &rng)
            }
        case .reseed:
            s.seed = DeterministicRNG.deriveSeed(config.seed, "reseed/\(index)")
        case .resize:
            let low = config.replicas, high = config.replicasUpper
            if high > low, s.twins == nil {
                var n = low + Int(rng.below(UInt64(high - low)))
                if n >= s.replicas { n += 1 }
                s = resized(s, to: n, budget: config.budget(n: n))
            } else {
                s.seed = DeterministicRNG.deriveSeed(config.seed, "reseed/\(index)")
            }
        }
        RunTemplate.seal(&s)
        return s
    }
}

extension Mutator {
    /// `s` with `n` replicas. Growing keeps every fault (a new replica joins no partition group, so it
    /// forms a group of its own, as unlisted replicas do). Shrinking drops whatever names a removed
    /// replica: Byzantine entries (with their targets and scripted recipients), timeline events, link
    /// overrides and leader-schedule slots; a partition loses the removed members and goes when fewer
    /// than two groups are left. Then faults past `budget` (the smaller n may have a smaller f) go, the
    /// highest-numbered faulty replica first.
    static func resized(_ parent: Scenario, to n: Int, budget: FaultBudget) -> Scenario {
        var s = parent
        s.replicas = n
        s.f = QuorumMath.maxFaulty(n: n)
        if n < parent.replicas {
            s.byzantine.removeAll { b in
                b.replica >= n || (b.targets ?? []).contains { $0 >= n } || (b.script ?? []).contains { $0.to.contains { $0 >= n } }
            }
            s.network.links.removeAll { $0.from >= n || $0.to >= n }
            if let schedule = s.parameters.leaderSchedule {
                let kept = schedule.filter { $0 < n }
                s.parameters.leaderSchedule = kept.isEmpty ? nil : kept
            }
            s.timeline = s.timeline.compactMap { e in
                var e = e
                if case .partition(let groups) = e.action {
                    let kept = groups.map { $0.filter { $0 < n } }.filter { !$0.isEmpty }
                    guard kept.count >= 2 || (kept.count == 1 && kept[0].count < n) else { return nil }
                    e.action = .partition(groups: kept)
                    return e
                }
                var probe = Scenario(name: "", protocolKind: s.protocolKind, replicas: n)
                probe.timeline = [e]
                return Shrinker.referencedReplicas(probe).allSatisfy { $0 < n } ? e : nil
            }
        }
        // Within the budget of the new n: drop the highest faulty replicas until it holds.
        while true {
            let crashed = s.crashedReplicas, byzantine = Set(s.byzantine.map(\.replica))
            let faulty = Set(crashed).union(s.byzantineReplicas)
            let overCrashes = crashed.count > budget.crashes, overByzantine = byzantine.count > budget.byzantine
            guard overCrashes || overByzantine || faulty.count > budget.faultyMax else { break }
            let victim = overCrashes ? crashed.max()! : overByzantine ? byzantine.max()! : faulty.max()!
            s.byzantine.removeAll { $0.replica == victim }
            s.timeline.removeAll { e in
                switch e.action {
                case .crash(let r), .restart(let r, _), .storageFault(let r, _): return r == victim
                default: return false
                }
            }
            if s.parameters.leaderSchedule == [victim] { s.parameters.leaderSchedule = nil }
        }
        return s
    }
}

/// Seed corpora: directories of scenario files a guided campaign starts from.
public enum SeedCorpus {
    /// Where the repository ships one corpus per protocol (`ROOT/PROTOCOL/*.yaml`).
    public static let shippedRoot = "Scenarios/corpus"

    /// Every `.yaml` file in `directory`, in name order. A file that does not parse is an error naming it.
    public static func load(directory: String) throws(FuzzError) -> [Scenario] {
        let names: [String]
        do { names = try FileManager.default.contentsOfDirectory(atPath: directory) } catch {
            throw .io("--corpus: cannot read \(directory): \(error.localizedDescription)")
        }
        var seeds: [Scenario] = []
        for name in names.sorted() where name.hasSuffix(".yaml") {
            do { seeds.append(try ScenarioLoader.load(path: directory + "/" + name)) } catch {
                throw .invalid("--corpus: \(error)")
            }
        }
        return seeds
    }

    /// The shipped corpus of `kind` under `root`, or none when the directory does not exist.
    public static func shipped(_ kind: ProtocolKind, root: String = shippedRoot) throws(FuzzError) -> [Scenario] {
        let dir = root + "/" + kind.rawValue
        var isDir: ObjCBool = false
        guard FileManager.default.fileExists(atPath: dir, isDirectory: &isDir), isDir.boolValue else { return [] }
        return try load(directory: dir)
    }
}
