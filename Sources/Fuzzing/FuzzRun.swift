import BFTCore
import Checkers
import Runner
import ScenarioFormat
import Simulation

/// What one fuzz run found, judged against what the protocol promises under the run's faults.
public struct RunVerdict: Sendable, Equatable {
    public var index: Int
    /// More replicas faulty (crashed or Byzantine) than f: violations are expected, not bugs.
    public var overThreshold: Bool
    /// Liveness is promised: not over-threshold and the leader rotation has enough consecutive correct leaders.
    public var livenessPromised: Bool
    /// The first violation that counts as a bug, if any.
    public var bug: Violation?
    /// Violations that do not count (over-threshold, or liveness where none is promised).
    public var excused: Int
    /// The scenario could not be built (for example a behaviour the protocol lacks).
    public var invalid: String?
    /// Sorted distinct coverage states the run reached (empty when coverage is off).
    public var states: [UInt64]
    /// Simulator events the run took (its cost; 0 when it could not be built).
    public var events: UInt64 = 0

    public var signature: String? { bug.map { FuzzRun.signature($0) } }
}

public enum FuzzRun {
    /// Events one fuzz run may process (ordinary runs need a few tens of thousands; a storm, millions).
    public static let eventsMax = 1_000_000

    /// Runs `scenario` with the mutant's driver (or the honest one), fastest trace mode, checkers on.
    public static func run(_ scenario: Scenario, index: Int = 0, mutant: TestMutant?, coverage: Bool) -> RunVerdict {
        let tracker = coverage ? CoverageTracker(replicas: scenario.replicas, features: ScheduleFeatures.of(scenario)) : nil
        let outcome: RunOutcome
        do {
            let driver = try TestMutant.driver(mutant, for: scenario.protocolKind)
            outcome = try ScenarioRun.execute(scenario, trace: .off, driver: driver, checkers: true,
                                              observer: tracker.map { t in { t.observe($0) } }, eventsMax: eventsMax)
        } catch {
            return RunVerdict(index: index, overThreshold: false, livenessPromised: false, bug: nil, excused: 0,
                              invalid: "\(error)", states: [])
        }
        let over = isOverThreshold(scenario)
        // Twins runs check safety only (Bano et al.): a round's partition of the nodes may hold for good.
        let live = promisesLiveness(scenario)
        var bug: Violation?
        var excused = 0
        var violations = outcome.checks.violations
        if outcome.simulation.stoppedBecause == .eventBudget {
            // A storm: the run did not reach its end within the budget, so liveness was never judged.
            violations.append(Violation(kind: .liveness, time: outcome.simulation.endTime, eventIndex: UInt64(eventsMax),
                                        source: nil, message: "stopped: event budget of \(eventsMax) events exhausted at "
                                            + "\(ScenarioLoader.formatDuration(outcome.simulation.endTime)) of simulated time (a message or timer storm)"))
        }
        for v in violations {
            let counts = v.kind == .liveness ? live : !over
            if counts, bug == nil { bug = v } else if !counts { excused += 1 }
        }
        return RunVerdict(index: index, overThreshold: over, livenessPromised: live, bug: bug, excused: excused, invalid: nil,
                          states: tracker.map { $0.allStates.sorted() } ?? [], events: outcome.simulation.eventsProcessed)
    }

    /// Whether the fault model promises liveness for this schedule: at most f faulty, a leader rotation
    /// with enough consecutive correct leaders, the network healed at the end, and no Twins (a round's
    /// partition may hold for good). Liveness violations of other runs are excused.
    public static func promisesLiveness(_ s: Scenario) -> Bool {
        // Twins runs check safety only (Bano et al.).
        !isOverThreshold(s) && leaderRotationAllowsProgress(s) && networkHealedAtEnd(s) && s.twins == nil
    }

    /// Why `promisesLiveness` is false, in words (for file headers).
    public static func livenessExcuse(_ s: Scenario) -> String {
        if isOverThreshold(s) { return "more than f replicas faulty" }
        if s.twins != nil { return "Twins: safety only" }
        if !leaderRotationAllowsProgress(s) { return "the leader rotation never has enough consecutive correct leaders" }
        if !networkHealedAtEnd(s) { return "a partition is never healed" }
        return "none"
    }

    /// Whether more than f replicas are faulty.
    public static func isOverThreshold(_ s: Scenario) -> Bool {
        Set(s.crashedReplicas).union(s.byzantineReplicas).count > s.f
    }

    /// Whether no partition or cut link is left in force after the timeline's last event. The checker
    /// measures liveness from the last timeline event, assuming it healed the network; a schedule whose
    /// partition is never healed (the shrinker may try one) promises no liveness.
    public static func networkHealedAtEnd(_ s: Scenario) -> Bool {
        var cut = false
        for e in s.timeline {
            switch e.action {
            case .partition(let groups): cut = cut || groups.count > 1 || groups.first.map { $0.count < s.replicas } ?? false
            case .isolate, .cutLink: cut = true
            case .heal: cut = false
            default: break
            }
        }
        return !cut
    }

    /// Progress needs a run of consecutive correct leaders in the rotation: one for PBFT (view changes
    /// skip a faulty primary), two for two-chain and three for chained HotStuff (their commit rules need
    /// certified blocks of consecutive views). A rotation that never has them (for example a Byzantine
    /// replica scripted to lead every view) promises no liveness, so liveness violations there are excused.
    public static func leaderRotationAllowsProgress(_ s: Scenario) -> Bool {
        let faulty = Set(s.crashedReplicas).union(s.byzantineReplicas)
        let needed: Int
        switch s.protocolKind {
        case .pbft: return true
        case .hotstuff: needed = 3
        case .hotstuffTwoChain: needed = 2
        }
        let schedule = s.parameters.leaderSchedule ?? Array(0..<s.replicas)
        let correct = schedule.map { !faulty.contains($0) }
        if correct.allSatisfy({ $0 }) { return true }
        var run = 0
        for c in correct + correct { run = c ? run + 1 : 0; if run >= needed { return true } }
        return false
    }

    /// Violation signature: the kind plus the shape of the message's first clause, with numbers,
    /// digests and parenthesised details normalised away, so the same bug at other sequences, times
    /// or replicas shares one signature.
    public static func signature(_ v: Violation) -> String {
        let clause = v.message.split(separator: ";", maxSplits: 1).first.map(String.init) ?? v.message
        var text = ""
        var depth = 0
        for ch in clause {
            if ch == "(" { depth += 1; continue }
            if ch == ")" { depth = max(0, depth - 1); continue }
            if depth == 0 { text.append(ch) }
        }
        var words: [String] = []
        for word in text.split(separator: " ", omittingEmptySubsequences: true) {
            // Digests print as 8+ hex digits (sometimes all decimal digits).
            let isHash = word.filter(\.isHexDigit).count >= 8 && word.allSatisfy { $0.isHexDigit || $0 == "…" || $0 == "," }
            if isHash { if words.last != "H" { words.append("H") }; continue }
            var w = ""
            var inNumber = false
            for ch in word {
                if ch.isNumber || (inNumber && ch == ".") {
                    if !inNumber { w.append("#") }
                    inNumber = true
                } else {
                    inNumber = false
                    w.append(ch)
                }
            }
            words.append(w)
        }
        return "\(v.kind.rawValue): " + words.joined(separator: " ")
    }

    /// Faults in a scenario, as the shrinker counts them: timeline events, Byzantine replicas, links with
    /// overrides, and network loss, duplication and jitter when present.
    public static func faultEventCount(_ s: Scenario) -> Int {
        s.timeline.count + s.byzantine.count + s.network.links.count + (s.twins?.replicas.count ?? 0)
            + (s.network.loss > 0 ? 1 : 0) + (s.network.duplication > 0 ? 1 : 0) + (s.network.jitter > 0 ? 1 : 0)
    }
}
